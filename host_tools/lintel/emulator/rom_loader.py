"""An emulated ESP32-S3 serial ROM loader, and the esptool flasher stub it can turn into.

Unmodified esptool talks to it over `socket://HOST:PORT` with `--before no-reset`: SLIP
framed requests in, responses out, the stub upload (MEM_BEGIN/MEM_DATA/MEM_END, then the
"OHAI" greeting) and every flash command esptool uses, applied to a `Flash` file.

Sources for the protocol facts (no code is taken from them):
- Espressif, esptool docs "Serial Protocol" (docs/en/advanced-topics/serial-protocol.rst):
  packet layout, status bytes (4 for the ROM, 2 for the stub), ROM error values, checksum;
- esptool 5.6 `loader.py` (ESP_CMDS, command(), check_command(), sync(), flash_*(),
  read_flash()), `targets/esp32s3.py` (chip id, eFuse layout, SPI registers), `cmds.py`;
- esp-flasher-stub `src/command_handler.c` / `src/commands.h` (the stub esptool 5 uploads
  from targets/stub_flasher/2): stub response codes, SYNC echo, READ_FLASH flow.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import zlib
from collections import deque
from collections.abc import Callable

from lintel.emulator.flash import SECTOR, Flash
from lintel.emulator.rom_registers import RegisterMap

CHIP_ID = 9  # esptool ESP32S3ROM.IMAGE_CHIP_ID, reported by GET_SECURITY_INFO
SECURITY_API_VERSION = 0  # GET_SECURITY_INFO's last word (eco/api version)
SECURITY_FLAGS = 0  # no secure boot, no secure download mode, JTAG/USB enabled
CHECKSUM_SEED = 0xEF  # serial-protocol.rst "Checksum"; esptool ESP_CHECKSUM_MAGIC
SYNC_PAYLOAD = b"\x07\x07\x12\x20" + b"\x55" * 32  # serial-protocol.rst SYNC; esptool sync()
ROM_SYNC_VALUE = 0x20120707  # ROM answers SYNC with this value (esptool issue traces:
#                              "01 08 04 00 07 07 12 20 ..."); the stub answers with 0
SYNC_RESPONSES = 8  # ROM and stub both send eight SYNC responses (command_handler.c s_sync)
STUB_HELLO = b"OHAI"  # serial-protocol.rst: the stub's one unsolicited frame
ROM_STATUS_LEN, STUB_STATUS_LEN = 4, 2  # serial-protocol.rst "Status bytes"
ROM_ERR_INVALID, ROM_ERR_FAILED, ROM_ERR_CHECKSUM = 0x05, 0x06, 0x07  # "ROM Loader Errors"
ROM_ERR_FLASH_READ, ROM_ERR_READ_LEN, ROM_ERR_DEFLATE = 0x09, 0x0A, 0x0B
ROM_ERR_RAM_ADDRESS = 0x0F  # esptool util.py err_defs 0x10F "Invalid RAM binary address"
STUB_BAD_LEN, STUB_BAD_CHECKSUM, STUB_INVALID_CMD = 0xC0, 0xC1, 0xC3  # commands.h, high byte
STUB_FAILED_SPI, STUB_NOT_IN_FLASH_MODE, STUB_INFLATE = 0xC4, 0xC6, 0xC7
STUB_NOT_ENOUGH_DATA, STUB_TOO_MUCH_DATA = 0xC8, 0xC9
ROM_READ_BLOCK = 64  # READ_FLASH_SLOW block, esptool ESP32ROM.read_flash_slow BLOCK_LEN
RAM_REGIONS = [  # esptool ESP32S3ROM.MEMORY_MAP: DRAM, IRAM, RTC fast, RTC slow memory
    (0x3FC88000, 0x3FD00000), (0x40370000, 0x403E0000),
    (0x600FE000, 0x60100000), (0x50000000, 0x50002000),
]  # fmt: skip
READ_FLASH_MAX_WINDOW = 64  # stub READ_FLASH: most un-acked packets honoured
READ_ACK_TIMEOUT = 10.0  # seconds to wait for a READ_FLASH ack before giving up
MAX_FRAME = 1 << 20  # a frame longer than this (after escaping) is garbage and dropped
INFLATE_CHUNK = 1 << 20


def checksum(data: bytes, state: int = CHECKSUM_SEED) -> int:
    """XOR of all bytes into the seed, folded in C-speed big-integer halves."""
    if not data:
        return state
    x = int.from_bytes(data, "little")
    width = 8 << (len(data) - 1).bit_length()
    while width > 8:
        width //= 2
        x = (x >> width) ^ (x & ((1 << width) - 1))
    return (x ^ state) & 0xFF


def _name(op: int) -> str:
    return COMMANDS.get(op, ("UNKNOWN",))[0]


def slip_encode(payload: bytes) -> bytes:
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def slip_decode(raw: bytes) -> bytes | None:
    """Undo SLIP escaping; None if an 0xDB is not followed by 0xDC or 0xDD."""
    if raw.count(b"\xdb") != raw.count(b"\xdb\xdc") + raw.count(b"\xdb\xdd"):
        return None
    return raw.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")


class _FrameReader:
    """SLIP frames from a socket; bytes outside frames and bad escapes are dropped."""

    def __init__(self, sock: socket.socket, trace: Callable[[str], None]):
        self.sock, self.trace = sock, trace
        self.buf = bytearray()
        self.pushed: deque[bytes] = deque()

    def next_frame(self, timeout: float | None = None) -> bytes | None:
        """The next frame; None on timeout; EOFError when the peer has gone."""
        if self.pushed:
            return self.pushed.popleft()
        while (frame := self._extract()) is None:
            if len(self.buf) > MAX_FRAME:  # no frame end in sight: drop the partial frame
                self.trace(f"drop {len(self.buf)} bytes without a frame end")
                self.buf.clear()
            self.sock.settimeout(timeout)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise EOFError
            self.buf += chunk
        return frame

    def _extract(self) -> bytes | None:
        while True:
            start = self.buf.find(0xC0)
            if start < 0:
                self.buf.clear()
                return None
            del self.buf[:start]
            end = self.buf.find(0xC0, 1)
            if end < 0:
                return None
            raw = bytes(self.buf[1:end])
            del self.buf[:end]  # the closing 0xC0 may also open the next frame
            frame = slip_decode(raw) if 0 < len(raw) <= MAX_FRAME else None
            if frame is not None:
                return frame
            if raw:
                self.trace(f"drop a {len(raw)}-byte frame: too long or a bad SLIP escape")


class CommandError(Exception):
    """A request the chip refuses: the ROM's error value and the stub's response code."""

    def __init__(self, rom: int, stub: int, why: str):
        super().__init__(why)
        self.rom, self.stub = rom, stub


def _bad_length() -> CommandError:
    return CommandError(ROM_ERR_INVALID, STUB_BAD_LEN, "bad data length")


def _unpack(fmt: str, data: bytes, *, exact: bool = True) -> tuple:
    size = struct.calcsize(fmt)
    if len(data) < size or (exact and len(data) != size):
        raise _bad_length()
    return struct.unpack_from(fmt, data)


def _ack(*sizes: int) -> Callable[..., tuple[int, bytes]]:
    """A handler for commands with nothing to emulate beyond checking their length."""

    def handler(session: _Session, data: bytes, chk: int) -> tuple[int, bytes]:
        if len(data) not in sizes:
            raise _bad_length()
        return 0, b""

    return handler


class _FlashWrite:
    """An open FLASH_BEGIN / FLASH_DEFL_BEGIN transfer."""

    def __init__(self, offset: int, size: int, compressed: bool):
        self.offset = offset  # where the next byte goes
        self.remaining = size  # bytes the stub still expects (it clips to this)
        self.erased_to = offset - offset % SECTOR  # the stub erases just in time
        self.seq = 0
        self.inflater = zlib.decompressobj() if compressed else None


class _Session:
    """One client connection: the chip after a reset into download mode."""

    def __init__(self, loader: RomLoader, sock: socket.socket):
        self.loader, self.sock, self.flash = loader, sock, loader.flash
        self.reader = _FrameReader(sock, loader._trace)
        self.regs = RegisterMap(self.flash, loader.mac)
        self.stub = False  # True once the flasher stub "runs"
        self.entered = self.detached = False
        self.flash_limit = self.flash.size  # SPI_SET_PARAMS total size, capped to the chip
        self.write: _FlashWrite | None = None
        self.mem_remaining: int | None = None
        self.mem_seq = 0
        self.after: Callable[[], None] | None = None

    # --- the connection ---------------------------------------------------------------
    def run(self) -> None:
        try:
            while True:
                frame = self.reader.next_frame()
                if self.detached:
                    self.loader._trace(f"ignore {len(frame)}-byte frame: loader has exited")
                else:
                    self._handle(frame)
        except (EOFError, OSError):
            pass
        finally:
            self.loader._trace("client disconnected")
            if self.entered and not self.detached:
                self._leave(notify=not self.loader._stopping.is_set())

    def _send(self, payload: bytes, what: str) -> None:
        self.loader._trace(what)
        self.sock.sendall(slip_encode(payload))

    def _respond(self, op: int, value: int = 0, data: bytes = b"", err: CommandError | None = None):
        if err is None:
            status = bytes(STUB_STATUS_LEN if self.stub else ROM_STATUS_LEN)
        else:
            status = bytes([err.stub, 0]) if self.stub else bytes([1, err.rom, 0, 0])
            data = b""
        body = data + status
        text = "ok" if err is None else f"error {status.hex()} ({err})"
        shown = f" value=0x{value:08x}" if value else ""
        self._send(
            struct.pack("<BBHI", 1, op, len(body), value) + body,
            f"send {_name(op)} (0x{op:02x}) len={len(body)}{shown} status={text}",
        )

    def _leave(self, notify: bool = True) -> None:
        """The loader stops talking: the chip runs the firmware in flash."""
        self.detached = True
        self.flash.sync()
        if notify and self.loader.on_exit is not None:
            self.loader._call(self.loader.on_exit, "on_exit")

    # --- dispatch -------------------------------------------------------------------------
    def _handle(self, frame: bytes) -> None:
        if len(frame) < 8:
            self.loader._trace(f"ignore {len(frame)}-byte frame: shorter than a header")
            return
        direction, op, size, chk = struct.unpack_from("<BBHI", frame)
        data = frame[8:]
        name, handler = COMMANDS.get(op, ("UNKNOWN", None))
        if direction != 0:
            self.loader._trace(f"ignore frame with direction 0x{direction:02x}")
            return
        self.loader._trace(f"recv {name} (0x{op:02x}) len={len(data)}")
        if size != len(data):
            self._respond(op, err=CommandError(ROM_ERR_INVALID, STUB_BAD_LEN, "size mismatch"))
            return
        if not self.entered:
            self.entered = True
            if self.loader.on_enter is not None:
                self.loader._call(self.loader.on_enter, "on_enter")
        if handler is None or (self.stub and op in ROM_ONLY) or (not self.stub and op in STUB_ONLY):
            self._respond(op, err=CommandError(ROM_ERR_INVALID, STUB_INVALID_CMD, "unsupported"))
            return
        self.after = None
        try:
            result = handler(self, data, chk)
        except CommandError as err:
            self._respond(op, err=err)
            return
        except Exception as exc:  # a flash error or a bug: the chip says "failed", lives on
            self.loader._trace(f"{name} failed: {exc!r}")
            self._respond(op, err=CommandError(ROM_ERR_FAILED, STUB_FAILED_SPI, str(exc)))
            return
        if result is not None:  # RUN_USER_CODE sends no response
            self._respond(op, *result)
        if self.after is not None:
            self.after()

    # --- handshake, registers, configuration ----------------------------------------------
    def _sync(self, data: bytes, chk: int):
        if data != SYNC_PAYLOAD:
            raise _bad_length()
        value = 0 if self.stub else ROM_SYNC_VALUE
        self.after = lambda: [self._respond(0x08, value) for _ in range(SYNC_RESPONSES - 1)]
        return value, b""

    def _read_reg(self, data: bytes, chk: int):
        (addr,) = _unpack("<I", data)
        return self.regs.read(addr), b""

    def _write_reg(self, data: bytes, chk: int):
        if not data or len(data) % 16:
            raise CommandError(ROM_ERR_INVALID, STUB_NOT_ENOUGH_DATA, "bad WRITE_REG length")
        for addr, value, mask, _delay_us in struct.iter_unpack("<IIII", data):
            self.regs.write(addr, value, mask)
        return 0, b""

    def _spi_set_params(self, data: bytes, chk: int):
        _fl_id, total_size, _block, _sector, _page, _mask = _unpack("<6I", data)
        self.flash_limit = min(total_size, self.flash.size)
        return 0, b""

    def _security_info(self, data: bytes, chk: int):
        _unpack("", data)
        info = struct.pack("<IB7BII", SECURITY_FLAGS, 0, *bytes(7), CHIP_ID, SECURITY_API_VERSION)
        return 0, info

    # --- RAM download (the stub upload) -------------------------------------------------------
    def _mem_begin(self, data: bytes, chk: int):
        size, _blocks, _block_size, offset = _unpack("<IIII", data)
        in_ram = any(lo <= offset and offset + size <= hi for lo, hi in RAM_REGIONS)
        if not self.stub and not in_ram:
            raise CommandError(ROM_ERR_RAM_ADDRESS, STUB_FAILED_SPI, "not a RAM address")
        self.mem_remaining, self.mem_seq = size, 0
        return 0, b""

    def _mem_data(self, data: bytes, chk: int):
        payload = self._data_block(data, chk, self.mem_seq, self.mem_remaining is not None)
        if len(payload) > self.mem_remaining:
            raise CommandError(ROM_ERR_INVALID, STUB_TOO_MUCH_DATA, "more data than MEM_BEGIN")
        self.mem_remaining -= len(payload)
        self.mem_seq += 1
        return 0, b""

    def _mem_end(self, data: bytes, chk: int):
        no_execute, entry = _unpack("<II", data)
        if self.mem_remaining is None:
            raise CommandError(ROM_ERR_FAILED, STUB_NOT_IN_FLASH_MODE, "no MEM_BEGIN")
        self.mem_remaining = None
        if not no_execute and entry and not self.stub:
            self.after = self._start_stub
        return 0, b""

    def _start_stub(self) -> None:
        self.stub = True
        self._send(STUB_HELLO, "send OHAI (flasher stub running)")

    # --- flash writes -------------------------------------------------------------------------
    def _data_block(self, data: bytes, chk: int, seq: int, open_: bool) -> bytes:
        """Check a *_DATA packet (length, sequence, checksum); return its payload."""
        if len(data) < 16:
            raise CommandError(ROM_ERR_INVALID, STUB_NOT_ENOUGH_DATA, "short data header")
        if not open_:
            raise CommandError(ROM_ERR_FAILED, STUB_NOT_IN_FLASH_MODE, "no *_BEGIN")
        length, got_seq = struct.unpack_from("<II", data)
        payload = data[16:]
        if length != len(payload):
            raise CommandError(ROM_ERR_INVALID, STUB_TOO_MUCH_DATA, "length field mismatch")
        if got_seq != seq:
            raise CommandError(ROM_ERR_INVALID, STUB_BAD_LEN, f"sequence {got_seq} != {seq}")
        if checksum(payload) != chk & 0xFF:
            raise CommandError(ROM_ERR_CHECKSUM, STUB_BAD_CHECKSUM, "checksum mismatch")
        return payload

    def _begin(self, data: bytes, compressed: bool):
        size, _blocks, _block_size, offset, *encrypted = _unpack("<IIII", data, exact=False)
        if len(data) not in (16, 20):
            raise _bad_length()
        if encrypted and encrypted[0]:
            raise CommandError(ROM_ERR_FAILED, STUB_FAILED_SPI, "no flash encryption key")
        if offset + size > self.flash_limit:
            raise CommandError(ROM_ERR_FAILED, STUB_FAILED_SPI, "past the end of flash")
        self.write = _FlashWrite(offset, size, compressed)
        if not self.stub and size:  # the ROM erases the whole region up front
            start = offset - offset % SECTOR
            self.flash.erase(start, -(-(offset + size) // SECTOR) * SECTOR - start)
        return 0, b""

    def _flash_begin(self, data: bytes, chk: int):
        return self._begin(data, compressed=False)

    def _flash_defl_begin(self, data: bytes, chk: int):
        return self._begin(data, compressed=True)

    def _flash_data(self, data: bytes, chk: int, compressed: bool = False):
        w = self.write
        is_open = w is not None and (w.inflater is not None) == compressed
        payload = self._data_block(data, chk, w.seq if w else 0, is_open)
        if not compressed:
            self._write_out(payload)
        else:
            try:
                while payload:
                    self._write_out(w.inflater.decompress(payload, INFLATE_CHUNK))
                    payload = w.inflater.unconsumed_tail
            except zlib.error as exc:
                raise CommandError(ROM_ERR_DEFLATE, STUB_INFLATE, f"inflate: {exc}") from None
        w.seq += 1
        return 0, b""

    def _flash_defl_data(self, data: bytes, chk: int):
        return self._flash_data(data, chk, compressed=True)

    def _write_out(self, chunk: bytes) -> None:
        w = self.write
        if self.stub:
            chunk = chunk[: w.remaining]  # the stub writes exactly the announced size
            end = -(-(w.offset + len(chunk)) // SECTOR) * SECTOR
            if end > w.erased_to:
                self.flash.erase(w.erased_to, end - w.erased_to)
                w.erased_to = end
        elif w.offset + len(chunk) > self.flash_limit:
            keep = max(0, self.flash_limit - w.offset)  # 0xFF padding past the end is harmless
            if chunk[keep:].count(0xFF) != len(chunk) - keep:
                raise CommandError(ROM_ERR_FAILED, STUB_FAILED_SPI, "past the end of flash")
            chunk = chunk[:keep]
        if chunk:
            self.flash.write(w.offset, chunk)
        w.offset += len(chunk)
        w.remaining = max(0, w.remaining - len(chunk))

    def _flash_end(self, data: bytes, chk: int):
        _unpack("<I", data)
        if not self.stub:  # the ROM leaves the loader: reboot (0) or run the app (1)
            self.write = None
            self.after = self._leave
            return 0, b""
        if self.write is None:
            raise CommandError(ROM_ERR_FAILED, STUB_NOT_IN_FLASH_MODE, "no FLASH_BEGIN")
        if self.write.remaining:
            raise CommandError(ROM_ERR_FAILED, STUB_BAD_LEN, "transfer incomplete")
        self.write = None  # esp-flasher-stub stays running whatever run_user_code says
        return 0, b""

    # --- flash reads and erases -----------------------------------------------------------
    def _check_range(self, offset: int, length: int, rom_err: int = ROM_ERR_FAILED) -> None:
        if offset + length > self.flash.size:
            raise CommandError(rom_err, STUB_FAILED_SPI, "past the end of flash")

    def _md5(self, data: bytes, chk: int):
        addr, size, _, _ = _unpack("<IIII", data)
        self._check_range(addr, size, ROM_ERR_FLASH_READ)
        digest = hashlib.md5()
        for pos in range(addr, addr + size, 1 << 20):
            digest.update(self.flash.read(pos, min(1 << 20, addr + size - pos)))
        return 0, digest.digest() if self.stub else digest.hexdigest().encode()

    def _read_flash_slow(self, data: bytes, chk: int):
        offset, length = _unpack("<II", data)
        if length > ROM_READ_BLOCK:
            raise CommandError(ROM_ERR_READ_LEN, STUB_BAD_LEN, "longer than 64 bytes")
        self._check_range(offset, length, ROM_ERR_FLASH_READ)
        return 0, self.flash.read(offset, length).ljust(ROM_READ_BLOCK, b"\xff")

    def _read_flash(self, data: bytes, chk: int):
        offset, length, packet, window = _unpack("<IIII", data)
        if not 0 < packet <= 0x10000:
            raise _bad_length()
        self._check_range(offset, length)
        window = max(1, min(window, READ_FLASH_MAX_WINDOW))
        self.after = lambda: self._stream_flash(offset, length, packet, window)
        return 0, b""

    def _stream_flash(self, offset: int, length: int, packet: int, window: int) -> None:
        """Stub READ_FLASH: data frames, at most `window` un-acked; then the raw MD5."""
        digest, sent, acked, in_flight = hashlib.md5(), 0, 0, 0
        while acked < length:
            while sent < length and in_flight < window:
                chunk = self.flash.read(offset + sent, min(packet, length - sent))
                digest.update(chunk)
                self._send(chunk, f"send READ_FLASH data {len(chunk)} bytes at 0x{offset + sent:x}")
                sent, in_flight = sent + len(chunk), in_flight + 1
            ack = self.reader.next_frame(timeout=READ_ACK_TIMEOUT)
            if ack is None or len(ack) != 4:
                self.loader._trace("READ_FLASH: no ack from the host, stopping")
                if ack is not None:
                    self.reader.pushed.append(ack)
                break
            acked, in_flight = struct.unpack("<I", ack)[0], in_flight - 1
        self._send(digest.digest(), "send READ_FLASH md5")

    def _erase_flash(self, data: bytes, chk: int):
        self.flash.erase(0, self.flash.size)
        return 0, b""

    def _erase_region(self, data: bytes, chk: int):
        offset, size = _unpack("<II", data)
        if offset % SECTOR or size % SECTOR:
            raise CommandError(ROM_ERR_INVALID, STUB_BAD_LEN, "not sector aligned")
        self._check_range(offset, size)
        self.flash.erase(offset, size)
        return 0, b""

    def _run_user_code(self, data: bytes, chk: int):
        self._leave()
        return None


Handler = Callable[[_Session, bytes, int], "tuple[int, bytes] | None"]
COMMANDS: dict[int, tuple[str, Handler]] = {  # opcodes and names: esptool ESP_CMDS
    0x02: ("FLASH_BEGIN", _Session._flash_begin),
    0x03: ("FLASH_DATA", _Session._flash_data),
    0x04: ("FLASH_END", _Session._flash_end),
    0x05: ("MEM_BEGIN", _Session._mem_begin),
    0x06: ("MEM_END", _Session._mem_end),
    0x07: ("MEM_DATA", _Session._mem_data),
    0x08: ("SYNC", _Session._sync),
    0x09: ("WRITE_REG", _Session._write_reg),
    0x0A: ("READ_REG", _Session._read_reg),
    0x0B: ("SPI_SET_PARAMS", _Session._spi_set_params),
    0x0D: ("SPI_ATTACH", _ack(4, 8)),  # 8 bytes to the ROM, 4 to the stub
    0x0E: ("READ_FLASH_SLOW", _Session._read_flash_slow),
    0x0F: ("CHANGE_BAUDRATE", _ack(8)),  # a socket has no baud rate
    0x10: ("FLASH_DEFL_BEGIN", _Session._flash_defl_begin),
    0x11: ("FLASH_DEFL_DATA", _Session._flash_defl_data),
    0x12: ("FLASH_DEFL_END", _Session._flash_end),
    0x13: ("SPI_FLASH_MD5", _Session._md5),
    0x14: ("GET_SECURITY_INFO", _Session._security_info),
    0xD0: ("ERASE_FLASH", _Session._erase_flash),
    0xD1: ("ERASE_REGION", _Session._erase_region),
    0xD2: ("READ_FLASH", _Session._read_flash),
    0xD3: ("RUN_USER_CODE", _Session._run_user_code),
}
ROM_ONLY = {0x0E}  # READ_FLASH_SLOW
STUB_ONLY = {0xD0, 0xD1, 0xD2, 0xD3}  # serial-protocol.rst "Supported by software loader only"


class RomLoader:
    """The ESP32-S3 download-mode serial protocol on a TCP port, one client at a time."""

    def __init__(
        self,
        flash: Flash,
        mac: bytes,
        *,
        on_enter: Callable[[], None] | None = None,
        on_exit: Callable[[], None] | None = None,
        trace: Callable[[str], None] | None = None,
    ):
        if len(mac) != 6:
            raise ValueError("a MAC address is 6 bytes")
        self.flash, self.mac = flash, bytes(mac)
        self.on_enter, self.on_exit, self.trace = on_enter, on_exit, trace
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 = any free port) in a daemon thread; return the port."""
        if self._listener is not None:
            raise RuntimeError("RomLoader is already serving")
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept_loop, name="rom-loader", daemon=True)
        self._thread.start()
        return self._listener.getsockname()[1]

    def close(self) -> None:
        """Stop serving; a connected client is dropped (flash synced, on_exit not called)."""
        self._stopping.set()
        client = self._client
        if client is not None:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._client = client
            if self._stopping.is_set():  # close() may have missed this client
                client.close()
                return
            self._trace(f"client connected from {peer[0]}:{peer[1]}")
            try:
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                _Session(self, client).run()
            except Exception as exc:  # a bug must not kill the server
                self._trace(f"session failed: {exc!r}")
            finally:
                self._client = None
                client.close()

    def _trace(self, line: str) -> None:
        if self.trace is not None:
            try:
                self.trace(line)
            except Exception:
                pass

    def _call(self, callback: Callable[[], None], name: str) -> None:
        try:
            callback()
        except Exception as exc:
            self._trace(f"{name} callback failed: {exc!r}")
