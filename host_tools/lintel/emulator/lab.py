"""A lab bench: the fake tenant and an emulated panel configured for it, set up the way a
technician would (lintel provision, lintel config push). Used by `lintel demo`, the end-to-end
tests and `make bench`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from lintel.emulator.background import BackgroundEmulator
from lintel.errors import LintelError

SIGN_IN_LINE = re.compile(r"sign in: open (\S+) and enter ([A-Z0-9]+)")
# The lab's backends: Microsoft 365 through Graph (the panel signs in with a device code), or
# the tenant's Exchange Web Services with the seed's service account (docs/tenant.md).
GRAPH_BACKEND = """\
[backend]
type = "graph"
tenant = "{tenant}"
client_id = "00000000-0000-0000-0000-00000000d0e5"
authority_host = "{base_url}"
graph_host = "{base_url}"
"""
EWS_BACKEND = """\
[backend]
type = "ews"
url = "{base_url}/EWS/Exchange.asmx"
account = {account}
password = {password}
auth = "{auth}"
"""

# The panel.toml a lab panel gets; {placeholders} are filled in by panel_toml().
PANEL_TOML = """\
# Written by lintel's lab (lintel demo, tests): a panel for the local fake tenant.
[panel]
name = "{name}"

[wifi]
ssid = "lintel-lab"
psk = "not-a-real-psk"

{backend}

[room]
mailbox = "{mailbox}"
{room_extra}
[locale]
timezone = "{timezone}"

[booking]
check_in = {{ enabled = true, window_before_min = {before_min}, window_after_min = {after_min} }}
auto_release_min = {auto_release_min}

[service]
recipient = "Facilities <facilities@contoso.example>"
catering = ["More coffee", "Water"]
support = ["Projector issue"]

