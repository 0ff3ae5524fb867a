# hardware.Board.join_wifi on the emulated access point, in the Unix-port MicroPython: the first
# join after power-on scans once and remembers the access point in RTC memory; later wakes join
# it directly, with the address DHCP gave while it is fresh; a configured bssid and channel are
# used as given, and a remembered access point that no longer answers is forgotten for a fresh
# join.
import json
import network
import os
import time

import chip
import hardware

WIFI = {"ssid": chip.AP_SSID, "psk": chip.AP_PSK}
AP = ["024c494e544c", 6]  # board/unix/network.py's access point


class Board(hardware.Board):
    def __init__(self):
        with open(os.getenv("LINTEL_TEST_BOARD_JSON")) as f:
            self.info = json.load(f)


def join(wifi=WIFI, memory=None, meanwhile=None):
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.disconnect()  # as after a deep sleep: the radio starts unjoined, asking DHCP
    wlan.config(channel=None)
    wlan.ifconfig("dhcp")
    start = time.ticks_ms()
    problem = Board().join_wifi(wifi, memory, meanwhile)
    return problem, time.ticks_diff(time.ticks_ms(), start)


def test_the_first_join_scans_once_and_later_ones_go_straight_to_the_access_point():
    chip.write_state("wifi", b"up")
    memory = {}
    problem, first = join(memory=memory)
    assert problem is None and memory["ap"] == AP
    problem, later = join(memory=memory)
    assert problem is None and later < 300 and later < first


def test_a_configured_bssid_and_channel_are_used_and_not_remembered():
    chip.write_state("wifi", b"up")
    memory = {}
    wifi = dict(WIFI, bssid="02:4c:49:4e:54:4c", channel=6)
    problem, ms = join(wifi, memory)
    assert problem is None and ms < 700 and "ap" not in memory  # no scan; DHCP
    problem, ms = join(wifi, memory)
    assert problem is None and ms < 300  # no scan, no DHCP


def test_a_remembered_access_point_that_is_gone_is_forgotten():
    chip.write_state("wifi", b"up")
    memory = {"ap": ["02aabbccddee", 11]}  # another access point, moved or replaced
    problem, _ = join(memory=memory)
    assert problem is None and "ap" not in memory
    problem, _ = join(memory=memory)  # the next wake scans again and remembers the right one
    assert problem is None and memory["ap"] == AP


def test_a_network_out_of_range_says_so_in_words():
    chip.write_state("wifi", b"down")
    memory = {"ap": AP}
    problem, _ = join(memory=memory)
    assert problem == ("wifi_not_found", "Wi-Fi %s is not in range" % chip.AP_SSID)
    assert "ap" not in memory
    chip.write_state("wifi", b"up")


def test_the_address_from_dhcp_is_kept_for_keep_address_min():
    chip.write_state("wifi", b"up")
    memory = {}
    problem, _ = join(memory=memory)
    address, leased = memory["ip"][:4], memory["ip"][4]
    assert problem is None and address[0] == network.WLAN(network.STA_IF).ifconfig()[0]
    assert abs(leased - time.time()) < 5
    problem, ms = join(memory=memory)  # the address is used again: no DHCP exchange
    assert problem is None and ms < 300 and memory["ip"][4] == leased
    memory["ip"][4] -= 60 * 60 + 1  # an hour later: DHCP again, and the new lease kept
    problem, ms = join(memory=memory)
    assert problem is None and 500 <= ms < 900 and memory["ip"][4] > leased - 60


def test_no_address_is_kept_when_told_not_to_or_with_a_static_one():
    chip.write_state("wifi", b"up")
    memory = {}
    join(dict(WIFI, keep_address_min=0), memory)
    problem, ms = join(dict(WIFI, keep_address_min=0), memory)
    assert problem is None and ms >= 500  # every join asks DHCP
    static = {"address": "10.42.0.50", "netmask": "255.255.255.0", "gateway": "10.42.0.1",
              "dns": ["10.42.0.1"]}
    memory = {}
    problem, _ = join(dict(WIFI, static=static), memory)
    assert problem is None and "ip" not in memory
    assert network.WLAN(network.STA_IF).ifconfig()[0] == "10.42.0.50"


def test_the_wakes_own_work_runs_once_while_the_radio_associates():
    chip.write_state("wifi", b"up")
    wlan = network.WLAN(network.STA_IF)
    seen = []
    problem, _ = join(meanwhile=lambda: seen.append(wlan.isconnected()))
    assert problem is None and seen == [False] and wlan.isconnected()
    # Already joined (a wake that follows another without a sleep): the work still runs.
    assert Board().join_wifi(WIFI, {}, lambda: seen.append("again")) is None
    assert seen == [False, "again"]
