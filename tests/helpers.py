"""Test helpers: the lintel CLI as a user runs it, and images built once per session."""

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lintel.emulator.background import BackgroundEmulator as Emulator  # noqa: F401


def run_lintel(*args, timeout=120, check=True):
    """Run the lintel CLI as a user would; return the CompletedProcess (text mode)."""
    proc = subprocess.run([sys.executable, "-m", "lintel", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"lintel {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


@functools.cache
def built_image(board: str) -> Path:
    """The output folder of `lintel build --board BOARD`, built once per test session."""
    folder = Path(tempfile.mkdtemp(prefix=f"lintel-test-build-{board}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    run_lintel("build", "--board", board, "--out", folder)
    return folder
