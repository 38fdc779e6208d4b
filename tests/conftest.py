"""Shared fixtures: tiny models live in tests/tiny_models.py, the FD reference in fd_reference.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
