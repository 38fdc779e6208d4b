"""Where the real test sets live (../shared/data beside the repo); tests skip when it is absent."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_file(relative: str) -> Path:
    """Path of a shared data file, or skip the test saying what is missing."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"{path} not found: the real test sets live in ../shared/data, absent in a fresh clone")
    return path
