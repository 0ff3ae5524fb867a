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

BOARD_FILE = "/rom/board.json"  # in the application's ROMFS (docs/image.md)
WIFI_JOIN_S = 15  # a join that has not worked by then will not
MAX_TOUCH_REPORTS = 20  # read at one look: ten taps, each down and lifted
LISTEN_POLL_MS = 50  # how often a panel listening for a tap looks at the touch controller
CFG_DIR = "/cfg"  # the cfg partition: this panel's sealed configuration and token store
# The e-paper panel's picture (drivers/last_frame.py). In vfs, not cfg: it is rewritten at every
# redraw, and vfs's 4 MiB spread the wear that cfg's 256 KiB would concentrate.
SHOWN_FRAME = "/shown"
# Unix seconds at the port's epoch: 2000-01-01 on the esp32 port, 1970 on the Unix port.
_EPOCH = 946684800 if time.gmtime(0)[0] == 2000 else 0
# littlefs reads in multiples of this, through a cache of four times it (MicroPython's VfsLfs2:
# 32 by default, a 128-byte cache). Opening a file walks the directory's metadata block, so every
# open at the default re-reads it in 32- and 128-byte pieces: a wake with the application in
# LittleFS made about 11,000 flash reads, at 256 (a 1 KiB cache) about 2,300. Read and cache
# sizes are not on disk (docs/image.md, "LittleFS parameters"); the program size stays
# MicroPython's.
LFS_READ_SIZE = 256
LFS_PROG_SIZE = 32
_NVS_NAMESPACE = "lintel"
_NVS_KEY = "devkey"  # the device key (32 bytes) and its key id (8 bytes), one blob: one write
_RESET_CAUSES = {
    machine.PWRON_RESET: "power-on",
    machine.HARD_RESET: "reset pin",
    machine.WDT_RESET: "watchdog",
    machine.DEEPSLEEP_RESET: "deep-sleep wake",
    machine.SOFT_RESET: "software reset",
}


def _littlefs(part):
    return vfs.VfsLfs2(part, readsize=LFS_READ_SIZE, progsize=LFS_PROG_SIZE)


def remount_vfs():
    """Mount the vfs partition at / again with LFS_READ_SIZE (the kept picture is read through
    it): MicroPython's _boot.py mounted it with VfsLfs2's defaults. If that cannot be done, the
    first mount stays."""
    parts = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    if not parts:
        return
    try:
        fs = _littlefs(parts[0])  # mounts it (a second view of the same blocks, read only here)
    except OSError as e:
        print("vfs: kept the boot's mount (%s)" % e)
        return
    vfs.umount("/")
    vfs.mount(fs, "/")
    os.chdir("/")


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


def _join(wlan, wifi, ap, meanwhile=None):
    """One attempt: None once joined, else (reason, words). `meanwhile` runs once the join is
    under way: the radio associates on its own while the CPU does it."""
    if ap is not None:
        if ap[1]:
            wlan.config(channel=ap[1])
        wlan.connect(wifi["ssid"], wifi["psk"], bssid=bytes.fromhex(ap[0]))
    else:
        wlan.connect(wifi["ssid"], wifi["psk"])
    if meanwhile is not None:
        meanwhile()
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


