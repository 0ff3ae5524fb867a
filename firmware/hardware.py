# This panel's hardware as the one `board` object the application is handed: identity and
# board file, the panel's own storage (its key in NVS, its cfg partition), power and sleep,
# RTC memory. With drivers/, the only firmware that imports machine and esp32; app/ never does.
import esp32
import json
import machine
import network
import os
import time
import vfs

try:
    import host_link  # the emulated board's screen and touch (board/unix); absent on a chip
except ImportError:
    host_link = None

BOARD_FILE = "/board.json"
WIFI_JOIN_S = 15  # a join that has not worked by then will not
CFG_DIR = "/cfg"  # the cfg partition: this panel's sealed configuration and token store
# Unix seconds at the port's epoch: 2000-01-01 on the esp32 port, 1970 on the Unix port.
_EPOCH = 946684800 if time.gmtime(0)[0] == 2000 else 0
_NVS_NAMESPACE = "lintel"
_NVS_KEY = "devkey"  # the device key (32 bytes) and its key id (8 bytes), one blob: one write
_RESET_CAUSES = {
    machine.PWRON_RESET: "power-on",
    machine.HARD_RESET: "reset pin",
    machine.WDT_RESET: "watchdog",
    machine.DEEPSLEEP_RESET: "deep-sleep wake",
    machine.SOFT_RESET: "software reset",
}


def _strongest(wlan, ssid):
    """[bssid as hex, channel] of the network's strongest access point, or None."""
    try:
        found = [n for n in wlan.scan() if n[0] == ssid.encode()]
    except OSError:
        return None
    if not found:
        return None
    best = max(found, key=lambda n: n[3])  # (ssid, bssid, channel, RSSI, security, hidden)
    return ["".join("%02x" % b for b in best[1]), best[2]]


