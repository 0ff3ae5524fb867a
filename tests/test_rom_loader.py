"""The emulated ESP32-S3 ROM loader, driven by the real esptool (subprocess and library)."""

import hashlib
import random
import socket
import struct
import subprocess
import sys
import time

import pytest
from esptool.targets.esp32s3 import ESP32S3ROM
from esptool.util import FatalError

from lintel.emulator.flash import Flash
from lintel.emulator.rom_loader import RomLoader, checksum, slip_encode
from lintel.emulator.rom_registers import SPI1_BASE, RegisterMap

MIB = 1 << 20
MAC = bytes.fromhex("f412fa5c0a31")


class Board:
    """A RomLoader on a temporary flash file, with its callbacks recorded."""

    def __init__(self, path, size, fill):
        path.write_bytes(bytes([fill]) * size)
        self.cwd = path.parent
        self.flash = Flash(path)
        self.events: list[str] = []
        self.trace: list[str] = []
        self.loader = RomLoader(
            self.flash,
            MAC,
            on_enter=lambda: self.events.append("enter"),
            on_exit=lambda: self.events.append("exit"),
            trace=self.trace.append,
        )
        self.port = self.loader.serve()
        self.url = f"socket://127.0.0.1:{self.port}"

    def esptool(self, *args, ok=True, events=("enter", "exit")):
        """Run esptool once; check that the chip was entered and left exactly once."""
        self.events.clear()
        cmd = [sys.executable, "-m", "esptool", "--chip", "esp32s3", "--port", self.url]
        cmd += ["--before", "no-reset", "--after", "no-reset", *args]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=self.cwd)
        output = run.stdout + run.stderr
        assert (run.returncode == 0) == ok, output
        self.wait_events(list(events))
        return output

    def wait_events(self, expected):
        deadline = time.monotonic() + 5
        while self.events != expected and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.events == expected

    def contents(self, offset=0, length=None):
        return self.flash.read(offset, self.flash.size - offset if length is None else length)


@pytest.fixture
def make_board(tmp_path):
    boards = []

    def make(size=8 * MIB, fill=0xFF):
        board = Board(tmp_path / f"flash{len(boards)}.bin", size, fill)
        boards.append(board)
        return board

    yield make
    for board in boards:
        board.loader.close()
        board.flash.close()


@pytest.fixture
def board(make_board):
    return make_board()


def payload(size, seed=1):
    """Random bytes that deflate to about half (esptool only compresses when it helps)."""
    return random.Random(seed).randbytes(size).translate(bytes(range(16)) * 16)


def stub_args(stub):
    return [] if stub else ["--no-stub"]


def test_read_mac_prints_the_mac_the_emulator_was_given(board):
    out = board.esptool("read-mac")
    assert "MAC:                f4:12:fa:5c:0a:31" in out
    assert "Stub flasher running." in out
    assert any(line.startswith("send OHAI") for line in board.trace)


def test_chip_id_describes_an_esp32s3(board):
    out = board.esptool("--no-stub", "chip-id")
    assert "Connected to ESP32-S3" in out
    assert "Chip type:          ESP32-S3 (QFN56) (revision v0.2)" in out
    assert "f4:12:fa:5c:0a:31" in out


@pytest.mark.parametrize(("mib", "device"), [(8, "4017"), (16, "4018")])
@pytest.mark.parametrize("stub", [True, False])
def test_flash_id_reports_the_jedec_id_of_the_flash_size(make_board, mib, device, stub):
    out = make_board(size=mib * MIB).esptool(*stub_args(stub), "flash-id")
    assert "Manufacturer: c8" in out
    assert f"Device: {device}" in out
    assert f"Detected flash size: {mib}MB" in out
    assert "Failed to communicate with the flash chip" not in out


