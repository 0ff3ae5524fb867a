"""bench/energy_bench.py's parsing and arithmetic, on console text of the panel's own format:
the benchmark's figures are only as good as these."""
# ruff: noqa: E501 -- the console lines below are the panel's, as long as it prints them

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import energy_bench  # noqa: E402 -- bench/energy_bench.py

CONSOLE = """\
ESP-ROM:esp32s3-20210327\r
rst:0x5 (DSLEEP),boot:0x8 (SPI_FAST_FLASH_BOOT)\r
Lintel 0.1.0 | board esp32s3-epd75 | device 7cdfa100004c | deep-sleep wake, wake 7 | 2026-11-30T06:05:00Z\r
state: configured | room Boardroom 4.12 <room-4.12@contoso.example> | backend graph | wifi lintel-lab\r
battery: 4000 mV, 78 %\r
wifi: joined lintel-lab in 160 ms (access point remembered)\r
screen: room | busy until 08:00 | 8 today, 8 tomorrow | redrawn (partial refresh)\r
wake: 1 requests, 1 connections, 1 TLS handshakes, 2463 B sent, 10186 B received, 260 ms, heap 244768 B live of 518144 B, radio on 200 ms (network 12 ms), display 20 ms, 8000 B kept\r
[lintel emulate] deep sleep for 278000 ms (flash read since the boot: 1869 times, 797152 B)\r
Lintel 0.1.0 | board esp32s3-epd75 | device 7cdfa100004c | deep-sleep wake, wake 8 | 2026-11-30T06:10:00Z\r
battery: 4000 mV, 78 %\r
wifi: joined lintel-lab in 160 ms (access point remembered, address kept), 6 ms of the wake's work meanwhile\r
token: renewed until 2026-11-30T07:10:00Z\r
screen: room | busy until 08:00 | 8 today, 8 tomorrow | unchanged, not redrawn\r
wake: 2 requests, 1 connections, 1 TLS handshakes, 3900 B sent, 12000 B received, 300 ms, heap 1 B live of 2 B, radio on 250 ms (network 30 ms), display 0 ms, 0 B kept\r
Lintel 0.1.0 | board esp32s3-epd75 | device 7cdfa100004c | deep-sleep wake, wake 9 | 2026-11-30T06:15:00Z\r
screen: room | busy until 08:00 | 8 today, 8 tomorrow | redrawn (no pixel changed)\r
wake: 2 requests, 1 connections, 1 TLS handshakes, 3900 B sent, 12000 B received, 300 ms, heap 1 B live of 2 B, radio on 250 ms (network 30 ms), display 0 ms, 0 B kept\r
Lintel 0.1.0 | board esp32s3-epd75 | device 7cdfa100004c | deep-sleep wake, wake 10 | 2026-11-30T06:20:00Z\r
battery: 4000 mV, 78 %\r
"""


def test_each_complete_wake_is_parsed_and_an_unfinished_one_left_out():
    wakes = energy_bench.parse_wakes(CONSOLE)
    assert [w["n"] for w in wakes] == [7, 8, 9]
    first, second, third = wakes
    assert first["at"] == 1796018700  # 2026-11-30T06:05:00Z
    assert (first["join_ms"], first["join"], first["refresh"]) == (160, "remembered", "partial")
    assert (first["ms"], first["radio_ms"], first["tls_handshakes"]) == (260, 200, 1)
    assert (first["network_ms"], second["network_ms"]) == (12, 30)
    assert not first["address_kept"] and second["address_kept"]
    assert (second["join_ms"], second["join"]) == (160, "remembered")
    assert (first["meanwhile_ms"], second["meanwhile_ms"]) == (0, 6)
    assert second["refresh"] == "none" and second["requests"] == 2
    assert (first["renewals"], second["renewals"]) == (0, 1)
    assert third["refresh"] == "same"
    assert first["battery_read"] and second["battery_read"] and not third["battery_read"]
    # The emulator's deep-sleep note after a wake's last line counts the flash it read.
    assert (first["flash_reads"], first["flash_read_bytes"]) == (1869, 797152)
    assert "flash_reads" not in second


def test_a_wake_costs_what_the_model_says():
    f = {"tls_handshake_s": 1.0, "round_trip_s": 0.15, "bytecode_slowdown": 20, "boot_s": 0.4,
         "flash_block_s": 0.05,
         "full_refresh_s": 5, "partial_refresh_s": 0.5, "active_160mhz_ma": 54.6,
         "wifi_rx_ma": 95, "epd_refresh_mw": 26.4, "light_sleep_ua": 240, "render_s": 0.4}
    w = energy_bench.parse_wakes(CONSOLE)[0]
    c = energy_bench.wake_charge(w, f)
    # The join, the handshake, the round trip, and the work: the radio-on time less the join
    # and the lab's network time (which the handshake and the round trip stand for).
    radio_s = 0.160 + 1.0 + 0.15 + (0.200 - 0.160 - 0.012) * 20
    # Boot, work but the display's and the battery divider's settling (a wait: once), two
    # bands of the picture kept, the redraw.
    settle = energy_bench.BATTERY_SETTLE_MS / 1000
    cpu_s = 0.4 + (0.260 - 0.200 - 0.020 - settle) * 20 + settle + 2 * 0.05 + 0.4
    assert c["radio"] == pytest.approx(radio_s * 95)
    assert c["cpu"] == pytest.approx(cpu_s * 54.6)
    assert c["display"] == pytest.approx(0.5 * (26.4 / 3.7 + 0.24))
    assert c["awake_s"] == pytest.approx(radio_s + cpu_s + 0.5)
    unchanged = energy_bench.wake_charge(energy_bench.parse_wakes(CONSOLE)[1], f)
    assert unchanged["display"] == 0 and unchanged["cpu"] == pytest.approx(
        (0.4 + (0.05 - settle) * 20 + settle) * 54.6)  # no redraw: no render either
    # Its token renewal is a second handshake in the field (another host), two round trips;
    # the 6 ms of work while joining take 0.12 s on the S3, inside the join's 0.16 s.
    assert unchanged["radio"] == pytest.approx(
        (0.160 + 2 * 1.0 + 2 * 0.15 + (0.250 - 0.160 - 0.030) * 20) * 95)
    # Work that outlasts the join on the S3 keeps the radio on for as long as it takes.
    slow = energy_bench.wake_charge(dict(energy_bench.parse_wakes(CONSOLE)[1],
                                         meanwhile_ms=10), f)
    assert slow["radio"] - unchanged["radio"] == pytest.approx((0.200 - 0.160) * 95)
    same = energy_bench.wake_charge(energy_bench.parse_wakes(CONSOLE)[2], f)
    assert same["display"] == 0 and same["cpu"] == pytest.approx(
        (0.4 + 0.05 * 20 + 0.4) * 54.6)  # no battery line: no settling to take out


