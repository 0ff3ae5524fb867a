# Stand-in for MicroPython's `machine` module on the emulated ESP32-S3. Constants and
# behaviour follow the esp32 port (docs.micropython.org "machine" and "Quick reference for the
# ESP32"); buses hand their traffic to peripheral models attached with attach_*().
import json
import time

import chip

# machine.reset_cause() values of the esp32 port (ports/esp32/modmachine.c).
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
# machine.wake_reason() values: ESP-IDF's esp_sleep_wakeup_cause_t.
PIN_WAKE = EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
TOUCHPAD_WAKE = 5
ULP_WAKE = 6

_RESET_CAUSES = {
    "power_on": PWRON_RESET, "sw": SOFT_RESET, "panic": SOFT_RESET,
    "deep_sleep": DEEPSLEEP_RESET, "wdt": WDT_RESET, "hard": HARD_RESET,
}
_WAKE_REASONS = {"timer": TIMER_WAKE, "ext0": EXT0_WAKE, "ext1": EXT1_WAKE}
_FREQS = (20_000_000, 40_000_000, 80_000_000, 160_000_000, 240_000_000)
_freq = 160_000_000  # the esp32 port's default CPU clock
_RTC_MEMORY_MAX = 2048  # MICROPY_HW_RTC_USER_MEM_MAX on the esp32 port


def reset_cause():
    return _RESET_CAUSES.get(chip.RESET_CAUSE, PWRON_RESET)


def wake_reason():
    return _WAKE_REASONS.get(chip.WAKE_REASON, 0)


def unique_id():
    return chip.MAC


def freq(hz=None):
    global _freq
    if hz is None:
        return _freq
    if hz not in _FREQS:
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    _freq = hz


def reset():
    chip.reset(chip.EXIT_HARD_RESET)


def soft_reset():
    raise SystemExit


def deepsleep(time_ms=0):
    # Ends this run; the emulator boots the firmware again after time_ms (0: until a wake pin).
    import esp32  # here: a firmware test of machine alone keeps esp32.py out of its heap

    reads, read_bytes = esp32.flash_reads
    chip.write_state("deep_sleep", json.dumps({
        "ms": int(time_ms or 0), "flash_reads": reads, "flash_read_bytes": read_bytes}).encode())
    chip.reset(chip.EXIT_DEEP_SLEEP)


def lightsleep(time_ms=None):
    # The timer is the only wake source the firmware sets for a light sleep; a panel that
    # waits for taps looks at its touch controller between short ones (Board.listen).
    time.sleep_ms(time_ms or 0)


def idle():
    time.sleep_ms(1)


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


class _Levels(dict):
    """Pin._driven: the levels the firmware drives, telling watchers (peripheral models) when
    a pin moves, so a model sees RST or a supply switch move as its chip would."""

    def __init__(self):
        super().__init__()
        self.watchers = {}  # pin -> [fn(level)]

    def __setitem__(self, pin, level):
        super().__setitem__(pin, level)
        for fn in self.watchers.get(pin, ()):
            fn(level)


class _Lines(dict):
    """Pin.external: levels driven from outside the chip; an entry may be a function, a
    model's output line read when the firmware reads the pin."""

    def __getitem__(self, pin):
        level = super().__getitem__(pin)
        return level() if callable(level) else level


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5

    # Levels driven from outside the chip (peripheral models, the emulator's buttons), and
    # those the firmware drives.
    external = _Lines()
    _driven = _Levels()

    def __init__(self, id, mode=-1, pull=-1, *, value=None, **kwargs):
        if not isinstance(id, int) or not 0 <= id <= 48:
            raise ValueError("invalid pin")
        self.id = id
        self._irq = None
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, **kwargs):
        if mode != -1:
            self._mode = mode
        if pull != -1:
            self._pull = pull
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if self.id in Pin.external:
                return Pin.external[self.id]
            if self.id in Pin._driven:
                return Pin._driven[self.id]
            return 1 if getattr(self, "_pull", -1) == Pin.PULL_UP else 0
        Pin._driven[self.id] = 1 if v else 0
        return None

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, wake=None):
        self._irq = (handler, trigger)

    def __repr__(self):
        return "Pin(%d)" % self.id


class _Bus:
    devices = None  # per subclass: bus key -> list of models

    @classmethod
    def attach(cls, bus_id, model):
        cls.devices.setdefault(bus_id, []).append(model)


