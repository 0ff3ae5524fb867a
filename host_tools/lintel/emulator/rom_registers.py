"""The part of the ESP32-S3 memory map the serial ROM loader's READ_REG/WRITE_REG can reach.

esptool learns everything about a chip through 32-bit register reads: the eFuse read
registers (MAC, chip revision, package, security bits) and the SPI1 flash controller,
whose "user command" registers it drives by hand to send JEDEC commands to the flash
chip (`ESPLoader.run_spiflash_command`). This module models exactly that much:

- `RegisterMap`: a sparse word-addressed memory (unknown addresses read 0, as a blank
  register would), read-only eFuse words, and two SPI memory controllers (SPI0, SPI1);
- `SpiFlashChip`: the JEDEC side of the emulated flash (RDID, status registers, SFDP,
  read/program/erase), backed by `lintel.emulator.flash.Flash`.

Every number below is cited; "esptool" means esptool 5.6 `targets/esp32s3.py` and
`loader.py`, "TRM" the ESP32-S3 Technical Reference Manual (SPI1 / eFuse chapters),
"JESD216" the JEDEC SFDP standard.
"""

from __future__ import annotations

import struct

from lintel.emulator.flash import SECTOR, Flash

# --- eFuse (esptool ESP32S3ROM: EFUSE_BASE, EFUSE_BLOCK1_ADDR, EFUSE_BLOCK2_ADDR, ...) ---
EFUSE_BASE = 0x60007000
EFUSE_RD_FIRST = EFUSE_BASE + 0x02C  # TRM: EFUSE_RD_WR_DIS_REG, first read-only word
EFUSE_RD_LAST = EFUSE_BASE + 0x1FC  # TRM: read registers end before EFUSE_CLK_REG (0x1C8..)
EFUSE_BLOCK1 = EFUSE_BASE + 0x044  # esptool EFUSE_BLOCK1_ADDR == MAC_EFUSE_REG
EFUSE_BLOCK2 = EFUSE_BASE + 0x05C  # esptool EFUSE_BLOCK2_ADDR
# Field positions inside BLOCK1/BLOCK2 words, from esptool ESP32S3ROM getters:
#   word 3: minor rev low bits 18..20, pkg_version 21..23, blk_version_minor 24..26,
#           flash_cap 27..29; word 4: flash vendor 0..2, psram cap 3..4, psram vendor 7..8;
#   word 5: psram cap high bit 19, minor rev high bit 23, major rev 24..25;
#   BLOCK2 word 4: blk_version_major 0..1.
CHIP_MAJOR_REV = 0  # v0.2 is the common production ESP32-S3 revision
CHIP_MINOR_REV = 2
PKG_VERSION = 0  # 0 = "ESP32-S3 (QFN56)" in esptool get_chip_description()
BLK_VERSION_MAJOR = 1
BLK_VERSION_MINOR = 1

# --- other fixed registers esptool reads ---
CHIP_DETECT_MAGIC_REG = 0x40001000  # esptool ESPLoader.CHIP_DETECT_MAGIC_REG_ADDR
CHIP_DETECT_MAGIC_S3 = 0x00000009  # esptool <= 4.x ESP32S3ROM.CHIP_DETECT_MAGIC_VALUE
GPIO_STRAP_REG = 0x60004038  # esptool ESP32S3ROM.GPIO_STRAP_REG
GPIO_STRAP_DOWNLOAD = 0x00000000  # GPIO0 low (SPI_BOOT bit 3 clear), VDD_SPI 3.3 V (bit 4 clear)

