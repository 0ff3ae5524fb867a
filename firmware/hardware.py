# This panel's hardware as the one `board` object the application is handed: identity and
# board file, storage, power and sleep, RTC memory. The only firmware module besides drivers/
# that imports machine and esp32; app/ never does.
import json
import machine
import os

BOARD_FILE = "/board.json"
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

    def exists(self, path):
        try:
            os.stat(path)
            return True
        except OSError:
            return False

    def rtc_memory(self, data=None):
        # Survives deep sleep, not power loss: for what one wake tells the next.
        return machine.RTC().memory() if data is None else machine.RTC().memory(data)

    def sleep(self, ms):
        """Sleep until the next wake: deep sleep on battery, a plain wait on mains."""
        if self.battery_powered:
            machine.deepsleep(ms)
        else:
            machine.lightsleep(ms)
