"""`lintel build`: determinism, the LittleFS image (read back and mounted by the real Unix-port
MicroPython), the flash layout, base firmware placement, and one-line errors."""

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from esp_images import merged_firmware

from lintel import FIRMWARE_DIR, boards, image, roots
from lintel.errors import LintelError
from lintel.partitions import TABLE_OFFSET, from_binary

BOARDS = ("esp32s3-epd75", "esp32s3-lcd43")
OUTPUTS = ("flash.bin", "romfs.bin", "vfs.bin", "partition-table.bin", "manifest.json")


def lintel(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "lintel", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def build_ok(*args):
    proc = lintel("build", *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def one_line_error(proc) -> str:
    """The CLI failed the way users should see it: exit 1, one stderr line, no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lintel: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def micropython_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("micropython")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("micropython")
    if found:
        return [found]
    return [sys.executable, "-m", "micropython_unix"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Each board built twice into different folders: {board: (out1, out2)}."""
    out = {}
    for board in BOARDS:
        a = tmp_path_factory.mktemp(f"{board}-a")
        b = tmp_path_factory.mktemp(f"{board}-b") / "nested" / "out"
        build_ok("--board", board, "--out", a)
        build_ok("--board", board, "--out", b)
        out[board] = (a, b)
    return out


@pytest.fixture
def small_firmware(tmp_path):
    """A little firmware tree of our own, independent of what firmware/ holds today."""
    fw = tmp_path / "fw"
    (fw / "app" / "ui").mkdir(parents=True)
    (fw / "drivers").mkdir()
    (fw / "main.py").write_text("import app.main\napp.main.start()\n")
    (fw / "boot.py").write_text("# boot\n")
    (fw / "app" / "__init__.py").write_text("")
    (fw / "app" / "main.py").write_text("def start():\n    return 42\n")
    (fw / "app" / "ui" / "__init__.py").write_text("WIDTH = 800\n")
    (fw / "drivers" / "__init__.py").write_text("")
    (fw / "drivers" / "epd.py").write_text("def busy(pin):\n    return pin.value() == 0\n")
    (fw / "app" / "font.bin").write_bytes(bytes(range(256)) * 4)
    (fw / "app" / "__pycache__").mkdir()
    (fw / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"junk")
    (fw / ".hidden.py").write_text("raise SystemExit\n")
    return fw


# ---- determinism and layout -------------------------------------------------------------

@pytest.mark.parametrize("board", BOARDS)
def test_two_builds_are_byte_identical(builds, board):
    a, b = builds[board]
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("board", BOARDS)
def test_flash_layout(builds, board):
    out = builds[board][0]
    b = boards.load(board)
    flash = (out / "flash.bin").read_bytes()
    romfs = (out / "romfs.bin").read_bytes()
    vfs = (out / "vfs.bin").read_bytes()
    table = (out / "partition-table.bin").read_bytes()
    assert len(flash) == b.flash_size
    assert from_binary(flash[TABLE_OFFSET:TABLE_OFFSET + 0xC00]) == list(b.partitions)
    assert flash[TABLE_OFFSET:TABLE_OFFSET + len(table)] == table
    assert romfs.startswith(image.ROMFS_HEADER) and len(romfs) == image.romfs_size(romfs[:8])
    assert flash[b.romfs.offset:b.romfs.offset + len(romfs)] == romfs
    assert flash[b.romfs.offset + len(romfs):b.romfs.end] == b"\xff" * (b.romfs.size - len(romfs))
    assert len(vfs) == b.vfs.size
    assert flash[b.vfs.offset:b.vfs.end] == vfs
    # no base firmware: everything else is erased flash
    assert flash[:TABLE_OFFSET] == b"\xff" * TABLE_OFFSET
    assert flash[TABLE_OFFSET + len(table):b.romfs.offset].count(0xFF) == (
        b.romfs.offset - TABLE_OFFSET - len(table))


@pytest.mark.parametrize("board", BOARDS)
def test_manifest(builds, board):
    out = builds[board][0]
    m = json.loads((out / "manifest.json").read_text())
    b = boards.load(board)
    assert m["board"] == board and m["micropython"] == "1.28.0"
    assert (m["mpy"]["version"], m["mpy"]["sub_version"]) == (6, 3)
    for part in m["parts"]:
        data = (out / part["file"]).read_bytes()
        assert part["size"] == len(data)
        assert part["sha256"] == hashlib.sha256(data).hexdigest()
    assert {p["name"]: p["offset"] for p in m["parts"]} == {
        "flash": 0, "partition-table": TABLE_OFFSET, "romfs": b.romfs.offset,
        "vfs": b.vfs.offset}
    assert m["commands"]["app"].endswith(
        f"write-flash 0x{b.romfs.offset:x} romfs.bin 0x{b.vfs.offset:x} vfs.bin")
    assert m["commands"]["full"].endswith("write-flash 0x0 flash.bin")
    text = (out / "manifest.json").read_text()
    assert str(out) not in text and str(FIRMWARE_DIR) not in text  # path-independent


# ---- the LittleFS image ------------------------------------------------------------------

def expected_names(fw: Path) -> set[str]:
    names = set()
    for p in fw.rglob("*.py"):
        rel = p.relative_to(fw).as_posix()
        if "__pycache__" in rel or any(part.startswith(".") for part in p.relative_to(fw).parts):
            continue
        names.add(rel if rel in ("main.py", "boot.py") else rel[:-3] + ".mpy")
    return names


def image_files(out) -> tuple[dict, dict]:
    """(the romfs image's files, the vfs image's files) of a build."""
    return (image.read_romfs((out / "romfs.bin").read_bytes()),
            image.read_vfs((out / "vfs.bin").read_bytes()))


def _leaves(doc, path=()):
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _leaves(value, path + (key,))
    else:
        yield path, doc


@pytest.mark.parametrize("board", BOARDS)
def test_image_holds_every_firmware_file_compiled(builds, board):
    out = builds[board][0]
    romfs, vfs = image_files(out)
    assert set(vfs) == {"main.py"}  # MicroPython runs it from "/"; all the rest is in the ROMFS
    assert expected_names(FIRMWARE_DIR) == (set(romfs) | set(vfs)) - {"board.json",
                                                                     "certs/roots.der"}
    for name, data in romfs.items():
        if name.endswith(".mpy"):
            assert data[:2] == b"M\x06", name
            assert data[2] == 0, f"{name} has native code"
    # The panel's part of the board file: each value it keeps is the board file's, and what
    # only people and the energy model read (sources, estimate flags, pin_notes,
    # power.figures) is not there to be parsed at every wake.
    panel, full = json.loads(romfs["board.json"]), boards.load(board).data
    kept = list(_leaves(panel))
    for path, value in kept:
        doc = full
        for key in path:
            doc = doc[key]
        assert doc == value, path
    assert not [p for p, _ in kept if p != ("power", "source") and any(
        k in ("source", "estimate", "description") or k.endswith("_source") for k in p)]
    assert "figures" not in panel["power"] and "figures" in full["power"]
    assert "pin_notes" not in panel and "pin_notes" in full
    assert panel["power"]["source"] == full["power"]["source"]  # battery or mains: data
    assert panel["pins"] == full["pins"] and panel["name"] == board
    assert len(romfs["board.json"]) < len(json.dumps(full)) / 2
    m = json.loads((out / "manifest.json").read_text())
    for section, files, at in (("romfs", romfs, "/rom/"), ("vfs", vfs, "/")):
        listed = {f["path"]: f for f in m[section]["files"]}
        assert set(listed) == {at + name for name in files}
        for name, data in files.items():
            assert listed[at + name]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_romfs_that_is_not_one_or_is_cut_short_is_an_error(builds):
    data = (builds["esp32s3-epd75"][0] / "romfs.bin").read_bytes()
    assert image.romfs_size(b"\xff" * 8) == 0  # erased flash: no image
    with pytest.raises(LintelError, match="no ROMFS image"):
        image.read_romfs(b"\xff" * 64)
    with pytest.raises(LintelError, match="longer than its partition"):
        image.read_romfs(data[:len(data) // 2])


def test_small_firmware_tree(tmp_path, small_firmware):
    out = tmp_path / "out"
    build_ok("--board", "esp32s3-epd75", "--out", out, "--firmware", small_firmware)
    files, vfs = image_files(out)
    assert set(vfs) == {"main.py", "boot.py"}
    assert set(files) == {
        "app/__init__.mpy", "app/main.mpy", "app/ui/__init__.mpy",
        "drivers/__init__.mpy", "drivers/epd.mpy", "app/font.bin", "board.json",
        "certs/roots.der"}
    assert vfs["main.py"] == (small_firmware / "main.py").read_bytes()
    assert files["app/font.bin"] == (small_firmware / "app" / "font.bin").read_bytes()
    # the source name inside the .mpy is relative to firmware/, not this temporary path
    assert b"drivers/epd.py" in files["drivers/epd.mpy"]
    assert str(tmp_path).encode() not in files["drivers/epd.mpy"]


def test_build_does_not_depend_on_where_the_tree_is(tmp_path, small_firmware):
    moved = tmp_path / "elsewhere" / "fw"
    shutil.copytree(small_firmware, moved)
    build_ok("--board", "esp32s3-epd75", "--out", tmp_path / "a", "--firmware", small_firmware)
    build_ok("--board", "esp32s3-epd75", "--out", tmp_path / "b", "--firmware", moved)
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


MOUNT_SCRIPT = textwrap.dedent("""
    import json, os, sys, vfs

    class FileBlockDevice:
        # The extended block protocol VfsLfs2 uses (MicroPython docs, "Block devices").
        def __init__(self, path, block_size=4096):
            self.f = open(path, "r+b")
            self.block_size = block_size
            self.f.seek(0, 2)
            self.blocks = self.f.tell() // block_size

        def readblocks(self, n, buf, off=0):
            self.f.seek(n * self.block_size + off)
            self.f.readinto(buf)

        def writeblocks(self, n, buf, off=None):
            self.f.seek(n * self.block_size + (off or 0))
            self.f.write(buf)

        def ioctl(self, op, arg):
            if op == 4:
                return self.blocks
            if op == 5:
                return self.block_size
            if op == 6:
                return 0

    vfs.mount(vfs.VfsLfs2(FileBlockDevice(sys.argv[1])), "/flash")
    with open(sys.argv[2], "rb") as f:
        vfs.mount(vfs.VfsRom(f.read()), "/rom")  # the whole partition, its erased tail too

    def walk(d, top):
        for name, kind, *_ in os.ilistdir(d):
            p = d + "/" + name
            if kind == 0x4000:
                yield from walk(p, top)
            else:
                yield p[len(top) + 1:], os.stat(p)[6]

    with open("/rom/board.json") as f:
        board = json.load(f)
    sys.path[:] = ["/rom"]  # as main.py sets it
    import app.version
    print(json.dumps({"vfs": dict(walk("/flash", "/flash")), "romfs": dict(walk("/rom", "/rom")),
                      "board": board["name"], "version": app.version.VERSION}))
""")


@pytest.mark.parametrize("board", BOARDS)
def test_unix_micropython_mounts_the_image(builds, board, tmp_path):
    out = builds[board][0]
    b = boards.load(board)
    vfs_copy = tmp_path / "vfs.bin"
    shutil.copyfile(out / "vfs.bin", vfs_copy)  # the mount may write; keep the build intact
    partition = tmp_path / "romfs-partition.bin"
    partition.write_bytes((out / "flash.bin").read_bytes()[b.romfs.offset:b.romfs.end])
    script = tmp_path / "mount.py"
    script.write_text(MOUNT_SCRIPT)
    proc = subprocess.run([*micropython_cmd(), str(script), str(vfs_copy), str(partition)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    # MicroPython's own VfsRom and VfsLfs2 see what lintel.image's readers see
    romfs, vfs = image_files(out)
    assert seen["romfs"] == {name: len(data) for name, data in romfs.items()}
    assert seen["vfs"] == {name: len(data) for name, data in vfs.items()}
    assert seen["board"] == board
    from lintel import __version__
    assert seen["version"] == __version__


# ---- the public roots ---------------------------------------------------------------------

def split_der(data: bytes) -> list[bytes]:
    """DER certificates one after another -> the certificates (long-form lengths only)."""
    out, at = [], 0
    while at < len(data):
        assert data[at] == 0x30 and data[at + 1] & 0x80, at
        count = data[at + 1] & 0x7F
        size = 2 + count + int.from_bytes(data[at + 2:at + 2 + count], "big")
        out.append(data[at:at + size])
        at += size
    assert at == len(data)
    return out


@pytest.mark.parametrize("board", BOARDS)
def test_image_carries_exactly_the_expected_roots(builds, board):
    out = builds[board][0]
    files = image.read_romfs((out / "romfs.bin").read_bytes())
    certs = split_der(files["certs/roots.der"])
    assert [hashlib.sha256(c).hexdigest() for c in certs] == [r.sha256 for r in roots.ROOTS]
    assert [hashlib.sha1(c).hexdigest() for c in certs] == [r.sha1 for r in roots.ROOTS]
    names = {r.name for r in roots.ROOTS}
    assert names == {
        "DigiCert Global Root G2", "DigiCert Global Root G3",
        "Microsoft RSA Root Certificate Authority 2017",
        "Microsoft ECC Root Certificate Authority 2017",
        "DigiCert TLS RSA4096 Root G5", "DigiCert TLS ECC P384 Root G5"}
    assert not names & {name for name, _ in roots.LEFT_OUT}


@pytest.mark.parametrize("board", BOARDS)
def test_manifest_lists_the_roots(builds, board):
    out = builds[board][0]
    m = json.loads((out / "manifest.json").read_text())
    data = image.read_romfs((out / "romfs.bin").read_bytes())["certs/roots.der"]
    section = m["roots"]
    assert section["file"] == "/rom/certs/roots.der" and section["size"] == len(data)
    assert section["sha256"] == hashlib.sha256(data).hexdigest()
    assert section["source"].startswith("certifi 20")
    listed = section["certificates"]
    assert [(c["name"], c["sha256"]) for c in listed] == [
        (r.name, r.sha256) for r in roots.ROOTS]
    for c in listed:
        der = data[c["offset"]:c["offset"] + c["size"]]
        assert hashlib.sha256(der).hexdigest() == c["sha256"]
        assert c["key"] in ("RSA 2048", "RSA 4096", "ECC P-384")
        assert set(c["clouds"]) <= set(roots.CLOUDS)
    assert {c["key"] for c in listed} == {"RSA 2048", "RSA 4096", "ECC P-384"}
    assert {x["name"] for x in section["left_out"]} == {
        "Baltimore CyberTrust Root", "DigiCert Global Root CA"}
    (entry,) = [f for f in m["romfs"]["files"] if f["path"] == "/rom/certs/roots.der"]
    assert entry["sha256"] == section["sha256"]
    assert entry["source"] == section["source"] + " (lintel/roots.py)"


def test_firmware_tree_cannot_bring_its_own_roots(tmp_path, small_firmware):
    (small_firmware / "certs").mkdir()
    (small_firmware / "certs" / "roots.der").write_bytes(b"\x30\x00")
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--firmware", small_firmware))
    assert "firmware/certs/roots.der would be overwritten" in line


# ---- base firmware -----------------------------------------------------------------------

def test_base_firmware_is_placed_at_zero(tmp_path):
    fw = tmp_path / "micropython.bin"
    raw = merged_firmware()
    fw.write_bytes(raw)
    out = tmp_path / "out"
    build_ok("--board", "esp32s3-epd75", "--out", out, "--base-firmware", fw)
    flash = (out / "flash.bin").read_bytes()
    b = boards.load("esp32s3-epd75")
    assert flash[:TABLE_OFFSET] == raw[:TABLE_OFFSET]  # 8 MiB board: header unchanged
    assert flash[0x10000:len(raw)] == raw[0x10000:]
    assert from_binary(flash[TABLE_OFFSET:TABLE_OFFSET + 0xC00]) == list(b.partitions)
    assert flash[TABLE_OFFSET + 0xC00:0x9000] == b"\xff" * 0x400
    m = json.loads((out / "manifest.json").read_text())
    assert m["base_firmware"] == {"file": "micropython.bin", "size": len(raw),
                                  "sha256": hashlib.sha256(raw).hexdigest(),
                                  "flash_size_was": None}


def test_base_firmware_flash_size_is_fixed_for_a_16mib_board(tmp_path):
    fw = tmp_path / "micropython.bin"
    fw.write_bytes(merged_firmware())
    out = tmp_path / "out"
    proc = build_ok("--board", "esp32s3-lcd43", "--out", out, "--base-firmware", fw)
    assert "8MB" in proc.stdout
    flash = (out / "flash.bin").read_bytes()
    assert flash[3] & 0xF0 == 0x40  # 16MB
    boot = flash[:image._image_end(flash, 0, "flash")]
    assert hashlib.sha256(boot[:-32]).digest() == boot[-32:]
    # esptool agrees the patched bootloader is valid (checksum and digest)
    (tmp_path / "boot.bin").write_bytes(boot)
    info = subprocess.run([sys.executable, "-m", "esptool", "--chip", "esp32s3",
                           "image-info", str(tmp_path / "boot.bin")],
                          capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stdout + info.stderr
    assert "16MB" in info.stdout
    assert "invalid" not in info.stdout.lower()


def test_flash_size_codes_match_esptool():
    from esptool.targets import ESP32S3ROM
    for size, code in image.FLASH_SIZE_CODES.items():
        assert ESP32S3ROM.FLASH_SIZES[f"{size >> 20}MB"] == code


@pytest.mark.parametrize("content, words", [
    (b"\x00" * 1000, "does not start with the ESP image magic 0xE9"),
    (b"", "does not start with the ESP image magic 0xE9"),
    (b"\xe9" + b"\x00" * 0x20000, "has no application image at 0x10000"),
    ("padded", "would overlap the cfg partition"),
])
def test_bad_base_firmware(tmp_path, content, words):
    fw = tmp_path / "fw.bin"
    if content == "padded":  # a good image with junk running into the cfg partition
        content = merged_firmware().ljust(0x3C0000 + 1, b"\x00")
    fw.write_bytes(content)
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--base-firmware", fw))
    assert words in line


def test_base_firmware_without_romfs_support_is_refused(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(merged_firmware(romfs=False))
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--base-firmware", fw))
    assert "has no ROMFS support (vfs.VfsRom)" in line and "MICROPY_VFS_ROM" in line


def test_base_firmware_for_another_layout(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(merged_firmware(table_app_offset=0x20000))
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--base-firmware", fw))
    assert "app partition at 0x20000" in line


def test_base_firmware_app_too_big_for_factory(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(merged_firmware(app_size=0x3F0000))
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--base-firmware", fw))
    assert "larger than the board's 'factory' partition" in line


def test_missing_base_firmware(tmp_path):
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--base-firmware", tmp_path / "nope.bin"))
    assert "cannot read base firmware" in line


# ---- errors ------------------------------------------------------------------------------

def test_unknown_board(tmp_path):
    line = one_line_error(lintel("build", "--board", "esp32s3-nope", "--out", tmp_path))
    assert "unknown board 'esp32s3-nope'" in line and "esp32s3-epd75" in line


def test_missing_firmware_dir(tmp_path):
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--firmware", tmp_path / "nothing"))
    assert "does not exist" in line


def test_syntax_error_names_file_and_line(tmp_path, small_firmware):
    (small_firmware / "drivers" / "epd.py").write_text("def ok():\n    pass\n\nx = (\n")
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--firmware", small_firmware))
    assert "firmware/drivers/epd.py line 5" in line and "SyntaxError" in line


def test_native_code_is_refused(tmp_path, small_firmware):
    (small_firmware / "app" / "fast.py").write_text(
        "import micropython\n@micropython.native\ndef f():\n    return 1\n")
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--firmware", small_firmware))
    assert "firmware/app/fast.py" in line


def test_wrong_mpy_cross_version(tmp_path, small_firmware):
    fake = tmp_path / "mpy-cross"
    fake.write_text("#!/bin/sh\necho 'MicroPython v1.21.0 on 2023-10-05; "
                    "mpy-cross emitting mpy v6.2'\n")
    fake.chmod(0o755)
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", tmp_path / "o",
                                 "--firmware", small_firmware, "--mpy-cross", fake))
    assert "emits .mpy v6.2" in line and "needs v6.3" in line


def test_image_too_big_for_the_partition(tmp_path, small_firmware):
    board = json.loads((boards.load("esp32s3-epd75").path).read_text())
    (romfs,) = [p for p in board["flash"]["partitions"] if p["name"] == "romfs"]
    romfs["size"] = "0x10000"  # 64 KiB
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    (small_firmware / "app" / "big.bin").write_bytes(bytes(range(256)) * 400)  # 100 KiB
    line = one_line_error(lintel("build", "--board", path, "--out", tmp_path / "o",
                                 "--firmware", small_firmware))
    assert "does not fit the 64 KiB romfs partition" in line


def test_unwritable_out_dir(tmp_path, small_firmware):
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = one_line_error(lintel("build", "--board", "esp32s3-epd75", "--out", blocker / "x",
                                 "--firmware", small_firmware))
    assert "cannot write to" in line