# --- SPI memory controllers (esptool ESP32S3ROM.SPI_REG_BASE and SPI_*_OFFS; TRM SPI1) ---
SPI0_BASE = 0x60003000  # TRM: SPI0 (cache side) memory controller
SPI1_BASE = 0x60002000  # esptool SPI_REG_BASE
SPI_CMD = 0x00  # bit 18 = SPI_MEM_USR: start the user command, cleared when done
SPI_ADDR = 0x04
SPI_USER = 0x18  # esptool SPI_USR_OFFS
SPI_USER1 = 0x1C  # esptool SPI_USR1_OFFS: address bit length - 1 at bit 26
SPI_USER2 = 0x20  # esptool SPI_USR2_OFFS: command value in bits 0..15, bit length - 1 at 28
SPI_MOSI_DLEN = 0x24  # esptool SPI_MOSI_DLEN_OFFS (bits - 1)
SPI_MISO_DLEN = 0x28  # esptool SPI_MISO_DLEN_OFFS (bits - 1)
SPI_W0 = 0x58  # esptool SPI_W0_OFFS; W0..W15 = 64-byte data buffer
SPI_W_COUNT = 16
SPI_BLOCK_SIZE = 0x100
SPI_CMD_USR = 1 << 18  # esptool run_spiflash_command: SPI_CMD_USR
SPI_USR_COMMAND = 1 << 31  # esptool run_spiflash_command: SPI_USR_* flags
SPI_USR_ADDR = 1 << 30
SPI_USR_MISO = 1 << 28
SPI_USR_MOSI = 1 << 27
SPI_USR_ADDR_LEN_SHIFT = 26

# --- the flash chip: a GigaDevice GD25Qxx (manufacturer 0xC8, memory type 0x40) ---
JEDEC_MANUFACTURER = 0xC8  # JEP106: GigaDevice
JEDEC_MEMORY_TYPE = 0x40  # GD25Q series; capacity byte = log2(size in bytes)
# SPI NOR command bytes (JEDEC / GD25Q datasheet; also esptool loader.py and cmds.py)
CMD_WRSR, CMD_PP, CMD_READ, CMD_WRDI, CMD_RDSR, CMD_WREN = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
CMD_FAST_READ, CMD_WRSR3, CMD_RDSR3, CMD_SE = 0x0B, 0x11, 0x15, 0x20
CMD_WRSR2, CMD_RDSR2 = 0x31, 0x35
CMD_EWSR, CMD_BE32, CMD_RDSFDP, CMD_CE, CMD_REMS, CMD_RDID = 0x50, 0x52, 0x5A, 0x60, 0x90, 0x9F
CMD_RES, CMD_CE2, CMD_BE64 = 0xAB, 0xC7, 0xD8
SR1_WIP, SR1_WEL = 0x01, 0x02
SR2_QE = 0x02  # quad enable, set on QIO-strapped modules
PAGE = 0x100
ERASE_SIZES = {CMD_SE: SECTOR, CMD_BE32: 0x8000, CMD_BE64: 0x10000}


def _sfdp_table(size: int) -> bytes:
    """A minimal JESD216 SFDP area: the 'SFDP' header, the basic parameter table header,
    a vendor parameter header whose ID is the manufacturer (esptool's XMC check reads
    SFDP[0x10] as the manufacturer id), and the basic table's first two DWORDs."""
    header = b"SFDP" + bytes([0x06, 0x01, 0x01, 0xFF])  # rev 1.6, 2 parameter headers
    basic = bytes([0x00, 0x06, 0x01, 16, 0x30, 0x00, 0x00, 0xFF])  # 16 DWORDs at 0x30
    vendor = bytes([JEDEC_MANUFACTURER, 0x00, 0x01, 3, 0x90, 0x00, 0x00, 0xFF])
    table = bytearray(b"\xff" * 0x100)
    table[0 : len(header + basic + vendor)] = header + basic + vendor
    # DWORD1: 4 KiB erase supported with opcode 0x20; DWORD2: density in bits - 1
    table[0x30:0x38] = struct.pack("<II", 0xFFF920E5, size * 8 - 1)
    return bytes(table)