@pytest.mark.parametrize("stub", [True, False], ids=["stub", "rom"])
@pytest.mark.parametrize("compress", ["-z", "--no-compress"])
def test_write_flash_erases_whole_sectors_and_verifies(make_board, tmp_path, stub, compress):
    board = make_board(fill=0x00)  # not erased: a missing erase would show
    data = payload(96 * 1024 + 100)
    (tmp_path / "data.bin").write_bytes(data)
    offset = 0x10100  # not sector aligned on purpose
    out = board.esptool(*stub_args(stub), "write-flash", compress, hex(offset), "data.bin")
    assert "Hash of data verified." in out
    assert ("compressed)" in out) == (compress == "-z")
    end = offset + len(data)
    sector_end = -(-end // 0x1000) * 0x1000
    assert board.contents(offset, len(data)) == data
    assert board.contents(0x10000, 0x100) == b"\xff" * 0x100
    assert board.contents(end, sector_end - end) == b"\xff" * (sector_end - end)
    assert board.contents(0, 0x10000) == bytes(0x10000)
    assert board.contents(sector_end, 0x10000) == bytes(0x10000)


def test_read_flash_round_trip(board, tmp_path):
    data = payload(64 * 1024, seed=2)
    (tmp_path / "data.bin").write_bytes(data)
    board.esptool("--baud", "921600", "write-flash", "0x30000", "data.bin")
    board.esptool("read-flash", "0x30000", hex(len(data)), str(tmp_path / "stub.bin"))
    assert (tmp_path / "stub.bin").read_bytes() == data
    board.esptool("--no-stub", "read-flash", "0x30000", "0x2000", str(tmp_path / "rom.bin"))
    assert (tmp_path / "rom.bin").read_bytes() == data[:0x2000]


@pytest.mark.parametrize("stub", [True, False], ids=["stub", "rom"])
def test_erase_region_erases_only_the_region(make_board, stub):
    board = make_board(fill=0x5A)
    board.esptool(*stub_args(stub), "erase-region", "0x20000", "0x3000")
    assert board.contents(0x20000, 0x3000) == b"\xff" * 0x3000
    assert board.contents(0x1F000, 0x1000) == b"\x5a" * 0x1000
    assert board.contents(0x23000, 0x1000) == b"\x5a" * 0x1000


def test_erase_flash_erases_everything(make_board):
    board = make_board(fill=0x00)
    board.esptool("erase-flash")
    assert board.contents() == b"\xff" * board.flash.size


def test_verify_flash_uses_the_chip_md5(board, tmp_path):
    data = payload(40 * 1024, seed=3)
    board.flash.erase(0x40000, 0xB000)
    board.flash.write(0x40000, data)
    (tmp_path / "good.bin").write_bytes(data)
    (tmp_path / "bad.bin").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert "digest matched" in board.esptool("verify-flash", "0x40000", "good.bin")
    assert "digest matched" in board.esptool("--no-stub", "verify-flash", "0x40000", "good.bin")
    assert "Verification failed" in board.esptool("verify-flash", "0x40000", "bad.bin", ok=False)


def test_write_past_the_end_of_flash_fails(board, tmp_path):
    (tmp_path / "data.bin").write_bytes(payload(0x2000))
    out = board.esptool("write-flash", hex(board.flash.size - 0x1000), "data.bin", ok=False)
    assert "will not fit" in out
    assert board.contents(board.flash.size - 0x1000) == b"\xff" * 0x1000


@pytest.mark.parametrize(("stub", "status"), [(False, "0106"), (True, "C400")])
def test_chip_refuses_a_write_past_the_end(board, stub, status):
    """esptool's own size check skipped: the chip's error status comes back."""
    esp = ESP32S3ROM(board.url)
    try:
        esp.connect("no-reset")
        if stub:
            esp = esp.run_stub()
        with pytest.raises(FatalError, match=f"result was {status}"):
            esp.flash_begin(0x2000, board.flash.size - 0x1000)
        with pytest.raises(FatalError, match=f"result was {status}"):
            esp.flash_defl_begin(0x2000, 64, board.flash.size - 0x1000)
        assert esp.flash_md5sum(0, 0x1000) == hashlib.md5(b"\xff" * 0x1000).hexdigest()
    finally:
        esp._port.close()
    board.wait_events(["enter", "exit"])


@pytest.mark.parametrize("stub", [False, True], ids=["rom-flash-end", "stub-run-user-code"])
def test_leaving_the_loader_calls_on_exit_once(board, stub):
    esp = ESP32S3ROM(board.url)
    try:
        esp.connect("no-reset")
        if stub:
            esp = esp.run_stub()
            esp.command(esp.ESP_CMDS["RUN_USER_CODE"], wait_response=False)
        else:
            esp.run()  # FLASH_BEGIN(0, 0) + FLASH_END(run user code): the ROM leaves
        board.wait_events(["enter", "exit"])
        with pytest.raises(FatalError):  # the firmware runs now: no more answers
            esp.read_reg(0x60007044, timeout=0.2)
    finally:
        esp._port.close()
    time.sleep(0.1)
    assert board.events == ["enter", "exit"]


def request(op, data=b"", chk=0):
    return slip_encode(struct.pack("<BBHI", 0, op, len(data), chk) + data)


def read_frame(sock):
    buf = b""
    while buf.count(b"\xc0") < 2:
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        buf += chunk
    frame = buf[buf.index(b"\xc0") + 1 :]
    return frame[: frame.index(b"\xc0")].replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")


def test_garbage_and_disconnects_do_not_kill_the_server(board):
    with socket.create_connection(("127.0.0.1", board.port), timeout=5) as sock:
        sock.sendall(b"noise\x00\xff" + b"\xc0\x01\x02\xc0" + b"\xc0\xdb\x00\xc0")
        sock.sendall(slip_encode(struct.pack("<BBHI", 0, 0x0A, 9, 0) + b"\0\0\0\0"))
        assert read_frame(sock)[8:] == b"\x01\x05\x00\x00"  # size field mismatch
        sock.sendall(request(0x77))
        assert read_frame(sock) == struct.pack("<BBHI", 1, 0x77, 4, 0) + b"\x01\x05\x00\x00"
        sock.sendall(request(0x03, struct.pack("<IIII", 4, 0, 0, 0) + b"abcd"))
        assert read_frame(sock)[8:10] == b"\x01\x06"  # FLASH_DATA without FLASH_BEGIN
        sock.sendall(b"\xc0" + b"\x00" * (MIB + 4096))  # a frame that never ends is dropped
        sock.sendall(request(0x08, b"\x07\x07\x12\x20" + b"\x55" * 32))
        assert read_frame(sock)[:8] == struct.pack("<BBHI", 1, 0x08, 4, 0x20120707)
        sock.sendall(request(0x0A, struct.pack("<I", 0x60007044))[:7])  # then hang up
    board.wait_events(["enter", "exit"])
    assert "f4:12:fa:5c:0a:31" in board.esptool("--no-stub", "read-mac")


def test_callbacks_that_raise_are_contained(board):
    board.loader.on_enter = lambda: 1 / 0
    assert "f4:12:fa:5c:0a:31" in board.esptool("--no-stub", "read-mac", events=["exit"])
    assert any("on_enter callback failed" in line for line in board.trace)


def test_checksum_matches_esptool():
    data = payload(5000)
    assert checksum(data) == ESP32S3ROM.checksum(data)
    assert checksum(b"") == 0xEF


def test_spi_user_commands_reach_the_flash_chip(board):
    regs = RegisterMap(board.flash, MAC)

    def spi(cmd, addr=None, mosi=b"", miso_bits=0):
        user = 1 << 31 | (1 << 30 if addr is not None else 0)
        user |= (1 << 28 if miso_bits else 0) | (1 << 27 if mosi else 0)
        regs.write(SPI1_BASE + 0x18, user)
        regs.write(SPI1_BASE + 0x1C, 23 << 26)
        regs.write(SPI1_BASE + 0x20, 7 << 28 | cmd)
        regs.write(SPI1_BASE + 0x04, addr or 0)
        regs.write(SPI1_BASE + 0x24, len(mosi) * 8 - 1 if mosi else 0)
        regs.write(SPI1_BASE + 0x28, miso_bits - 1 if miso_bits else 0)
        for i, (word,) in enumerate(struct.iter_unpack("<I", mosi.ljust(-(-len(mosi) // 4) * 4))):
            regs.write(SPI1_BASE + 0x58 + 4 * i, word)
        regs.write(SPI1_BASE, 1 << 18)
        assert regs.read(SPI1_BASE) == 0
        return regs.read(SPI1_BASE + 0x58)

    assert spi(0x9F, miso_bits=24) == 0x1740C8
    spi(0x02, 0x1000, b"\x12\x34\x56\x78")  # no WREN: ignored, as on the chip
    assert spi(0x03, 0x1000, miso_bits=32) == 0xFFFFFFFF
    spi(0x06)
    assert spi(0x05, miso_bits=8) == 0x02  # WEL
    spi(0x02, 0x1000, b"\x12\x34\x56\x78")
    assert spi(0x03, 0x1000, miso_bits=32) == 0x78563412
    spi(0x06)
    spi(0x20, 0x1000)
    assert board.contents(0x1000, 4) == b"\xff" * 4
    assert spi(0x5A, 0, miso_bits=32) == 0x50444653  # "SFDP"
