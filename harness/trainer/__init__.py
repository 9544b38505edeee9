"""The project's trainer: recipes (TOML), patch data, losses, a resumable stage loop, multi-stage runs with
distillation and iterative pruning, exports, and torchrun DDP. Entry points live in ``harness.trainer.cli``."""