class SpiFlashChip:
    """The JEDEC command set of the emulated NOR flash chip."""

    def __init__(self, flash: Flash):
        self.flash = flash
        capacity = max(flash.size, 1).bit_length() - 1
        self.jedec_id = bytes([JEDEC_MANUFACTURER, JEDEC_MEMORY_TYPE, capacity])
        self.sfdp = _sfdp_table(flash.size)
        self.status = [0x00, SR2_QE, 0x00]
        self.volatile_write = False

    def transact(self, cmd: int, addr: int | None, mosi: bytes, miso_len: int) -> bytes:
        """Run one SPI transaction; return `miso_len` bytes read back (0xFF = idle bus)."""
        out = b""
        if cmd == CMD_RDID:
            out = self.jedec_id
        elif cmd in (CMD_RDSR, CMD_RDSR2, CMD_RDSR3):
            out = bytes([self.status[(CMD_RDSR, CMD_RDSR2, CMD_RDSR3).index(cmd)]])
        elif cmd in (CMD_REMS, CMD_RES):
            out = bytes([JEDEC_MANUFACTURER, self.jedec_id[2] - 1])
            out = out if cmd == CMD_REMS else out[1:]
        elif cmd == CMD_RDSFDP and addr is not None:
            out = self.sfdp[addr : addr + miso_len]
        elif cmd in (CMD_READ, CMD_FAST_READ) and addr is not None and miso_len:
            out = self._read_wrapped(addr, miso_len)
        elif cmd == CMD_WREN:
            self.status[0] |= SR1_WEL
        elif cmd == CMD_WRDI:
            self.status[0] &= ~SR1_WEL
        elif cmd == CMD_EWSR:
            self.volatile_write = True
        elif cmd in (CMD_WRSR, CMD_WRSR2, CMD_WRSR3):
            self._write_status((CMD_WRSR, CMD_WRSR2, CMD_WRSR3).index(cmd), mosi)
        elif cmd == CMD_PP and addr is not None:
            self._program(addr, mosi)
        elif cmd in ERASE_SIZES and addr is not None:
            self._erase(addr - addr % ERASE_SIZES[cmd], ERASE_SIZES[cmd])
        elif cmd in (CMD_CE, CMD_CE2):
            self._erase(0, self.flash.size)
        # anything else (reset 0x66/0x99, power-down 0xB9, ...) is accepted and ignored
        return (out + b"\xff" * miso_len)[:miso_len]

    def _read_wrapped(self, addr: int, length: int) -> bytes:
        addr %= self.flash.size
        first = self.flash.read(addr, min(length, self.flash.size - addr))
        return first + (self._read_wrapped(0, length - len(first)) if len(first) < length else b"")

    def _write_status(self, index: int, mosi: bytes) -> None:
        if not (self.status[0] & SR1_WEL or self.volatile_write):
            return
        for i, value in enumerate(mosi[: 3 - index]):
            self.status[index + i] = value & (0xFC if index + i == 0 else 0xFF)
        self.status[0] &= ~SR1_WEL
        self.volatile_write = False

    def _program(self, addr: int, data: bytes) -> None:
        if self.status[0] & SR1_WEL and data:
            addr %= self.flash.size
            data = data[: PAGE - addr % PAGE]  # a page program never crosses its page
            self.flash.write(addr, data)
        self.status[0] &= ~SR1_WEL

    def _erase(self, addr: int, length: int) -> None:
        if self.status[0] & SR1_WEL and addr + length <= self.flash.size:
            self.flash.erase(addr, length)
        self.status[0] &= ~SR1_WEL


