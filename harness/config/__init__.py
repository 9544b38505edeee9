"""What to run: suites (suites.toml or a user's file), model entries and the resolved run configuration."""
