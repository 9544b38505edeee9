"""The regression gate: a run against the committed baseline, speed A/B against a base revision, calibration."""
