"""The technician's path on the emulated panel, with the real esptool and mpremote underneath:
provision a key, push a sealed configuration, refuse what must be refused, survive power cuts,
and update the application without losing the panel's key or configuration."""

import json
import shutil
import stat

import pytest

from helpers import Emulator, built_image, run_lintel
from lintel import ROOT, configfile, inventory, seal
from lintel.config import push
from lintel.errors import LintelError
from lintel.link import PanelLink

EXAMPLE = ROOT / "examples" / "panel.toml"


@pytest.fixture(autouse=True)
def lintel_home(tmp_path, monkeypatch):
    home = tmp_path / "lintel-home"
    monkeypatch.setenv("LINTEL_HOME", str(home))
    return home


def start_panel(tmp_path, name="panel", board="esp32s3-epd75", mac="7c:df:a1:00:00:0a"):
    work = tmp_path / name
    work.mkdir()
    flash = work / "flash.bin"
    shutil.copyfile(built_image(board) / "flash.bin", flash)
    return Emulator(flash, work, "--mac", mac)


@pytest.fixture
def panel(tmp_path):
    emu = start_panel(tmp_path)
    yield emu
    emu.stop()


def device_of(emu) -> str:
    with PanelLink(str(emu.link)) as link:
        return link.call("info")["device"]


def one_error_line(proc) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lintel: "), proc.stderr
    return lines[0]


