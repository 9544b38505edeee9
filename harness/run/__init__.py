"""Running a configuration: data, model loading, timing in fresh processes, the environment fingerprint."""
