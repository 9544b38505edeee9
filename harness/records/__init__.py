"""Records on disk: the run record and the speed A/B record, validated on write and on read."""
