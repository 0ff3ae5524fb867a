# This panel's hardware as the one `board` object the application is handed: identity and
# board file, the panel's own storage (its key in NVS, its cfg partition), power and sleep,
# RTC memory. With drivers/, the only firmware that imports machine and esp32; app/ never does.
import esp32
import json
import machine
import os
import vfs

BOARD_FILE = "/board.json"
CFG_DIR = "/cfg"  # the cfg partition: this panel's sealed configuration and token store
_NVS_NAMESPACE = "lintel"
_NVS_KEY = "devkey"  # the device key (32 bytes) and its key id (8 bytes), one blob: one write
_RESET_CAUSES = {
    machine.PWRON_RESET: "power-on",
    machine.HARD_RESET: "reset pin",
    machine.WDT_RESET: "watchdog",
    machine.DEEPSLEEP_RESET: "deep-sleep wake",
    machine.SOFT_RESET: "software reset",
}


class Board:
    def __init__(self):
        with open(BOARD_FILE) as f:
            self.info = json.load(f)
        self.name = self.info["name"]
        self.device_id = "".join("%02x" % b for b in machine.unique_id())
        self.battery_powered = self.info["power"]["source"] == "battery"

    def reset_cause(self):
        return _RESET_CAUSES.get(machine.reset_cause(), "unknown")

    # -- storage --------------------------------------------------------------------------

    def mount_cfg(self):
        """Mount the cfg partition at /cfg, formatting it the first time (it ships erased)."""
        try:
            os.stat(CFG_DIR)
            return
        except OSError:
            pass
        part = esp32.Partition("cfg")
        try:
            vfs.mount(vfs.VfsLfs2(part), CFG_DIR)
        except OSError:
            vfs.VfsLfs2.mkfs(part)
            vfs.mount(vfs.VfsLfs2(part), CFG_DIR)

    def partition(self, label):
        """(offset, size) of a flash partition."""
        info = esp32.Partition(label).info()
        return info[2], info[3]

    def read_file(self, path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def device_key(self):
        """(key, key id) given at provisioning, or None on a panel not yet provisioned."""
        buf = bytearray(40)
        try:
            n = esp32.NVS(_NVS_NAMESPACE).get_blob(_NVS_KEY, buf)
        except OSError:
            return None
        return (bytes(buf[:32]), bytes(buf[32:40])) if n == 40 else None

    def store_device_key(self, key, key_id):
        nvs = esp32.NVS(_NVS_NAMESPACE)
        nvs.set_blob(_NVS_KEY, bytes(key) + bytes(key_id))
        nvs.commit()

    # -- power ----------------------------------------------------------------------------

    def rtc_memory(self, data=None):
        # Survives deep sleep, not power loss: for what one wake tells the next.
        return machine.RTC().memory() if data is None else machine.RTC().memory(data)

    def sleep(self, ms):
        """Sleep until the next wake: deep sleep on battery, a plain wait on mains."""
        if self.battery_powered:
            machine.deepsleep(ms)
        else:
            machine.lightsleep(ms)