class SPI(_Bus):
    MSB = 0
    LSB = 1
    devices = {}

    def __init__(self, id, baudrate=1_000_000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        self.id = id
        self.init(baudrate=baudrate, polarity=polarity, phase=phase)

    def init(self, baudrate=1_000_000, *, polarity=0, phase=0, **kwargs):
        self.baudrate = baudrate

    def deinit(self):
        pass

    def _transfer(self, out):
        # The device whose chip-select pin is low answers; the others see nothing.
        for model in SPI.devices.get(self.id, ()):
            if Pin._driven.get(model.cs, 1) == 0:
                return model.transfer(bytes(out))
        return b"\xff" * len(out)

    def write(self, buf):
        self._transfer(buf)

    def read(self, nbytes, write=0x00):
        return self._transfer(bytes([write]) * nbytes)

    def readinto(self, buf, write=0x00):
        buf[:] = self._transfer(bytes([write]) * len(buf))

    def write_readinto(self, write_buf, read_buf):
        read_buf[:] = self._transfer(write_buf)


class I2C(_Bus):
    devices = {}

    def __init__(self, id=0, *, scl=None, sda=None, freq=400_000, timeout=50000):
        self.id = id

    def _device(self, addr):
        for model in I2C.devices.get(self.id, ()):
            if model.address == addr:
                return model
        raise OSError(19)  # ENODEV: no ACK from that address, as on the esp32 port

    def scan(self):
        return sorted(model.address for model in I2C.devices.get(self.id, ()))

    def writeto(self, addr, buf, stop=True):
        self._device(addr).write(bytes(buf))
        return len(buf)

    def readfrom(self, addr, nbytes, stop=True):
        return self._device(addr).read(nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self.readfrom(addr, len(buf))

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self.writeto(addr, memaddr.to_bytes(addrsize // 8, "big") + bytes(buf))

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        self.writeto(addr, memaddr.to_bytes(addrsize // 8, "big"), False)
        return self.readfrom(addr, nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        buf[:] = self.readfrom_mem(addr, memaddr, len(buf), addrsize=addrsize)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    # Full-scale input per attenuation, ESP32-S3 Technical Reference Manual (SAR ADC).
    _FULL_SCALE_UV = (950_000, 1_250_000, 1_750_000, 3_100_000)
    # Microvolts at a pin, set by models (the battery divider: a function) or tests.
    inputs = {}

    def __init__(self, pin, *, atten=ATTN_11DB):
        self.pin = pin.id if isinstance(pin, Pin) else pin
        self.atten(atten)

    def atten(self, atten):
        self._atten = atten

    def read_uv(self):
        uv = ADC.inputs.get(self.pin, 0)
        if callable(uv):
            uv = uv()
        return min(uv, self._FULL_SCALE_UV[self._atten])

    def read_u16(self):
        return self.read_uv() * 65535 // self._FULL_SCALE_UV[self._atten]

    def read(self):
        return self.read_u16() >> 4


def _timegm(y, mo, d, h, mi, s):
    """Unix seconds of a UTC date and time (the RTC keeps UTC; the host's mktime would apply
    the host's time zone)."""
    days = 0
    for year in range(1970, y):
        days += 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    for month in range(1, mo):
        days += (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    return ((days + d - 1) * 24 + h) * 3600 + mi * 60 + s


class RTC:
    def datetime(self, datetimetuple=None):
        # The emulated RTC is the host clock plus an offset (board/unix/time.py) that setting
        # it changes; the offset lives in the emulator's state, so it survives resets and deep
        # sleep.
        if datetimetuple is not None:
            y, mo, d, _wd, h, mi, s, _sub = datetimetuple
            time.set_offset(_timegm(y, mo, d, h, mi, s) - time.host_time())
            return None
        t = time.gmtime()
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)

    def init(self, datetimetuple):
        self.datetime(datetimetuple)

    def memory(self, data=None):
        if data is None:
            return chip.read_state("rtc_memory")
        if len(data) > _RTC_MEMORY_MAX:
            raise ValueError("buffer too long")
        chip.write_state("rtc_memory", bytes(data))
        return None


class WDT:
    def __init__(self, id=0, timeout=5000):
        self._timeout = timeout
        self.feed()

    def feed(self):
        # The emulator resets the chip when the host clock passes this deadline.
        chip.write_state("wdt", str(time.host_time() + self._timeout / 1000).encode())


class Signal:
    def __init__(self, pin, *, invert=False):
        self._pin, self._invert = pin, invert

    def value(self, v=None):
        if v is None:
            return self._pin.value() ^ self._invert
        self._pin.value(bool(v) ^ self._invert)
        return None

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)
