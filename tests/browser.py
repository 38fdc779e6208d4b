"""Headless Chromium for the report tests: screenshot a page and collect its console errors."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--hide-scrollbars",
)


def chromium() -> str:
    """The browser binary, or skip saying how to get one (.ci/run installs Debian's chromium)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium on PATH (apt-get install chromium); .ci/run installs it")


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 3000) -> list[str]:
    """Render ``page`` to ``out`` (PNG); return every console message the page produced."""
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={width},{height}",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0 and out.is_file(), done.stderr[-2000:]
    # Headless Chromium logs every console message (log, error, uncaught exception, failed load)
    # as "...:INFO:CONSOLE:<line>] "text", source: ...", without telling the levels apart. The
    # report has no scripts, so any message at all is a fault.
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
