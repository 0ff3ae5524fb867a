# Stand-in for MicroPython's `esp32` module on the emulated board: flash partitions read from
# the partition table in the flash file, NVS persisted in the nvs partition, wake sources.
# API as documented for the esp32 port (docs.micropython.org, "esp32 — functionality
# specific to the ESP32").
import binascii
import json
import struct
from micropython import const

import chip

HEAP_DATA = 4
HEAP_EXEC = 1
WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True

_SECTOR = const(4096)
_TABLE_OFFSET = const(0x8000)
_TABLE_SIZE = const(0xC00)
# ESP-IDF partition table row: magic, type, subtype, offset, size, label, flags.
_ROW = "<2sBBII16sI"

_flash = open(chip.FLASH_PATH, "r+b") if chip.FLASH_PATH else None
# What the filesystems read from flash since the boot, for the emulator's deep-sleep note
# (machine.deepsleep): [reads, bytes].
flash_reads = [0, 0]


def flash_read(offset, buf):
    # Not the port's API: the flash as the emulator keeps it, for the board's own use too
    # (port_main maps the ROMFS with it).
    _flash.seek(offset)
    _flash.readinto(buf)


def _flash_write(offset, buf):
    _flash.seek(offset)
    _flash.write(buf)
    _flash.flush()


