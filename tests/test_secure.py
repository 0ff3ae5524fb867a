"""`lintel secure` against espefuse's virtual ESP32-S3 eFuses (--virt), through the real CLI."""

import base64
import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lintel.secure import fast_yaml

FE_KEY = "flash-encryption-key.bin"
SB_KEY = "secure-boot-signing-key.pem"
PLAN_LINE = re.compile(r"^\s+\d+\. (\S+)\s+:= (\S+)", re.M)

# What a fresh ESP32-S3 gets, in burn order (docs/secure.md, "The plan").
RELEASE_PLAN = [
    ("BLOCK_KEY0", "XTS_AES_256_KEY_1"),
    ("BLOCK_KEY1", "XTS_AES_256_KEY_2"),
    ("SPI_BOOT_CRYPT_CNT", "7"),
    ("DIS_DOWNLOAD_ICACHE", "1"),
    ("DIS_DOWNLOAD_DCACHE", "1"),
    ("DIS_PAD_JTAG", "1"),
    ("DIS_USB_JTAG", "1"),
    ("DIS_DIRECT_BOOT", "1"),
    ("DIS_DOWNLOAD_MANUAL_ENCRYPT", "1"),
    ("WR_DIS[2]", "1"),
    ("BLOCK_KEY2", "SECURE_BOOT_DIGEST0"),
    ("SECURE_BOOT_EN", "1"),
    ("SOFT_DIS_JTAG", "7"),
    ("SECURE_BOOT_AGGRESSIVE_REVOKE", "1"),
    ("SECURE_BOOT_KEY_REVOKE1", "1"),
    ("SECURE_BOOT_KEY_REVOKE2", "1"),
    ("WR_DIS[0]", "1"),
    ("ENABLE_SECURITY_DOWNLOAD", "1"),
]


def secure(*args, home=None, stdin=subprocess.DEVNULL):
    env = dict(os.environ)
    if home is not None:
        env["LINTEL_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "lintel", "secure", *map(str, args)],
                          capture_output=True, text=True, timeout=60, env=env, stdin=stdin)


def summary(efuse_file: Path, tmp_path: Path) -> dict:
    """`espefuse summary --format json` of the virtual chip kept in EFUSE_FILE (espefuse's API,
    in this process: a subprocess per summary would double the time of this file)."""
    import espefuse

    out = tmp_path / "summary.json"
    with (contextlib.redirect_stdout(io.StringIO()), fast_yaml(),
          espefuse.init_commands(chip="esp32s3", virt=True, virt_efuse_file=str(efuse_file),
                                 do_not_confirm=True) as cmds):
        cmds.summary(format="json", file=open(out, "w"))  # summary() closes it
    return json.loads(out.read_text())


def fresh_chip(efuse_file: Path, tmp_path: Path) -> bytes:
    """A new virtual chip (espefuse writes its file on first use); its eFuse memory."""
    assert summary(efuse_file, tmp_path)["SECURE_BOOT_EN"]["value"] is False
    return efuse_file.read_bytes()


def one_line_error(proc, *words):
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lintel: "), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def plan_of(stdout: str) -> list[tuple[str, str]]:
    return PLAN_LINE.findall(stdout)


def changed(before: dict, after: dict) -> set[str]:
    """eFuses whose value or readability changed (write protection is checked separately)."""
    return {name for name in before
            if (before[name]["raw_value"], before[name]["readable"])
            != (after[name]["raw_value"], after[name]["readable"])}


def no_key_material(text: str, keys: Path) -> None:
    fe = (keys / FE_KEY).read_bytes()
    for half in (fe[:32], fe[32:], fe[:32][::-1], fe[32:][::-1]):
        for chunk in (half[:8], half[8:16], half[16:24], half[24:]):
            assert chunk.hex() not in text.lower()
            assert chunk.hex(" ") not in text.lower()
    assert base64.b64encode(fe[:24]).decode() not in text
    pem_lines = [ln for ln in (keys / SB_KEY).read_text().splitlines() if "-----" not in ln]
    for line in pem_lines:
        assert line[:32] not in text


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """One virtual chip taken from fresh to secured by `lintel secure --yes`."""
    tmp = tmp_path_factory.mktemp("secured")
    efuses, keys = tmp / "efuses.bin", tmp / "keys"
    keys.mkdir()
    before = summary(efuses, tmp)
    proc = secure("--virt", "--efuse-file", efuses, "--keys", keys, "--yes",
                  "--board", "esp32s3-epd75")
    assert proc.returncode == 0, proc.stderr
    return {"tmp": tmp, "efuses": efuses, "keys": keys, "before": before,
            "after": summary(efuses, tmp), "proc": proc}


