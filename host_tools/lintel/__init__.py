"""Lintel host tools: build, flash, provision and emulate meeting-room door panels."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = ROOT / "firmware"
BOARD_DIR = ROOT / "board"


def _read_version() -> str:
    # The firmware's version file is the single source of truth.
    text = (FIRMWARE_DIR / "app" / "version.py").read_text()
    return text.split('VERSION = "', 1)[1].split('"', 1)[0]


__version__ = _read_version()