def _table():
    raw = bytearray(_TABLE_SIZE)
    flash_read(_TABLE_OFFSET, raw)
    rows = []
    for pos in range(0, _TABLE_SIZE, 32):
        magic, ptype, subtype, offset, size, label, flags = struct.unpack_from(_ROW, raw, pos)
        if magic != b"\xaa\x50":
            break
        rows.append((ptype, subtype, offset, size, label.rstrip(b"\x00").decode(), flags & 1))
    return rows


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=_SECTOR):
        if isinstance(id, tuple):
            self._info = id
        else:
            if id in (Partition.BOOT, Partition.RUNNING):
                id = "factory"
            found = [row for row in _table() if row[4] == id]
            if not found:
                raise ValueError("partition not found")
            self._info = found[0]
        self._block_size = block_size

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None, block_size=_SECTOR):
        return [
            Partition(row, block_size)
            for row in _table()
            if row[0] == type and subtype in (0xFF, row[1]) and label in (None, row[4])
        ]

    def info(self):
        return self._info

    def __repr__(self):
        t, s, offset, size, label, enc = self._info
        return "<Partition type=%d, subtype=%d, address=%d, size=%d, label=%s, encrypted=%d>" % (
            t, s, offset, size, label, enc)

    def _offset(self, block_num, offset):
        return self._info[2] + block_num * self._block_size + offset

    def readblocks(self, block_num, buf, offset=0):
        flash_read(self._offset(block_num, offset), buf)
        flash_reads[0] += 1
        flash_reads[1] += len(buf)

    def writeblocks(self, block_num, buf, offset=None):
        if offset is None:
            # The simple interface erases whole blocks before writing them.
            for i in range(0, len(buf), self._block_size):
                self.ioctl(6, block_num + i // self._block_size)
            offset = 0
        _flash_write(self._offset(block_num, offset), buf)

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self._info[3] // self._block_size
        if op == 5:  # block size
            return self._block_size
        if op == 6:  # erase a block
            _flash_write(self._offset(arg, 0), b"\xff" * self._block_size)
            return 0
        return 0 if op in (1, 2, 3) else None

    def set_boot(self):
        pass

    def get_next_update(self):
        raise OSError(-261, "ESP_ERR_NOT_FOUND")  # single factory app, no OTA slots

    @staticmethod
    def mark_app_valid_cancel_rollback():
        pass


# NVS: the whole store (every namespace) is one JSON document in one of two halves of the nvs
# partition, each with a sequence number and a CRC, written to the older half so that a power
# cut keeps the previous store. This is the emulator's own layout, not ESP-IDF's page format
# (docs/emulator.md); the API and its errors are the esp32 port's.
_NVS_MAGIC = b"LNV1"
_NVS_HEADER = "<4sIII"  # magic, sequence, payload length, crc32 of payload
_NOT_FOUND = (-0x1102, "ESP_ERR_NVS_NOT_FOUND")
_NOT_ENOUGH_SPACE = (-0x1105, "ESP_ERR_NVS_NOT_ENOUGH_SPACE")
_KEY_TOO_LONG = (-0x1109, "ESP_ERR_NVS_KEY_TOO_LONG")
_INVALID_LENGTH = (-0x110C, "ESP_ERR_NVS_INVALID_LENGTH")


class _NvsStore:
    def __init__(self):
        part = Partition("nvs").info()
        self.offset, self.half = part[2], part[3] // 2 // _SECTOR * _SECTOR
        self.seq, self.slot, self.data = 0, 1, {}
        for slot in (0, 1):
            found = self._load(slot)
            if found and found[0] >= self.seq:
                self.seq, self.slot, self.data = found[0], slot, found[1]

    def _load(self, slot):
        head = bytearray(16)
        flash_read(self.offset + slot * self.half, head)
        magic, seq, length, crc = struct.unpack(_NVS_HEADER, head)
        if magic != _NVS_MAGIC or length > self.half - 16:
            return None
        payload = bytearray(length)
        flash_read(self.offset + slot * self.half + 16, payload)
        if binascii.crc32(payload) != crc:
            return None
        try:
            return seq, json.loads(payload)
        except ValueError:
            return None

    def save(self):
        payload = json.dumps(self.data).encode()
        if len(payload) > self.half - 16:
            raise OSError(*_NOT_ENOUGH_SPACE)
        slot = 1 - self.slot
        start = self.offset + slot * self.half
        blocks = (16 + len(payload) + _SECTOR - 1) // _SECTOR
        _flash_write(start, b"\xff" * (blocks * _SECTOR))
        # Payload first, header last: a half without a valid header is ignored on load.
        _flash_write(start + 16, payload)
        header = struct.pack(_NVS_HEADER, _NVS_MAGIC, self.seq + 1, len(payload),
                             binascii.crc32(payload))
        _flash_write(start, header)
        self.seq, self.slot = self.seq + 1, slot


_store = None


class NVS:
    def __init__(self, namespace):
        global _store
        if len(namespace) > 15:
            raise OSError(*_KEY_TOO_LONG)
        if _store is None:
            _store = _NvsStore()
        self._ns = namespace

    def _set(self, key, kind, value):
        if len(key) > 15:
            raise OSError(*_KEY_TOO_LONG)
        # ESP-IDF writes on set; commit() has nothing left to do.
        _store.data.setdefault(self._ns, {})[key] = [kind, value]
        _store.save()

    def _get(self, key, kind):
        entry = _store.data.get(self._ns, {}).get(key)
        if entry is None or entry[0] != kind:
            raise OSError(*_NOT_FOUND)
        return entry[1]

    def set_i32(self, key, value):
        if not -0x80000000 <= value <= 0x7FFFFFFF:
            raise OverflowError("value out of range for i32")
        self._set(key, "i32", value)

    def get_i32(self, key):
        return self._get(key, "i32")

    def set_blob(self, key, value):
        self._set(key, "blob", binascii.hexlify(bytes(value)).decode())

    def get_blob(self, key, buffer):
        value = binascii.unhexlify(self._get(key, "blob"))
        if len(value) > len(buffer):
            raise OSError(*_INVALID_LENGTH)
        buffer[: len(value)] = value
        return len(value)

    def erase_key(self, key):
        namespace = _store.data.get(self._ns, {})
        if key not in namespace:
            raise OSError(*_NOT_FOUND)
        del namespace[key]
        _store.save()

    def commit(self):
        pass


def wake_on_ext0(pin, level):
    chip.write_state("wake_ext0", json.dumps([_pin_id(pin), level]).encode())


def wake_on_ext1(pins, level):
    chip.write_state("wake_ext1", json.dumps([[_pin_id(p) for p in pins], level]).encode())


def wake_on_touch(wake):
    pass


def gpio_deep_sleep_hold(enable):
    pass


def _pin_id(pin):
    return pin if isinstance(pin, int) else pin.id


def mcu_temperature():
    return 38


def idf_heap_info(capabilities):
    # One internal DRAM region as on an S3 without PSRAM: (total, free, largest free, min free).
    return [(327680, 180000, 110592, 150000)]