def test_the_week_adds_up_to_days_on_the_battery(monkeypatch):
    wake = energy_bench.parse_wakes(CONSOLE)[0]
    f = energy_bench._figures()
    f.update({"bytecode_slowdown": 20, "render_s": 0.4})
    monkeypatch.setattr(energy_bench, "_figures", lambda: f)
    week = energy_bench.energy_model({"refresh_min": 5, "meetings": 0,
                                      "wakes": [wake] * 700})
    charge = energy_bench.wake_charge(wake, f)
    awake = 700 * charge["awake_s"]
    sleep_ua = f["deep_sleep_ua"] + f["regulator_quiescent_ua"] + f["epd_standby_ua"] \
        + f["battery_divider_ua"]
    total_mas = 700 * (charge["cpu"] + charge["radio"] + charge["display"]) \
        + (7 * 86400 - awake) * sleep_ua / 1000
    per_day = total_mas / 3600 / 7
    assert week["mah_per_day"] == pytest.approx(per_day, abs=0.001)
    usable = f["battery_capacity_mah"] * f["battery_usable_fraction"]
    drain = f["battery_capacity_mah"] * f["battery_self_discharge_pct_per_month"] / 100 / 30.44
    assert week["days_on_battery"] == round(usable / (per_day + drain))
    assert week["refreshes"] == {"full": 0, "partial": 700}


def test_a_line_the_model_reads_but_cannot_parse_stops_the_bench():
    changed = CONSOLE.replace("in 160 ms (access point remembered, address kept)",
                              "in 160 ms (access point remembered, lease kept)")
    with pytest.raises(SystemExit, match="cannot read this console line: wifi: joined"):
        energy_bench.parse_wakes(changed)


def test_what_it_would_take_solves_for_the_handshake_and_the_floor(monkeypatch):
    wake = energy_bench.parse_wakes(CONSOLE)[0]
    f = energy_bench._figures()
    f.update({"bytecode_slowdown": 20, "render_s": 0.4})
    monkeypatch.setattr(energy_bench, "_figures", lambda: f)
    sim = {"refresh_min": 5, "meetings": 0, "wakes": [wake] * 300}
    took = energy_bench.what_it_would_take(sim)
    at = took["handshake_s_for_goal"]
    assert at > 0
    days = energy_bench.energy_model(sim, dict(f, tls_handshake_s=at))["days_on_battery"]
    assert days >= energy_bench.GOAL_DAYS
    assert energy_bench.energy_model(sim, dict(f, tls_handshake_s=at + 0.02))[
        "days_on_battery"] < energy_bench.GOAL_DAYS
    assert took["days_without_firmware_work"] > energy_bench.energy_model(sim)["days_on_battery"]
    # Three times the wakes: not even a free handshake gives a year.
    busy = dict(sim, wakes=[wake] * 2100)
    assert energy_bench.what_it_would_take(busy)["handshake_s_for_goal"] is None


def test_people_at_the_door_cost_a_read_wake_and_the_listening_each(monkeypatch):
    drawn, unchanged, _ = energy_bench.parse_wakes(CONSOLE)
    f = energy_bench._figures()
    f.update({"bytecode_slowdown": 20, "render_s": 0.4})
    monkeypatch.setattr(energy_bench, "_figures", lambda: f)
    sim = {"refresh_min": 5, "meetings": 65, "wakes": [drawn] * 100 + [unchanged] * 600}
    people = energy_bench.with_people_at_the_door(sim)
    c = energy_bench.wake_charge(drawn, f)  # the wakes that read and redrew (partial)
    check_in = c["cpu"] + c["radio"] + c["display"] + energy_bench.LISTEN_S * f["listen_ma"]
    assert people["check_in_mah"] == round(check_in / 3600, 3)
    per_day = energy_bench.energy_model(sim)["mah_per_day"] + check_in * 65 / 7 / 3600
    usable = f["battery_capacity_mah"] * f["battery_usable_fraction"]
    drain = f["battery_capacity_mah"] * f["battery_self_discharge_pct_per_month"] / 100 / 30.44
    assert people["days_with_check_ins"] == round(usable / (per_day + drain))
    assert people["days_with_check_ins"] < energy_bench.energy_model(sim)["days_on_battery"]
    # A week that never redrew has no check-in wake to go by.
    assert energy_bench.with_people_at_the_door(dict(sim, wakes=[unchanged]))[
        "days_with_check_ins"] is None
