# machine stand-in: reset causes, RTC memory in the emulator's state, buses without devices.
import esp32
import json
import machine

import chip


def test_power_on_is_the_default_reset_cause():
    assert machine.reset_cause() == machine.PWRON_RESET
    assert machine.wake_reason() == 0


def test_rtc_memory_is_kept_in_the_state_folder():
    rtc = machine.RTC()
    assert rtc.memory() == b""
    rtc.memory(b"wake=3")
    assert machine.RTC().memory() == b"wake=3"
    assert chip.read_state("rtc_memory") == b"wake=3"
    try:
        rtc.memory(b"x" * 2049)
    except ValueError:
        pass
    else:
        raise AssertionError("RTC memory accepted more than 2048 bytes")


def test_deepsleep_records_the_time_and_leaves():
    (vfs,) = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="vfs")
    reads, read_bytes = esp32.flash_reads
    vfs.readblocks(0, bytearray(256))
    vfs.readblocks(1, bytearray(1024), 512)
    try:
        machine.deepsleep(1234)
    except chip.Reset as r:
        assert r.code == chip.EXIT_DEEP_SLEEP
    else:
        raise AssertionError("deepsleep returned")
    # With what was read from flash since the boot, for the emulator's deep-sleep note.
    assert json.loads(chip.read_state("deep_sleep")) == {
        "ms": 1234, "flash_reads": reads + 2, "flash_read_bytes": read_bytes + 1280}


def test_unique_id_is_the_mac():
    assert machine.unique_id() == chip.MAC and len(chip.MAC) == 6


def test_i2c_without_a_device_does_not_ack():
    i2c = machine.I2C(0, scl=machine.Pin(5), sda=machine.Pin(4))
    assert i2c.scan() == []
    try:
        i2c.writeto(0x5D, b"\x81")
    except OSError as e:
        assert e.args[0] == 19  # ENODEV, the esp32 port's "no ACK"
    else:
        raise AssertionError("write to a missing device succeeded")


def test_pins_drive_and_read():
    out = machine.Pin(38, machine.Pin.OUT, value=1)
    assert out.value() == 1
    out.off()
    assert out() == 0
    assert machine.Pin(21, machine.Pin.IN, machine.Pin.PULL_UP).value() == 1
    machine.Pin.external[21] = 0  # a button pressed
    assert machine.Pin(21, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0


def test_freq_accepts_only_the_chips_clocks():
    machine.freq(240_000_000)
    assert machine.freq() == 240_000_000
    try:
        machine.freq(123)
    except ValueError:
        pass
    else:
        raise AssertionError("freq(123) accepted")