def test_provision_push_and_the_panel_runs_the_configuration(panel, lintel_home):
    out = run_lintel("provision", "--port", panel.link)
    assert "provisioned panel 7cdfa100000a" in out.stdout
    record_file = lintel_home / "panels" / "7cdfa100000a.json"
    assert stat.S_IMODE(record_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((lintel_home / "panels").stat().st_mode) == 0o700
    record = json.loads(record_file.read_text())
    assert len(bytes.fromhex(record["key"])) == 32

    mark = panel.mark()
    out = run_lintel("config", "push", EXAMPLE, "--port", panel.link)
    assert "accepted the configuration" in out.stdout
    panel.wait_for("state: configured | room", since=mark)
    # Nothing secret reaches the console, in a whole run from boot to sleep.
    secrets = configfile.secrets(configfile.load(EXAMPLE))
    assert secrets, "the example has no secrets to look for"
    text = panel.console_text()
    for secret in secrets + [record["key"]]:
        assert secret not in text
    listing = run_lintel("inventory").stdout
    assert "7cdfa100000a" in listing and record["key"] not in listing


def test_provisioning_again_is_harmless_and_a_foreign_key_is_not_replaced(panel, lintel_home):
    first = run_lintel("provision", "--port", panel.link)
    again = run_lintel("provision", "--port", panel.link)
    assert "already provisioned" in again.stdout
    shutil.rmtree(lintel_home)  # another laptop: this computer does not know the panel's key
    line = one_error_line(run_lintel("provision", "--port", panel.link, check=False))
    assert "is not in this computer's inventory" in line and "--replace" in line
    replaced = run_lintel("provision", "--port", panel.link, "--replace")
    key_id = first.stdout.split("key id ")[1].split(",")[0]
    assert key_id not in replaced.stdout


def test_refusals_are_distinct_and_the_last_good_configuration_stays(tmp_path):
    a = start_panel(tmp_path, "a", mac="7c:df:a1:00:00:0a")
    b = start_panel(tmp_path, "b", mac="7c:df:a1:00:00:0b")
    try:
        for emu in (a, b):
            run_lintel("provision", "--port", emu.link)
        run_lintel("config", "push", EXAMPLE, "--port", b.link)
        for_a = tmp_path / "for-a.sealed"
        run_lintel("config", "seal", EXAMPLE, "--device", "7cdfa100000a", "--out", for_a)
        other = one_error_line(run_lintel("config", "push", for_a, "--port", b.link,
                                          check=False))
        assert "refused" in other and "sealed for another panel" in other

        good = tmp_path / "for-b.sealed"
        run_lintel("config", "seal", EXAMPLE, "--device", "7cdfa100000b", "--out", good)
        tampered = tmp_path / "tampered.sealed"
        data = bytearray(good.read_bytes())
        data[len(data) // 2] ^= 0x10
        tampered.write_bytes(data)
        changed = one_error_line(run_lintel("config", "push", tampered, "--port", b.link,
                                            check=False))
        assert "refused" in changed and "changed or damaged" in changed
        assert changed != other

        with PanelLink(str(b.link)) as link:
            info = link.call("info")
            assert info["configured"]
            mark = b.mark()
            link.reset()
        b.wait_for("note: the last configuration pushed was refused", since=mark)
        b.wait_for("state: configured | room", since=mark)
    finally:
        a.stop()
        b.stop()


def test_push_to_a_panel_without_a_key_says_to_provision(panel):
    line = one_error_line(run_lintel("config", "push", EXAMPLE, "--port", panel.link,
                                     check=False))
    assert "has no key yet" in line and "lintel provision" in line


def test_a_bad_panel_toml_is_refused_before_touching_the_panel(panel, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace("[wifi]", "[wifi]\npks = 'typo'", 1))
    proc = run_lintel("config", "push", bad, "--port", panel.link, check=False)
    assert proc.returncode == 1
    assert "wifi.pks" in proc.stderr and "Traceback" not in proc.stderr


def _sealed_config(device: str, room: str) -> bytes:
    doc = configfile.resolve(configfile.load(EXAMPLE))
    doc["room"]["mailbox"]["name"] = room
    key, key_id = inventory.key_of(device)
    return seal.seal(key, key_id, seal.KIND_CONFIG, json.dumps(doc).encode())


def _installed(emu) -> bytes:
    with PanelLink(str(emu.link)) as link:
        link.call("open_storage")
        out = link.exec("import binascii\n"
                        "print(binascii.hexlify(open('/cfg/config.sealed','rb').read()).decode())")
    return bytes.fromhex(out.strip())


@pytest.mark.parametrize("cut", ["first-chunk", "middle-chunk", "last-chunk", "before-install",
                                 "after-install"])
def test_a_power_cut_during_a_push_leaves_the_old_or_the_new_configuration(tmp_path, cut):
    emu = start_panel(tmp_path, "first")
    try:
        run_lintel("provision", "--port", emu.link)
        device = device_of(emu)
        old, new = _sealed_config(device, "Old Room"), _sealed_config(device, "New Room")
        with PanelLink(str(emu.link)) as link:
            assert push(link, old)["result"] == "ok"
        chunks = (len(new) + 255) // 256
        # Cut after this many 256-byte chunks have gone out (the last: all but the final one).
        cut_at = {"first-chunk": 1, "middle-chunk": chunks // 2,
                  "last-chunk": chunks - 1}.get(cut)

        killed = []

        def progress(written, total):
            if cut_at is not None and written >= cut_at * 256 and written < total:
                emu.proc.kill()  # the chip loses power mid-write
                killed.append(written)
            if cut == "before-install" and written == total:
                emu.proc.kill()

        link = PanelLink(str(emu.link))
        try:
            push(link, new, progress)
            if cut == "after-install":
                emu.proc.kill()
        except LintelError:
            pass
        finally:
            link.close()
    finally:
        emu.stop()

    (tmp_path / "after-the-cut").mkdir()
    again = Emulator(emu.flash, tmp_path / "after-the-cut")
    try:
        installed = _installed(again)
        assert installed in (old, new)
        if cut == "after-install":
            assert installed == new
        if cut_at is not None:
            assert killed, "the push finished before the cut"
            assert installed == old
        with PanelLink(str(again.link)) as link:
            link.reset()
        again.wait_for("state: configured | room")
    finally:
        again.stop()


def test_flash_app_only_keeps_the_key_and_the_configuration(panel):
    run_lintel("provision", "--port", panel.link)
    run_lintel("config", "push", EXAMPLE, "--port", panel.link, "--no-restart")
    before = _installed(panel)
    mark = panel.mark()
    out = run_lintel("flash", "--board", "esp32s3-epd75", "--port",
                     f"socket://127.0.0.1:{panel.port}", "--console", panel.link, "--app-only",
                     timeout=300)
    assert "the application can be replaced" in out.stdout
    assert "Hash of data verified" in out.stdout
    panel.wait_for("rst:0x1 (POWERON)", since=mark)
    assert _installed(panel) == before
    with PanelLink(str(panel.link)) as link:
        assert link.call("info")["key_id"] == inventory.get("7cdfa100000a")["key_id"]


def test_flash_app_only_refuses_a_panel_of_another_board(tmp_path):
    lcd = start_panel(tmp_path, "lcd", board="esp32s3-lcd43")
    try:
        line = one_error_line(run_lintel(
            "flash", "--board", "esp32s3-epd75", "--port", f"socket://127.0.0.1:{lcd.port}",
            "--console", lcd.link, "--app-only", check=False, timeout=300))
        assert "the panel is a esp32s3-lcd43, not a esp32s3-epd75" in line
    finally:
        lcd.stop()


def test_a_whole_image_flash_is_a_factory_reset(panel):
    run_lintel("provision", "--port", panel.link)
    mark = panel.mark()
    run_lintel("flash", "--board", "esp32s3-epd75", "--port", f"socket://127.0.0.1:{panel.port}",
               timeout=300)
    panel.wait_for("rst:0x1 (POWERON)", since=mark)
    with PanelLink(str(panel.link)) as link:
        info = link.call("info")
    assert info["key_id"] is None and not info["configured"]


def test_tools_given_a_port_with_no_panel_say_so_in_one_line(tmp_path):
    for verb in (["provision"], ["config", "push", str(EXAMPLE)]):
        line = one_error_line(run_lintel(*verb, "--port", tmp_path / "no-such-port",
                                         check=False))
        assert "cannot open" in line


def test_config_check_says_ok_or_names_every_problem(tmp_path):
    out = run_lintel("config", "check", EXAMPLE)
    assert out.stdout.strip() == f"{EXAMPLE}: ok"
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text()
                   .replace('clock = 24', 'clock = 13')
                   .replace("[wifi]", "[wifi]\npks = 'typo'", 1))
    proc = run_lintel("config", "check", bad, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert any(": wifi.pks: " in line for line in lines)
    assert any(": locale.clock: " in line for line in lines)
    assert all(line.startswith(f"{bad}:") for line in lines)


def test_monitor_streams_the_console(panel):
    # At --speed 1000 the unconfigured panel wakes about once a second and says so.
    out = run_lintel("monitor", "--port", panel.link, "--config", EXAMPLE, "--seconds", "3")
    assert "state: not configured" in out.stdout


def test_the_monitor_blanks_secrets():
    from lintel.monitor import REDACTED, Redactor

    secrets = configfile.secrets(configfile.load(EXAMPLE))
    redact = Redactor(secrets)
    for secret in secrets:
        assert redact(f"joined with {secret} ok") == f"joined with {REDACTED} ok"
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmYWtlLXRlc3QifQ.ZmFrZS1zaWduYXR1cmUtZm9yLXRlc3Rz"
    assert redact(f"token {jwt}") == f"token {REDACTED}"
    assert redact("Authorization: Bearer fake.token-value") == f"Authorization: Bearer {REDACTED}"
    assert redact('{"refresh_token": "fake-refresh"}') == f'{{"refresh_token": "{REDACTED}"}}'
    assert redact("key " + "ab" * 32) == f"key {REDACTED}"
    assert redact("state: configured | room Boardroom") == "state: configured | room Boardroom"


def test_the_panel_port_is_found_by_its_usb_identity(monkeypatch, capsys):
    # No USB panel can be plugged in here; the enumeration pyserial returns is stood in for.
    from serial.tools import list_ports_common

    from lintel import link

    def port(device, vid, pid):
        info = list_ports_common.ListPortInfo(device, skip_link_detection=True)
        info.vid, info.pid, info.serial_number = vid, pid, "FAKE-SERIAL"
        return info

    ports = [port("/dev/ttyS0", None, None), port("/dev/ttyUSB0", 0x10C4, 0xEA60),
             port("/dev/ttyACM0", 0x303A, 0x4001)]
    monkeypatch.setattr(link.serial.tools.list_ports, "comports", lambda: ports)
    assert link.find_port(None) == "/dev/ttyACM0"
    assert "MicroPython USB CDC" in capsys.readouterr().out
    ports.append(port("/dev/ttyACM1", 0x303A, 0x1001))
    with pytest.raises(LintelError, match="several panels on USB: /dev/ttyACM0 .*/dev/ttyACM1"):
        link.find_port(None)
    ports[:] = ports[:2]
    with pytest.raises(LintelError, match="no panel found on USB"):
        link.find_port(None)
    assert link.find_port("/dev/ttyX") == "/dev/ttyX"


def test_a_panel_without_lintel_is_told_apart(panel):
    # A panel with MicroPython but no Lintel application: its romfs partition erased, so
    # service.mpy is not there after the soft reset mpremote's raw REPL makes.
    out = panel.mpremote("exec", "import esp32; esp32.Partition('romfs').ioctl(6, 0)")
    assert out.returncode == 0, out.stderr
    line = one_error_line(run_lintel("provision", "--port", panel.link, check=False))
    assert "runs MicroPython but not Lintel" in line
