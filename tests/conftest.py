"""Test helpers (tiny_models, fd_reference, workflow, cli_failure, …) are plain modules of this folder,
importable through pytest's `pythonpath` (pyproject.toml), where the `slow` marker is registered too."""