class SpiController:
    """One SPI memory controller's user-command registers (TRM 'SPI1 user commands')."""

    def __init__(self, base: int, chip: SpiFlashChip):
        self.base = base
        self.chip = chip
        self.regs = [0] * (SPI_BLOCK_SIZE // 4)

    def covers(self, addr: int) -> bool:
        return self.base <= addr < self.base + SPI_BLOCK_SIZE

    def read(self, addr: int) -> int:
        return self.regs[(addr - self.base) // 4]

    def write(self, addr: int, value: int) -> None:
        offset = addr - self.base
        self.regs[offset // 4] = value
        if offset == SPI_CMD and value & SPI_CMD_USR:
            self._run_user_command()
            self.regs[SPI_CMD // 4] = 0  # the hardware clears the command bits when done

    def _reg(self, offset: int) -> int:
        return self.regs[offset // 4]

    def _run_user_command(self) -> None:
        user = self._reg(SPI_USER)
        if not user & SPI_USR_COMMAND:
            return
        cmd = self._reg(SPI_USER2) & 0xFF
        addr = None
        if user & SPI_USR_ADDR:
            addr_bits = (self._reg(SPI_USER1) >> SPI_USR_ADDR_LEN_SHIFT) + 1
            addr = self._reg(SPI_ADDR) & ((1 << min(addr_bits, 32)) - 1)
        buffer = struct.pack("<16I", *self.regs[SPI_W0 // 4 : SPI_W0 // 4 + SPI_W_COUNT])
        mosi = b""
        if user & SPI_USR_MOSI:
            mosi = buffer[: ((self._reg(SPI_MOSI_DLEN) & 0x3FF) + 1 + 7) // 8]
        miso_bits = (self._reg(SPI_MISO_DLEN) & 0x3FF) + 1 if user & SPI_USR_MISO else 0
        miso_bits = min(miso_bits, 8 * 4 * SPI_W_COUNT)  # the W0..W15 buffer holds 64 bytes
        miso = self.chip.transact(cmd, addr, mosi, (miso_bits + 7) // 8)
        if miso_bits:
            value = int.from_bytes(miso, "little") & ((1 << miso_bits) - 1)
            padded = value.to_bytes(len(miso), "little").ljust(-(-len(miso) // 4) * 4, b"\0")
            for i in range(len(padded) // 4):
                self.regs[(SPI_W0 // 4) + i] = struct.unpack_from("<I", padded, 4 * i)[0]


def efuse_words(mac: bytes) -> dict[int, int]:
    """The eFuse read registers esptool decodes, for this MAC and the chip constants above."""
    minor_lo, minor_hi = CHIP_MINOR_REV & 0x7, CHIP_MINOR_REV >> 3
    return {
        EFUSE_BLOCK1 + 0: int.from_bytes(mac[2:6], "big"),  # MAC bytes 2..5
        EFUSE_BLOCK1 + 4: int.from_bytes(mac[0:2], "big"),  # MAC bytes 0..1 in bits 0..15
        EFUSE_BLOCK1 + 12: (minor_lo << 18) | (PKG_VERSION << 21) | (BLK_VERSION_MINOR << 24),
        EFUSE_BLOCK1 + 20: (minor_hi << 23) | (CHIP_MAJOR_REV << 24),
        EFUSE_BLOCK2 + 16: BLK_VERSION_MAJOR,
    }


class RegisterMap:
    """What READ_REG/WRITE_REG see: eFuses, two SPI controllers, and plain RAM-like words."""

    def __init__(self, flash: Flash, mac: bytes):
        self.chip = SpiFlashChip(flash)
        self.spi = [SpiController(SPI1_BASE, self.chip), SpiController(SPI0_BASE, self.chip)]
        self.efuse = efuse_words(mac)
        self.words: dict[int, int] = {
            CHIP_DETECT_MAGIC_REG: CHIP_DETECT_MAGIC_S3,
            GPIO_STRAP_REG: GPIO_STRAP_DOWNLOAD,
        }

    def _controller(self, addr: int) -> SpiController | None:
        return next((c for c in self.spi if c.covers(addr)), None)

    def read(self, addr: int) -> int:
        addr &= ~3
        if EFUSE_RD_FIRST <= addr <= EFUSE_RD_LAST:
            return self.efuse.get(addr, 0)
        controller = self._controller(addr)
        if controller is not None:
            return controller.read(addr)
        return self.words.get(addr, 0)

    def write(self, addr: int, value: int, mask: int = 0xFFFFFFFF) -> None:
        addr &= ~3
        if EFUSE_RD_FIRST <= addr <= EFUSE_RD_LAST:
            return  # eFuse read registers are read-only
        value = ((self.read(addr) & ~mask) | (value & mask)) & 0xFFFFFFFF
        controller = self._controller(addr)
        if controller is not None:
            controller.write(addr, value)
        else:
            self.words[addr] = value