[schedule]
refresh_min = {refresh_min}
office_hours = "00:00-24:00"
office_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# A short wait for the next tap: the lab's taps come with the wake button anyway.
listen_s = 5
{extra}
[tls]
extra_ca = "{ca}"
"""


class Lab:
    """A running fake tenant and, once `start_panel` is called, an emulated panel."""

    def __init__(self, workdir: Path, seed: Path | None = None,
                 follow_panel_clock: bool = False):
        from lintel.tenant import server

        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca = self.workdir / "tenant-ca.pem"
        self.seed = Path(seed) if seed else None
        self.tenant = server.start(0, seed, self.workdir / "tenant", self.ca)
        info = self.tenant.tenant.store.get_meta("tenant")
        self.domain, self.tenant_id = info["domain"], info["id"]
        self.base_url = self.tenant.base_url
        if follow_panel_clock:
            # The panel's emulated RTC (lintel emulate --clock-start): the tenant's clock, its
            # Date headers and token lifetimes go with the panel's days.
            self.tenant.tenant.clock_file = self.workdir / "panel" / "state" / "rtc_offset"
        self.panel: BackgroundEmulator | None = None
        self._ssl = ssl.create_default_context(cafile=str(self.ca))
        self.env = dict(os.environ, LINTEL_HOME=str(self.workdir / "lintel-home"))

    # -- the tenant -------------------------------------------------------------------------

    def admin(self, method: str, path: str, body=None):
        """Call the tenant's admin API; the JSON answer (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base_url}/_admin/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=30) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raise LintelError(f"tenant admin {method} {path}: HTTP {e.code} "
                              f"{e.read().decode(errors='replace')[:300]}") from None
        return json.loads(raw) if raw else None

    def ews_account(self) -> dict:
        """The seed's first EWS service account: upn, logon, password (fake values) and the
        domain (docs/tenant.md, "Exchange Web Services")."""
        from lintel.tenant import seed as seed_mod

        ews = seed_mod.read(self.seed or seed_mod.DEFAULT_SEED).get("ews") or {}
        if not ews.get("accounts"):
            raise LintelError("the lab's seed has no EWS account (its \"ews\" key)")
        return dict(ews["accounts"][0], domain=ews.get("domain") or "")

    # -- the panel --------------------------------------------------------------------------

    def panel_toml(self, mailbox: str = "Boardroom 4.12 <room-4.12@contoso.example>",
                   name: str = "Boardroom 4.12", room_list: str | None = None,
                   alternatives: tuple[str, ...] = (), timezone: str = "Europe/Amsterdam",
                   refresh_min: int = 5, check_in: tuple[int, int] = (5, 10),
                   auto_release_min: int = 10, extra: str = "",
                   file: str = "panel.toml", ca: Path | None = None,
                   ews: str | None = None, account: str | None = None,
                   password: str | None = None) -> Path:
        """The lab panel's panel.toml; ews = "ntlm" or "basic" puts it on the tenant's EWS
        with the seed's service account (or `account`/`password`)."""
        room_extra = ""
        if room_list:
            room_extra += f'room_list = "{room_list}"\n'
        if alternatives:
            room_extra += "alternatives = [" + ", ".join(json.dumps(a) for a in alternatives) \
                + "]\n"
        if ews:
            seeded = self.ews_account()
            backend = EWS_BACKEND.format(
                base_url=self.base_url, auth=ews,
                account=json.dumps(account or seeded["domain"] + "\\" + seeded["logon"]),
                password=json.dumps(password or seeded["password"]))
        else:
            backend = GRAPH_BACKEND.format(tenant=self.domain, base_url=self.base_url)
        text = PANEL_TOML.format(
            name=name, backend=backend, mailbox=mailbox,
            room_extra=room_extra, timezone=timezone, before_min=check_in[0],
            after_min=check_in[1], auto_release_min=auto_release_min,
            refresh_min=refresh_min, extra=extra, ca=ca or self.ca)
        path = self.workdir / file
        path.write_text(text)
        return path

    def start_panel(self, image: Path, *extra: str, speed: float = 1000,
                    mac: str = "7c:df:a1:00:00:4c") -> BackgroundEmulator:
        folder = self.workdir / "panel"
        folder.mkdir(exist_ok=True)
        flash = folder / "flash.bin"
        shutil.copyfile(image, flash)
        self.panel = BackgroundEmulator(flash, folder, "--mac", mac, *extra, speed=speed)
        return self.panel

    def lintel(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "lintel", *map(str, args)],
                              capture_output=True, text=True, timeout=120, env=self.env)
        if check and proc.returncode != 0:
            raise LintelError(f"lintel {' '.join(map(str, args))}: {proc.stderr.strip()}")
        return proc

    def configure(self, toml: Path) -> None:
        """Provision the panel (once) and push `toml` to it, as a technician would."""
        assert self.panel is not None
        self.lintel("provision", "--port", self.panel.link)
        self.lintel("config", "push", toml, "--port", self.panel.link)

    def sign_in_code(self, since: int = 0, timeout: float = 60) -> str:
        """The user code the panel shows (from its console), once it shows one: the firmware
        prints the line, then draws the screen, so this waits for the view model too."""
        assert self.panel is not None
        text = self.panel.wait_for("sign in: open ", timeout=timeout, since=since)
        deadline = time.monotonic() + 5
        while True:
            m = SIGN_IN_LINE.search(text)
            view = self.panel.view() or {}
            if m and view.get("screen") == "signin" and \
                    view["signin"].get("user_code") == m.group(2):
                return m.group(2)
            if time.monotonic() > deadline:
                raise LintelError(f"no user code on the panel's screen and sign-in line:\n{text}")
            time.sleep(0.05)
            text = self.panel.console_text()[since:]

    def approve(self, user_code: str) -> dict:
        return self.admin("POST", "device/approve", {"user_code": user_code})

    def sign_in(self, since: int = 0, timeout: float = 60) -> str:
        """Approve the code the panel shows; wait until it says it is signed in."""
        assert self.panel is not None
        code = self.sign_in_code(since, timeout)
        self.approve(code)
        self.panel.wait_for("signed in as ", timeout=timeout, since=since)
        return code

    def stop(self) -> None:
        if self.panel is not None:
            self.panel.stop()
            self.panel = None
        self.tenant.stop()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
