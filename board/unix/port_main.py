# What the ESP32-S3 does from reset to the REPL (MicroPython's ports/esp32/main.c and
# modules/_boot.py), on the emulated board: print the ROM's reset line, mount the vfs partition
# as "/" and the romfs partition's ROMFS at /rom, run boot.py and main.py, then serve the REPL
# until a reset ends the process with an exit code the emulator understands (chip.py).
#
# Every stand-in the firmware may import (machine, network, esp32, host_link) is imported here,
# while the host's filesystem is still at "/"; afterwards "/" is the panel's own LittleFS and
# they are found in sys.modules, as frozen modules are on the chip.
import esp32
import gc
import json
import machine  # noqa: F401
import network  # noqa: F401
import os
import sys
import vfs

import heap
import host_link  # noqa: F401
import models

import chip
import console

# ESP32-S3 ROM reset reasons (ESP32-S3 TRM, "Reset and Clock": RTC_CNTL reset cause codes).
_ROM_RESET_LINES = {
    "power_on": "rst:0x1 (POWERON),boot:0x8 (SPI_FAST_FLASH_BOOT)",
    "sw": "rst:0xc (RTC_SW_CPU_RST),boot:0x8 (SPI_FAST_FLASH_BOOT)",
    "panic": "rst:0xc (RTC_SW_CPU_RST),boot:0x8 (SPI_FAST_FLASH_BOOT)",
    "deep_sleep": "rst:0x5 (DSLEEP),boot:0x8 (SPI_FAST_FLASH_BOOT)",
    "wdt": "rst:0x7 (TG0WDT_SYS_RST),boot:0x8 (SPI_FAST_FLASH_BOOT)",
}


def mount_vfs():
    parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    vfs.umount("/")
    if not parts:
        return "the partition table has no vfs partition"
    try:
        vfs.mount(vfs.VfsLfs2(parts[0]), "/")
    except OSError as e:
        return "the vfs partition does not hold a LittleFS2 filesystem (%s)" % e
    os.chdir("/")
    return None


def mount_romfs():
    """mp_init's last step on a base firmware built with MICROPY_VFS_ROM: the romfs partition's
    ROMFS at /rom, or nothing when it holds none (extmod/vfs.c, mp_vfs_mount_romfs_protected).
    True when mounted. The chip maps the partition from flash; here it is read into one heap
    block (not a filesystem's read: the deep-sleep note does not count it), which the emulator
    added to the heap and the gc stand-in leaves out."""
    parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="romfs")
    if not parts or not chip.ROMFS_BYTES:
        return False
    image = bytearray(chip.ROMFS_BYTES)
    esp32.flash_read(parts[0].info()[2], image)
    try:
        vfs.mount(vfs.VfsRom(image), "/rom")
    except OSError:
        return False
    heap.set_outside(len(image))
    return True


def attach_board_models():
    try:
        with open("/rom/board.json") as f:
            models.attach(json.load(f))
    except (OSError, ValueError):
        pass  # an image without a board file: its firmware says so itself


def run_file(path, namespace):
    try:
        source = open(path).read()
    except OSError:
        return
    try:
        exec(compile(source, path, "exec"), namespace)
    except (chip.Reset, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 -- a traceback on the console, as on the chip
        if isinstance(e, KeyboardInterrupt):
            chip.took_interrupt()
        sys.print_exception(e)


def boot():
    problem = mount_vfs()
    # The esp32 port's path, less its frozen modules: "", "/rom", "/rom/lib" (mp_init, when the
    # ROMFS mounts), "/lib" (main.c).
    rom = ["/rom", "/rom/lib"] if mount_romfs() else []
    sys.path[:] = [""] + rom + ["/lib"]
    attach_board_models()
    sys.modules["gc"] = heap
    gc.collect()
    namespace = {"__name__": "__main__"}
    mode = chip.REPL_MODE if chip.BOOT == "soft" else "friendly"
    try:
        # The first bytes of every boot tell the emulator that MicroPython now turns SIGINT
        # into KeyboardInterrupt, so a Ctrl-C held back during start-up can be delivered.
        if chip.BOOT == "soft":
            console.out(b"MPY: soft reboot\r\n")
        else:
            line = _ROM_RESET_LINES.get(chip.RESET_CAUSE, _ROM_RESET_LINES["power_on"])
            console.out(b"ESP-ROM:esp32s3-20210327\r\n" + line.encode() + b"\r\n")
        if problem:
            console.out(("vfs: %s; the panel cannot start its application. Reflash the image "
                         "(lintel build, then lintel flash).\r\n" % problem).encode())
        else:
            run_file("boot.py", namespace)
            if mode != "raw":
                run_file("main.py", namespace)
    except KeyboardInterrupt:
        chip.took_interrupt()  # Ctrl-C while booting: straight to the REPL, as on the chip
    while True:
        try:
            mode = console.Console(namespace).serve(mode)
            break
        except KeyboardInterrupt:
            chip.took_interrupt()  # it came as serve() was taking the one before
    return chip.EXIT_SOFT_RESET_RAW if mode == "raw" else chip.EXIT_SOFT_RESET


def main():
    try:
        code = boot()
    except chip.Reset as r:
        code = r.code
    except SystemExit as e:
        # sys.exit() from main.py soft-resets the board, as it does on the chip.
        code = chip.EXIT_SOFT_RESET if not e.args or e.args[0] != 0 else 0
    except KeyboardInterrupt:
        # A Ctrl-C as the REPL was leaving for a soft reset: not taken, so the emulator gives
        # it to the next boot.
        code = chip.EXIT_SOFT_RESET
    sys.exit(code)


main()
