# The cell's voltage through a switched resistor divider on an ADC pin (board.json: pins.battery,
# power.battery), and its charge from the board's voltage curve. The divider is connected only
# while reading, so in deep sleep it draws nothing (board.json, pin_notes.battery.sense_enable).
import time
from machine import ADC, Pin

SAMPLES = 8  # readings averaged: the SAR ADC's noise is a few mV, a Wi-Fi burst more
SETTLE_MS = 2  # 1 M + 1 M with the ADC's sampling capacitor settles well within this


class Battery:
    def __init__(self, adc_pin, enable_pin, ratio, curve):
        """ratio: battery volts per ADC volt (r_top + r_bottom) / r_bottom; curve: the
        cell's [[mV, percent], ...] from full to empty (board.json power.battery.curve)."""
        self._adc = ADC(Pin(adc_pin), atten=ADC.ATTN_11DB)
        self._enable = Pin(enable_pin, Pin.OUT, value=0) if enable_pin is not None else None
        self._ratio = ratio
        self._curve = curve

    def millivolts(self):
        if self._enable is not None:
            self._enable.value(1)
            time.sleep_ms(SETTLE_MS)
        try:
            total = 0
            for _ in range(SAMPLES):
                total += self._adc.read_uv()  # calibrated by the esp32 port's eFuse values
        finally:
            if self._enable is not None:
                self._enable.value(0)
        return int(total * self._ratio / SAMPLES / 1000)

    def percent(self, mv):
        return percent(mv, self._curve)


def percent(mv, curve):
    """The charge left at mv, interpolated on the curve; 0 below its last point, 100 above its
    first."""
    if mv >= curve[0][0]:
        return curve[0][1]
    for i in range(1, len(curve)):
        hi, lo = curve[i - 1], curve[i]
        if mv >= lo[0]:
            return lo[1] + (mv - lo[0]) * (hi[1] - lo[1]) // (hi[0] - lo[0])
    return curve[-1][1]