def _join(wlan, wifi, ap):
    """One attempt: None once joined, else (reason, words)."""
    if ap is not None:
        if ap[1]:
            wlan.config(channel=ap[1])
        wlan.connect(wifi["ssid"], wifi["psk"], bssid=bytes.fromhex(ap[0]))
    else:
        wlan.connect(wifi["ssid"], wifi["psk"])
    deadline = time.ticks_add(time.ticks_ms(), WIFI_JOIN_S * 1000)
    while time.ticks_diff(deadline, time.ticks_ms()) > 0:
        status = wlan.status()
        if status == network.STAT_GOT_IP:
            return None
        if status == network.STAT_WRONG_PASSWORD:
            return ("wifi_password", "Wi-Fi %s refused the password" % wifi["ssid"])
        if status == network.STAT_NO_AP_FOUND:
            return ("wifi_not_found", "Wi-Fi %s is not in range" % wifi["ssid"])
        if status in (network.STAT_ASSOC_FAIL, network.STAT_HANDSHAKE_TIMEOUT,
                      network.STAT_BEACON_TIMEOUT):
            return ("wifi_refused", "Wi-Fi %s did not let the panel join" % wifi["ssid"])
        time.sleep_ms(20)
    wlan.disconnect()
    return ("wifi_timeout", "Wi-Fi %s: no connection after %d s" % (wifi["ssid"],
                                                                     WIFI_JOIN_S))


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

    def write_file(self, path, data):
        """Replace path with data atomically: a power cut leaves the old file or the new one."""
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)

    def remove_file(self, path):
        try:
            os.remove(path)
        except OSError:
            pass

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

    # -- network --------------------------------------------------------------------------

    def join_wifi(self, wifi, memory=None):
        """Join the configured network: None once joined, else (reason, words).

        A join that names the access point and its channel skips the scan (about 0.16 s
        instead of 0.8 s, ../shared/BASELINES.md). They come from [wifi] bssid and channel, or
        else from the last join, kept in `memory` (RTC memory: what one wake tells the next)
        under "ap"; the first join after a power-on scans once for the strongest access point
        of the network. A remembered one that fails is forgotten and the join starts over."""
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        if wlan.isconnected():
            return None
        if wifi.get("hostname"):
            network.hostname(wifi["hostname"])
        if wifi.get("country"):
            network.country(wifi["country"])
        static = wifi.get("static")
        if static:
            wlan.ifconfig((static["address"], static["netmask"], static["gateway"],
                           static["dns"][0]))
        memory = {} if memory is None else memory
        started = time.ticks_ms()
        if wifi.get("bssid"):
            ap, how = [wifi["bssid"].replace(":", ""), wifi.get("channel")], "configured"
        elif memory.get("ap"):
            ap, how = memory["ap"], "remembered"
        else:
            ap, how = _strongest(wlan, wifi["ssid"]), "scanned"
        problem = _join(wlan, wifi, ap)
        if problem is not None and ap is not None and memory.pop("ap", None) is not None:
            print("wifi: the access point remembered did not answer; joining afresh")
            how = "afresh"
            problem = _join(wlan, wifi, None)
        elif problem is None and ap is not None and not wifi.get("bssid"):
            memory["ap"] = ap
        if problem is None:
            print("wifi: joined %s in %d ms (access point %s)" % (
                wifi["ssid"], time.ticks_diff(time.ticks_ms(), started), how))
        return problem

    def radio_off(self):
        """Switch Wi-Fi off until the next join (deep sleep would too; this is sooner)."""
        network.WLAN(network.STA_IF).active(False)

    # -- screen and touch ---------------------------------------------------------------------

    _epd = None  # the e-paper driver, made at the first redraw
    display_ms = 0  # time spent drawing and refreshing the screen this process (the report's)

    def show(self, view_json, full=True):
        """Put a view model (its JSON text) on the screen; on e-paper with a full refresh or a
        partial one. Returns the e-paper refresh made, "full" or "partial" ("failed" when the
        panel did not take it), or None (an LCD, or no pixels to send)."""
        started = time.ticks_ms()
        try:
            return self._show(view_json, full)
        finally:
            self.display_ms += time.ticks_diff(time.ticks_ms(), started)

    def _show(self, view_json, full):
        if host_link is not None:
            host_link.show(view_json)
        if self.info["display"]["kind"] != "epaper":
            return None
        # The pixels: on the emulated board the host draws the view with app/ui on LVGL. On a
        # panel, LVGL's flush path into this driver is issue 6's next step.
        frame = host_link.frame(self.info["display"]["width"] // 8) if host_link is not None \
            else None
        if frame is None:
            return None  # nothing reached the panel
        from drivers.uc8179 import EpdError, from_board

        if self._epd is None:
            self._epd = from_board(self.info)
        epd = self._epd
        try:
            epd.init()
            if full:
                epd.full(frame)
            else:
                # The panel's supply is cut while the board sleeps, so its RAM holds no old
                # image to compare with: the window is the whole screen, in the fast waveform.
                epd.partial(frame, 0, 0, epd.width, epd.height)
            epd.sleep()
        except EpdError as e:
            print("problem: display | %s" % e)
            return "failed"
        finally:
            if hasattr(frame, "close"):
                frame.close()
        return "full" if full else "partial"

    def take_presses(self):
        """Buttons pressed since the last call, as the view model's action ids."""
        return host_link.take_presses() if host_link is not None else []

    def wait(self, ms):
        """Stay awake (radio on) for ms, e.g. between sign-in polls; a press ends it early."""
        machine.lightsleep(ms) if host_link is not None else time.sleep_ms(ms)

    # -- power ----------------------------------------------------------------------------

    _cell = None  # the battery driver, made at the first reading

    def battery(self):
        """The cell now, {"mv", "percent"}; None on a mains board or one without a sense
        divider. Read before the radio starts: a cell under a Wi-Fi burst reads low."""
        if self._cell is None:
            pins = self.info["pins"].get("battery")
            cell = self.info["power"].get("battery")
            if not self.battery_powered or not pins or not cell:
                return None
            from drivers.battery import Battery

            self._cell = Battery(pins["adc"], pins.get("sense_enable"),
                                 cell["divider"]["ratio"], cell["curve_mv_percent"])
        mv = self._cell.millivolts()
        return {"mv": mv, "percent": self._cell.percent(mv)}

    def set_clock(self, t):
        """Set the RTC to Unix time t (UTC). It keeps counting through deep sleep, and a power
        cut sets it back to 2000: the app sets it from the servers' Date headers."""
        tm = time.gmtime(int(t) - _EPOCH)
        machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6], tm[3], tm[4], tm[5], 0))

    def rtc_memory(self, data=None):
        # Survives deep sleep, not power loss: for what one wake tells the next.
        return machine.RTC().memory() if data is None else machine.RTC().memory(data)

    def sleep(self, ms):
        """Sleep until the next wake: deep sleep on battery, a plain wait on mains."""
        if self.battery_powered:
            machine.deepsleep(ms)
        else:
            machine.lightsleep(ms)
