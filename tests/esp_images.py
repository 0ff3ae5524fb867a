"""Stand-in ESP32-S3 firmware images for tests and benchmarks (no real firmware is downloadable
here): the layout esptool's bin_image reads, and a merged image shaped like a published
MicroPython ESP32_GENERIC_S3 .bin."""

import hashlib
import struct


def esp_image(payload: bytes, flash_size_code=0x30, hashed=True) -> bytes:
    """A well-formed single-segment ESP32-S3 image (the layout esptool's bin_image reads)."""
    payload += b"\x00" * (-len(payload) % 4)
    header = struct.pack("<BBBBI", 0xE9, 1, 2, flash_size_code | 0x0F, 0x40378000)
    extended = struct.pack("<B3sHBHH4sB", 0xEE, b"\x00" * 3, 9, 0, 0, 0xFFFF, b"\x00" * 4,
                           1 if hashed else 0)
    body = header + extended + struct.pack("<II", 0x3FCE0000, len(payload)) + payload
    checksum = 0xEF
    for byte in payload:
        checksum ^= byte
    body += b"\x00" * (15 - len(body) % 16) + bytes([checksum])
    return body + (hashlib.sha256(body).digest() if hashed else b"")


def merged_firmware(app_size=200_000, table_app_offset=0x10000, app_payload=None,
                    romfs=True) -> bytes:
    """Bootloader at 0, MicroPython's 8 MiB table at 0x8000, app at 0x10000: like a
    published ESP32_GENERIC_S3 .bin (8 MiB flash size in the bootloader header). The app is
    app_size bytes of 0x22, or app_payload; with `romfs` it ends with the qstr "VfsRom", as a
    MicroPython built with ROMFS carries it (lintel build refuses one without)."""
    from lintel.partitions import Partition, to_binary
    flash = bytearray(b"\xff" * 0x10000)
    boot = esp_image(b"\x11" * 20_000)
    flash[:len(boot)] = boot
    table = to_binary([
        Partition("nvs", "data", "nvs", 0x9000, 0x6000),
        Partition("phy_init", "data", "phy", 0xF000, 0x1000),
        Partition("factory", "app", "factory", table_app_offset, 0x1F0000),
        Partition("vfs", "data", "fat", 0x200000, 0x600000),
    ])
    flash[0x8000:0x8000 + len(table)] = table
    app = app_payload or b"\x22" * app_size
    return bytes(flash) + esp_image(app + (b"VfsRom" if romfs else b""))
