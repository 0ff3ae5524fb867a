# Stand-in for MicroPython's `network` module on the emulated ESP32-S3: one station interface
# that joins only the emulator's access point. The emulator's state file "wifi" says what the
# access point does now: "up" (default), "down" (gone: no AP found), "refuse" (rejects the
# join) or "drop" (an existing link is lost). Status codes are the esp32 port's.
import time

import chip

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3

# Join times: a fast reconnect with the channel, BSSID and address known, and a full scan
# with DHCP (../shared/BASELINES.md: about 0.16 s versus 0.8 s on an ESP32). A fast one that
# asks DHCP for its address takes the exchange's time more: an estimate, what is left of the
# 0.8 s once the 0.16 s join and the 0.2 s scan (scan() below) are taken out, rounded down.
_FAST_JOIN_MS = 160
_FULL_JOIN_MS = 800
_DHCP_MS = 400
_AP_CHANNEL = 6
_AP_BSSID = b"\x02\x4c\x49\x4e\x54\x4c"  # a locally administered address: "LINTL"
_hostname = "lintel"


def _ap():
    return chip.AP_SSID, chip.AP_PSK


def _ap_state():
    return chip.read_state("wifi", b"up").decode().strip() or "up"


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name
    return None


def country(code=None):
    return "XX" if code is None else None


class WLAN:
    IF_STA = STA_IF
    IF_AP = AP_IF
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2
    _instances = {}

    def __new__(cls, interface=STA_IF):
        # Like the esp32 port: one object per interface.
        if interface not in cls._instances:
            self = object.__new__(cls)
            self._init(interface)
            cls._instances[interface] = self
        return cls._instances[interface]

    def _init(self, interface):
        self._interface = interface
        self._active = False
        self._status = STAT_IDLE
        self._ready_at = 0
        self._ip = ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
        self._static = None
        self._ssid = ""
        self._channel = None  # set by config(channel=N): the join skips the channel scan

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        if not self._active:
            self.disconnect()
        return None

    def connect(self, ssid=None, key=None, *, bssid=None):
        if not self._active:
            raise OSError("Wifi Not Started")  # the esp32 port's words for ESP_ERR_WIFI_NOT_STARTED
        self._ssid = ssid or ""
        state = _ap_state()
        ap_ssid, ap_psk = _ap()
        # Only an access point named by its BSSID on a channel given beforehand skips the scan.
        known = bssid == _AP_BSSID and self._channel == _AP_CHANNEL
        join_ms = _FULL_JOIN_MS
        if known:
            join_ms = _FAST_JOIN_MS + (0 if self._static else _DHCP_MS)
        if state == "down" or ssid != ap_ssid or bssid not in (None, _AP_BSSID):
            self._status, join_ms = STAT_NO_AP_FOUND, _FULL_JOIN_MS
        elif state == "refuse":
            self._status = STAT_ASSOC_FAIL
        elif key != ap_psk:
            self._status = STAT_WRONG_PASSWORD
        else:
            self._status = STAT_CONNECTING
        self._ready_at = time.ticks_add(time.ticks_ms(), join_ms)

    def disconnect(self):
        self._status = STAT_IDLE
        self._ip = ("0.0.0.0",) * 4

    def _settle(self):
        # Joining takes time; a failure is known only when the attempt ends, as on the chip.
        if self._status == STAT_GOT_IP and _ap_state() in ("drop", "down"):
            self._status = STAT_BEACON_TIMEOUT
        if time.ticks_diff(time.ticks_ms(), self._ready_at) < 0:
            return STAT_CONNECTING if self._status != STAT_IDLE else STAT_IDLE
        if self._status == STAT_CONNECTING:
            self._status = STAT_GOT_IP
            self._ip = self._static or ("10.42.0.23", "255.255.255.0", "10.42.0.1", "10.42.0.1")
        return self._status

    def status(self, param=None):
        if param == "rssi":
            return -58 if self.isconnected() else 0
        return self._settle()

    def isconnected(self):
        return self._settle() == STAT_GOT_IP

    def ifconfig(self, config=None):
        if config is None:
            self._settle()
            return self._ip
        # "dhcp": back to asking DHCP, as on the esp32 port.
        self._static = None if config == "dhcp" else tuple(config)
        return None

    def config(self, *args, **kwargs):
        if kwargs:
            if "channel" in kwargs:
                self._channel = kwargs["channel"]
            return None
        name = args[0]
        values = {"mac": chip.MAC, "ssid": self._ssid, "channel": _AP_CHANNEL,
                  "hostname": _hostname, "txpower": 20, "pm": self.PM_PERFORMANCE}
        if name not in values:
            raise ValueError("unknown config param")
        return values[name]

    def scan(self):
        if not self._active:
            raise OSError("Wifi Not Started")
        time.sleep_ms(200)
        if _ap_state() == "down":
            return []
        return [(chip.AP_SSID.encode(), _AP_BSSID, _AP_CHANNEL, -58, AUTH_WPA2_PSK, False)]
