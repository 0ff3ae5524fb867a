# network stand-in: joins only the emulated access point, as the emulator's state says.
import network
import time

import chip


def _join(ssid, psk, **kwargs):
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.disconnect()
    wlan.connect(ssid, psk, **kwargs)
    start = time.ticks_ms()
    while wlan.status() == network.STAT_CONNECTING:
        time.sleep_ms(20)
    return wlan, time.ticks_diff(time.ticks_ms(), start)


def test_the_emulated_access_point_accepts_its_psk():
    chip.write_state("wifi", b"up")
    wlan, ms = _join(chip.AP_SSID, chip.AP_PSK)
    assert wlan.isconnected() and wlan.status() == network.STAT_GOT_IP
    assert wlan.ifconfig()[0] != "0.0.0.0"
    assert ms >= 700  # a join without channel and BSSID scans first


def test_a_known_channel_and_bssid_join_faster():
    chip.write_state("wifi", b"up")
    wlan, _ = _join(chip.AP_SSID, chip.AP_PSK)
    bssid = network._AP_BSSID
    _, ms = _join(chip.AP_SSID, chip.AP_PSK, bssid=bssid)
    assert ms >= 700  # the BSSID alone: every channel is still scanned
    wlan.config(channel=wlan.config("channel"))
    _, ms = _join(chip.AP_SSID, chip.AP_PSK, bssid=bssid)
    assert 500 <= ms < 700  # no scan; the DHCP exchange
    wlan.ifconfig(wlan.ifconfig())  # the address known: no DHCP either
    _, ms = _join(chip.AP_SSID, chip.AP_PSK, bssid=bssid)
    assert ms < 300
    wlan.ifconfig("dhcp")
    wlan.config(channel=None)


def test_wrong_psk_wrong_ssid_refusal_and_drop():
    chip.write_state("wifi", b"up")
    assert _join(chip.AP_SSID, "wrong-fake-psk")[0].status() == network.STAT_WRONG_PASSWORD
    assert _join("another-net", chip.AP_PSK)[0].status() == network.STAT_NO_AP_FOUND
    chip.write_state("wifi", b"refuse")
    assert _join(chip.AP_SSID, chip.AP_PSK)[0].status() == network.STAT_ASSOC_FAIL
    chip.write_state("wifi", b"up")
    wlan, _ = _join(chip.AP_SSID, chip.AP_PSK)
    chip.write_state("wifi", b"drop")
    assert not wlan.isconnected() and wlan.status() == network.STAT_BEACON_TIMEOUT
    chip.write_state("wifi", b"up")


def test_connect_before_active_is_an_error():
    wlan = network.WLAN(network.STA_IF)
    wlan.active(False)
    try:
        wlan.connect(chip.AP_SSID, chip.AP_PSK)
    except OSError:
        pass
    else:
        raise AssertionError("connect on an inactive interface succeeded")