def _kept_address(memory, wifi):
    """The address DHCP gave at a join less than [wifi] keep_address_min ago (ip, netmask,
    gateway, dns), to use again without asking: within its lease, and the window is shorter
    than any lease an office network gives. None: ask DHCP."""
    ip = memory.get("ip")
    window = wifi.get("keep_address_min", 60) * 60
    if not ip or not window:
        return None
    age = time.time() - ip[4]
    if not 0 <= age < window:
        return None  # too old, or the clock was set since
    return tuple(ip[:4])


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
            vfs.mount(_littlefs(part), CFG_DIR)
        except OSError:
            vfs.VfsLfs2.mkfs(part)
            vfs.mount(_littlefs(part), CFG_DIR)

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

    def join_wifi(self, wifi, memory=None, meanwhile=None):
        """Join the configured network: None once joined, else (reason, words). `meanwhile`,
        if given, is work of the wake's own that needs no network: it runs (once) while the
        radio associates, where it costs no time awake of its own.

        A join that names the access point and its channel skips the scan (about 0.16 s
        instead of 0.8 s, ../shared/BASELINES.md). They come from [wifi] bssid and channel, or
        else from the last join, kept in `memory` (RTC memory: what one wake tells the next)
        under "ap"; the first join after a power-on scans once for the strongest access point
        of the network. The address DHCP gave is kept there too ("ip") and used again without
        asking for [wifi] keep_address_min (BASELINES' 0.16 s is with a known address). A
        remembered access point or address that fails is forgotten and the join starts over."""
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        if wlan.isconnected():
            if meanwhile is not None:
                meanwhile()
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
        kept = None if static else _kept_address(memory, wifi)
        if kept is not None:
            wlan.ifconfig(kept)  # no DHCP exchange: the address is still ours (its lease)
            how += ", address kept"
        work = [0]

        def timed():
            begun = time.ticks_ms()
            try:
                meanwhile()
            finally:
                work[0] = time.ticks_diff(time.ticks_ms(), begun)

        problem = _join(wlan, wifi, ap, timed if meanwhile is not None else None)
        if problem is not None and (memory.get("ap") or kept is not None):
            print("wifi: the access point or address remembered did not work; joining afresh")
            memory.pop("ap", None)
            memory.pop("ip", None)
            if kept is not None:
                wlan.ifconfig("dhcp")
            how = "afresh"
            problem = _join(wlan, wifi, None)
        elif problem is None and ap is not None and not wifi.get("bssid"):
            memory["ap"] = ap
        if problem is None:
            if not static and (kept is None or how == "afresh"):
                # Just leased by DHCP: kept for the wakes of the next keep_address_min.
                memory["ip"] = list(wlan.ifconfig()) + [int(time.time())]
            print("wifi: joined %s in %d ms (access point %s)%s" % (
                wifi["ssid"], time.ticks_diff(time.ticks_ms(), started), how,
                ", %d ms of the wake's work meanwhile" % work[0] if meanwhile else ""))
        return problem

    def radio_off(self):
        """Switch Wi-Fi off until the next join (deep sleep would too; this is sooner)."""
        network.WLAN(network.STA_IF).active(False)

    # -- screen and touch ---------------------------------------------------------------------

    _epd = None  # the e-paper driver, made at the first redraw
    _lvgl = None  # LVGL's display on a panel (app/ui/display.py), made at the first redraw
    _drawn = None  # the frame LVGL last handed over
    hits = None  # the buttons of the screen last drawn, [[action, x, y, w, h], ...]
    display_ms = 0  # time spent drawing and refreshing the screen this process (the report's)
    kept_bytes = 0  # bytes of the panel's picture written to flash this process (the report's)

    def show(self, view_json, full=True):
        """Put a view model (its JSON text) on the screen; on e-paper with a full refresh or a
        partial one. Returns the e-paper refresh made, "full" or "partial" ("failed" when the
        panel did not take it, "none" when no pixel changed), or None (an LCD, or no pixels
        to send)."""
        started = time.ticks_ms()
        try:
            return self._show(view_json, full)
        finally:
            self.display_ms += time.ticks_diff(time.ticks_ms(), started)

    def _show(self, view_json, full):
        self._panel_on()
        self._light(view_json)
        display = self.info["display"]
        if host_link is not None:
            host_link.show(view_json)
            # The emulated board has no LVGL: the host draws the view with app/ui on LVGL
            # and hands over the buttons and the e-paper's pixels.
            self.hits, frame = host_link.draw(display["width"] // 8
                                              if display["kind"] == "epaper" else None)
        else:
            frame = self._draw(view_json)
        if frame is None or display["kind"] != "epaper":
            return None  # nothing reached the panel, or an LCD that shows LVGL's buffer
        try:
            return self._paper(frame, full)
        finally:
            if hasattr(frame, "close"):
                frame.close()

    def _draw(self, view_json):
        """Draw the view with LVGL on this panel: LVGL's frame, or None on a base firmware
        without the LVGL binding."""
        try:
            import lvgl as lv
        except ImportError:
            return None
        from app.ui.display import Display

        d = self.info["display"]
        mono = d["color_depth"] == 1
        if self._lvgl is None:
            if not lv.is_initialized():
                lv.init()
            self._lvgl = Display(d["width"], d["height"], mono, self._take_frame)
        self._drawn = None
        self.hits = self._lvgl.draw(json.loads(view_json), {
            "width": d["width"], "height": d["height"], "colour": "mono" if mono else "color",
            "touch": "touch" in self.info})
        frame, self._drawn = self._drawn, None
        return frame

    def _take_frame(self, frame, stride, area):
        self._drawn = frame

    # The LCD board's expander (drivers/ch422g.py): the outputs driven high to run the panel,
    # the touch controller and the SD card (backlight on, resets released, card deselected).
    PANEL_ON = ("backlight", "lcd_rst", "touch_rst", "sd_cs")
    _expander = None  # made at the first show or touch; False: the board has none

    def _panel_on(self):
        """Light the LCD and release its and the touch controller's resets, once: after
        power-on the expander's pins are inputs and the screen stays dark."""
        if self._expander is not None:
            return
        self._expander = False
        if not self.info.get("io_expander"):
            return  # (and the e-paper board's wakes import nothing for it)
        from drivers.ch422g import ExpanderError, from_board

        self._expander = from_board(self.info) or False
        if not self._expander:
            return
        outputs = self.info["io_expander"]["outputs"]
        try:
            self._expander.start([name for name in self.PANEL_ON if name in outputs])
        except ExpanderError as e:
            print("problem: display | %s" % e)

    _led = None  # the status LED's driver, made at the first redraw; False: the board has none

    def _light(self, view_json):
        """The status LED in the colour of the view: the room free or busy, amber for a
        problem or a check-in awaited; out on other screens."""
        if self._led is None:
            from drivers.led import from_board

            self._led = from_board(self.info) or False
        if not self._led:
            return
        view = json.loads(view_json)
        status = view.get("status")
        colour = "off"
        if view["screen"] == "problem" or status == "awaiting_checkin":
            colour = "attention"
        elif view["screen"] == "room":
            colour = "free" if status == "free" else "busy"
        self._led.show(colour)

    def _paper(self, frame, full):
        """Send a frame to the e-paper panel. A partial refresh compares it with the frame
        kept from the last refresh (drivers/last_frame.py) and refreshes only the window
        around what changed, driving only the changed pixels."""
        from drivers.last_frame import LastFrame, changed
        from drivers.uc8179 import EpdError, from_board

        if self._epd is None:
            self._epd = from_board(self.info)
        epd = self._epd
        kept = LastFrame(SHOWN_FRAME, epd.width // 8, epd.height)
        old = None if full else kept.open()
        window = None  # None: the whole screen, every pixel driven
        bands = None  # the kept frame's bands to rewrite; None: all
        try:
            if old is not None:
                bands = []
                try:
                    window = changed(old, frame, epd.width // 8, epd.height, bands)
                except OSError:  # a band of the kept frame unreadable: do without it
                    old.close()
                    old = bands = None
                else:
                    if window is None:
                        return "none"
            epd.init()
            if full:
                epd.full(frame)
            else:
                epd.partial(frame, *(window or (0, 0, epd.width, epd.height)), old=old)
            epd.sleep()
            kept.save(frame, bands)
            self.kept_bytes += kept.written
        except EpdError as e:
            print("problem: display | %s" % e)
            kept.forget()
            return "failed"
        finally:
            if old is not None:
                old.close()
        return "full" if full else "partial"

    _touch = None  # the touch driver, started at the first look; False: none, or not answering

    def _touch_slept(self):
        # Its supply was off through the sleep: it saw no finger, and starting it (75 ms of
        # waits) would find nothing.
        return self._touch is None and self.battery_powered and not self.woken_by_button() \
            and not self.info.get("touch", {}).get("powered_in_deep_sleep")

    def start_touch(self):
        """Start the touch controller now when take_presses() will look at it: its start-up
        (75 ms of waits) then passes while the wake does something else."""
        if not self._touch_slept():
            self._touch_controller()

    def take_presses(self, hits=None):
        """Buttons pressed since the last look, as the view model's action ids: each tap on
        the touch controller that falls on one of `hits`, the buttons of the screen shown
        ([[action, x, y, w, h], ...], as show() left them in self.hits). A tap elsewhere, or
        with no buttons known, is taken and ignored."""
        if self._touch_slept():
            return []
        touch = self._touch_controller()
        if touch is None:
            return []
        from drivers.gt911 import TouchError

        presses, down = [], False
        try:
            for _ in range(MAX_TOUCH_REPORTS):
                points = touch.points()
                if points is None:
                    break  # no new report
                if points and not down:  # a finger came down: where?
                    x, y = points[0]
                    for action, hx, hy, hw, hh in hits or ():
                        if hx <= x < hx + hw and hy <= y < hy + hh:
                            presses.append(action)
                            break
                down = bool(points)
        except TouchError as e:
            print("problem: touch | %s" % e)
            self._touch = False
        return presses

    def listen(self, ms):
        """Stay awake up to ms with the touch controller on and the radio off, for someone at
        the door: "tap" as soon as a finger is on the glass (its taps are left for
        take_presses()), "button" when the wake button is pressed again (a fresh look at the
        calendar), None when neither happened or there is neither to listen to."""
        touch = self._touch_controller()
        buttons = self._wake_buttons()
        if touch is None and buttons is None:
            return None
        wake = set(self._wake_names())
        from drivers.gt911 import TouchError

        # A mains board stays awake: an RGB LCD's frame buffer is streamed by peripherals that
        # light sleep would stop.
        nap = machine.lightsleep if self.battery_powered else time.sleep_ms
        end = time.ticks_add(time.ticks_ms(), ms)
        while time.ticks_diff(end, time.ticks_ms()) > 0:
            if touch is not None:
                try:
                    if touch.pending():
                        return "tap"
                except TouchError as e:
                    print("problem: touch | %s" % e)
                    self._touch, touch = False, None
                    if buttons is None:
                        return None
            if buttons is not None and wake.intersection(buttons.pressed()):
                return "button"
            nap(min(LISTEN_POLL_MS, max(1, time.ticks_diff(end, time.ticks_ms()))))
        return None

    def woken_by_button(self):
        """Whether this boot is a wake from deep sleep by the board's wake button."""
        from drivers.buttons import woke_the_chip

        return woke_the_chip()

    _buttons = None  # the buttons' driver, made at the first look; False: the board has none

    def _wake_names(self):
        # power.wake_pins: "buttons.wake", ... (the buttons that end a deep sleep)
        return [p.split(".")[1] for p in self.info["power"].get("wake_pins") or ()
                if p.startswith("buttons.")]

    def _wake_buttons(self):
        """The buttons' driver if the board has wake buttons, else None."""
        if self._buttons is None:
            from drivers.buttons import from_board

            self._buttons = (self._wake_names() and from_board(self.info)) or False
        return self._buttons or None

    def _touch_controller(self):
        if self._touch is None:
            self._panel_on()  # the LCD board releases the GT911's reset through its expander
            self._touch = False
            if self.info.get("touch") and self.info["pins"].get("touch"):
                from drivers.gt911 import TouchError, from_board

                try:
                    touch = from_board(self.info)
                    touch.start()
                    self._touch = touch
                except TouchError as e:
                    print("problem: touch | %s" % e)
        return self._touch or None

    def wait(self, ms):
        """Stay awake (radio on) for ms, e.g. between sign-in polls."""
        time.sleep_ms(ms)

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

    def _arm_wake_button(self):
        """Let the board's wake button (power.wake_pins) end the deep sleep; ext0 takes one."""
        buttons = self._wake_buttons()
        if buttons is not None:
            buttons.arm_wake(self._wake_names()[0])

    def rtc_memory(self, data=None):
        # Survives deep sleep, not power loss: for what one wake tells the next.
        return machine.RTC().memory() if data is None else machine.RTC().memory(data)

    def sleep(self, ms):
        """Sleep until the next wake: deep sleep on battery; on mains a wait that a tap ends
        early."""
        if self.battery_powered:
            if self._touch:
                self._touch.sleep()  # its supply off: the GT911 would draw 0.78 mA dozing
            if self._led:
                self._led.show("off")  # a lit LED would draw milliamps all night
            self._arm_wake_button()
            machine.deepsleep(ms)
        started = time.ticks_ms()
        if not self.listen(ms):  # timed out, or no touch controller to listen to
            rest = ms - time.ticks_diff(time.ticks_ms(), started)
            if rest > 0:
                time.sleep_ms(rest)