def test_dry_run_prints_the_plan_and_burns_nothing(tmp_path):
    efuses, keys = tmp_path / "efuses.bin", tmp_path / "keys"
    keys.mkdir()
    before = summary(efuses, tmp_path)
    proc = secure("--virt", "--efuse-file", efuses, "--keys", keys, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert plan_of(proc.stdout) == RELEASE_PLAN
    assert "Irreversible" in proc.stdout and "Key backup" in proc.stdout
    assert "Dry run: nothing was burned" in proc.stdout
    assert summary(efuses, tmp_path) == before
    assert list(keys.iterdir()) == []


def test_dry_run_in_development_mode(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    proc = secure("--virt", "--keys", keys, "--dry-run", "--development")
    assert proc.returncode == 0, proc.stderr
    plan = dict(plan_of(proc.stdout))
    assert plan["SPI_BOOT_CRYPT_CNT"] == "1"
    for release_only in ("DIS_DOWNLOAD_MANUAL_ENCRYPT", "WR_DIS[2]", "ENABLE_SECURITY_DOWNLOAD",
                         "SECURE_BOOT_AGGRESSIVE_REVOKE"):
        assert release_only not in plan
    assert plan["SECURE_BOOT_EN"] == "1" and plan["BLOCK_KEY2"] == "SECURE_BOOT_DIGEST0"


def test_apply_burns_exactly_the_plan(secured):
    proc, before, after = secured["proc"], secured["before"], secured["after"]
    plan = plan_of(proc.stdout)
    assert plan == RELEASE_PLAN
    names = {name.split("[")[0] for name, _ in plan}
    # Burning a key also sets (and write-protects) its purpose; read protection lives in RD_DIS.
    implied = {"KEY_PURPOSE_0", "KEY_PURPOSE_1", "KEY_PURPOSE_2", "RD_DIS", "WR_DIS"}
    assert changed(before, after) == names | implied
    for name, value in plan:
        if name.startswith("BLOCK_KEY"):
            assert after["KEY_PURPOSE_" + name[-1]]["value"] == value
            assert not after[name]["writeable"]
            assert not after["KEY_PURPOSE_" + name[-1]]["writeable"]
        elif not name.startswith("WR_DIS"):
            assert int(after[name]["raw_value"], 16) == int(value), name
    # The flash-encryption key can never be read back; the secure-boot digest stays readable.
    assert not after["BLOCK_KEY0"]["readable"] and not after["BLOCK_KEY1"]["readable"]
    assert after["BLOCK_KEY2"]["readable"]
    # WR_DIS[2] write-protects the download-mode/JTAG group, WR_DIS[0] RD_DIS.
    assert not after["DIS_ICACHE"]["writeable"] and not after["DIS_USB_JTAG"]["writeable"]
    assert not after["RD_DIS"]["writeable"]
    assert "Done: every eFuse of the plan reads back as planned" in proc.stdout
    assert proc.stderr == ""


def test_burned_digest_is_espsecures_digest_of_the_signing_key(secured):
    keys, tmp = secured["keys"], secured["tmp"]
    digest = tmp / "digest.bin"
    subprocess.run([sys.executable, "-m", "espsecure", "digest-sbv2-public-key", "--keyfile",
                    str(keys / SB_KEY), "--output", str(digest)], check=True,
                   capture_output=True, timeout=60)
    burned = bytes.fromhex(secured["after"]["BLOCK_KEY2"]["value"].replace(" ", ""))
    assert burned == digest.read_bytes()


def test_keys_are_0600_new_and_never_printed(secured):
    keys, proc = secured["keys"], secured["proc"]
    assert sorted(p.name for p in keys.iterdir()) == [FE_KEY, SB_KEY]
    for path in keys.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert len((keys / FE_KEY).read_bytes()) == 64
    assert (keys / SB_KEY).read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    no_key_material(proc.stdout + proc.stderr, keys)
    assert f"Back up {keys}" in proc.stdout


def test_second_apply_on_a_secured_chip_burns_nothing(secured):
    efuses, keys, tmp = secured["efuses"], secured["keys"], secured["tmp"]
    key_bytes = {p.name: p.read_bytes() for p in keys.iterdir()}
    proc = secure("--virt", "--efuse-file", efuses, "--keys", keys, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "already secured" in proc.stdout and "nothing to burn" in proc.stdout
    assert plan_of(proc.stdout) == []
    assert summary(efuses, tmp) == secured["after"]
    assert {p.name: p.read_bytes() for p in keys.iterdir()} == key_bytes


def test_secured_chip_with_another_panels_keys_is_refused(secured, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / SB_KEY).write_bytes(_rsa3072_pem())
    os.chmod(other / SB_KEY, 0o600)
    proc = secure("--virt", "--efuse-file", secured["efuses"], "--keys", other)
    one_line_error(proc, "does not match", "another panel")


def _rsa3072_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def test_default_key_folder_under_lintel_home(tmp_path):
    efuses, home = tmp_path / "efuses.bin", tmp_path / "home"
    proc = secure("--virt", "--efuse-file", efuses, "--yes", "--development", "--verbose",
                  home=home)
    assert proc.returncode == 0, proc.stderr
    keys = home / "keys" / "000000000000"  # the virtual chip's MAC, as a panel id
    assert (keys.stat().st_mode & 0o777) == 0o700
    assert ((home / "keys").stat().st_mode & 0o777) == 0o700
    for name in (FE_KEY, SB_KEY):
        assert ((keys / name).stat().st_mode & 0o777) == 0o600
    # --verbose shows espefuse's own output, which masks keys as "??".
    assert "?? ?? ??" in proc.stdout
    no_key_material(proc.stdout + proc.stderr, keys)
    # Development mode then release mode: only the release extras are left to burn.
    proc = secure("--virt", "--efuse-file", efuses, "--dry-run", home=home)
    assert [name for name, _ in plan_of(proc.stdout)] == [
        "SPI_BOOT_CRYPT_CNT", "DIS_DOWNLOAD_MANUAL_ENCRYPT", "WR_DIS[2]",
        "SECURE_BOOT_AGGRESSIVE_REVOKE", "ENABLE_SECURITY_DOWNLOAD"]


def test_partly_secured_chip_resumes_with_what_is_missing(tmp_path):
    """A run that stopped after the flash-encryption key: only the rest is planned, and a new
    signing key is made next to the existing flash-encryption key."""
    import espefuse

    efuses, keys = tmp_path / "efuses.bin", tmp_path / "keys"
    keys.mkdir()
    fe = os.urandom(64)
    fd = os.open(keys / FE_KEY, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, fe)
    os.close(fd)
    with (contextlib.redirect_stdout(io.StringIO()), fast_yaml(),
          espefuse.init_commands(chip="esp32s3", virt=True, virt_efuse_file=str(efuses),
                                 do_not_confirm=True) as cmds):
        cmds.burn_key(["BLOCK_KEY0", "BLOCK_KEY1"], [io.BytesIO(fe[:32]), io.BytesIO(fe[32:])],
                      ["XTS_AES_256_KEY_1", "XTS_AES_256_KEY_2"])
    proc = secure("--virt", "--efuse-file", efuses, "--keys", keys, "--yes")
    assert proc.returncode == 0, proc.stderr
    assert plan_of(proc.stdout) == RELEASE_PLAN[2:]
    assert "Already burned" in proc.stdout
    assert f"{FE_KEY} (existing" not in proc.stdout  # the key is burned: not needed again
    assert (keys / SB_KEY).exists() and (keys / FE_KEY).read_bytes() == fe


def test_refuses_to_overwrite_existing_keys(tmp_path):
    efuses, keys = tmp_path / "efuses.bin", tmp_path / "keys"
    keys.mkdir()
    (keys / FE_KEY).write_bytes(b"old key that belongs to another panel....................")
    before = fresh_chip(efuses, tmp_path)
    for extra in ([], ["--dry-run"]):
        proc = secure("--virt", "--efuse-file", efuses, "--keys", keys, "--yes", *extra)
        one_line_error(proc, "already exists", "never overwrites")
    assert (keys / FE_KEY).read_bytes().startswith(b"old key")
    assert not (keys / SB_KEY).exists()
    assert efuses.read_bytes() == before


def test_missing_or_unusable_key_folder(tmp_path):
    one_line_error(secure("--virt", "--keys", tmp_path / "nope", "--yes"), "does not exist")
    a_file = tmp_path / "file"
    a_file.write_text("")
    one_line_error(secure("--virt", "--keys", a_file, "--yes"), "is not a folder")
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    if os.access(read_only, os.W_OK):  # root ignores modes; procfs refuses even root
        read_only = Path("/proc/1")
    efuses = tmp_path / "efuses.bin"
    before = fresh_chip(efuses, tmp_path)
    proc = secure("--virt", "--efuse-file", efuses, "--keys", read_only, "--yes")
    one_line_error(proc, "not writable")
    assert efuses.read_bytes() == before


def test_confirmation_is_required(tmp_path):
    efuses, keys = tmp_path / "efuses.bin", tmp_path / "keys"
    keys.mkdir()
    before = fresh_chip(efuses, tmp_path)
    proc = secure("--virt", "--efuse-file", efuses, "--keys", keys)
    one_line_error(proc, "refusing to burn", "--yes")
    assert efuses.read_bytes() == before
    assert list(keys.iterdir()) == []


def test_argument_errors_are_one_line(tmp_path):
    one_line_error(secure("--dry-run"), "--port")
    one_line_error(secure("--port", "/dev/null", "--efuse-file", tmp_path / "x"), "--virt")
    one_line_error(secure("--port", tmp_path / "no-such-port", "--dry-run"), "no-such-port")


def _in_terminal(args: list, answer: bytes) -> tuple[int, str]:
    """Run lintel secure on a pseudo-terminal and type ANSWER at the MAC prompt."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: lintel, with the pty as its terminal
        os.execv(sys.executable, [sys.executable, "-m", "lintel", "secure", *map(str, args)])
    out, sent = b"", False
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        out += data
        if not sent and b"to burn: " in out:
            os.write(fd, answer)
            sent = True
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode().replace("\r", "")


def test_typing_the_mac_confirms(tmp_path):
    efuses, keys = tmp_path / "efuses.bin", tmp_path / "keys"
    keys.mkdir()
    before = fresh_chip(efuses, tmp_path)
    args = ["--virt", "--efuse-file", efuses, "--keys", keys]
    code, out = _in_terminal(args, b"00:00:00:00:00:01\n")
    assert code == 1 and "lintel: the MAC address did not match: nothing was burned" in out
    assert efuses.read_bytes() == before and list(keys.iterdir()) == []
    code, out = _in_terminal(args, b"00-00-00-00-00-00\n")
    assert code == 0, out
    assert "Done: every eFuse of the plan reads back as planned" in out
    assert summary(efuses, tmp_path)["ENABLE_SECURITY_DOWNLOAD"]["value"] is True


def test_chip_secured_some_other_way_is_refused(tmp_path):
    import espefuse

    efuses, keys = tmp_path / "efuses.bin", tmp_path / "keys"
    keys.mkdir()
    with (contextlib.redirect_stdout(io.StringIO()), fast_yaml(),
          espefuse.init_commands(chip="esp32s3", virt=True, virt_efuse_file=str(efuses),
                                 do_not_confirm=True) as cmds):
        cmds.burn_key(["BLOCK_KEY0"], [io.BytesIO(os.urandom(32))], ["XTS_AES_128_KEY"])
    before = efuses.read_bytes()
    proc = secure("--virt", "--efuse-file", efuses, "--keys", keys, "--dry-run")
    one_line_error(proc, "BLOCK_KEY0 already holds a key with purpose XTS_AES_128_KEY")
    assert efuses.read_bytes() == before and list(keys.iterdir()) == []
