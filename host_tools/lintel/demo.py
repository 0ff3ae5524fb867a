"""`lintel demo`: an emulated panel against the local fake Microsoft 365 tenant, set up as a
technician would set up a real one (build, provision, push a panel.toml), signed in with the
device code flow, showing the demo office's busiest room. The panel's live screen is a web page
(a click is a touch); on the console, type an action id (book:15, extend:15, end, checkin,
find, service:catering:0) and Enter to press that button.
"""

from __future__ import annotations

import argparse
import json
import select
import sys
import tempfile
import time
from pathlib import Path

from lintel.errors import LintelError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", default="esp32s3-epd75", help="the panel (default esp32s3-epd75)")
    p.add_argument("--workdir", type=Path, metavar="DIR",
                   help="where the image, the tenant's state and the panel live "
                        "(default: a temporary folder)")
    p.add_argument("--speed", type=float, default=60,
                   help="time acceleration of the panel's sleeps (default 60: a 5-minute "
                        "sleep lasts 5 s)")
    p.add_argument("--web", type=int, default=8800, metavar="PORT",
                   help="serve the panel's live screen on http://127.0.0.1:PORT/ (default 8800; "
                        "0: any free port)")
    p.add_argument("--approve-after", type=float, default=20, metavar="S",
                   help="approve the sign-in code through the admin API after S seconds if "
                        "nobody has approved it on the tenant's page (default 20)")
    p.add_argument("--manual", action="store_true",
                   help="never approve the sign-in: enter the code yourself at the tenant's "
                        "/devicelogin page")
    p.add_argument("--wakes", type=int, default=0, metavar="N",
                   help="stop after N wakes of the signed-in panel (default: run until Ctrl-C)")


def run(args) -> int:
    from lintel import build
    from lintel.emulator.lab import Lab

    work = args.workdir or Path(tempfile.mkdtemp(prefix="lintel-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"demo: building the {args.board} image in {work / 'build'}", flush=True)
    image = build.build(args.board, work / "build").out_dir / "flash.bin"
    with Lab(work) as lab:
        print(f"demo: fake tenant at {lab.base_url} (admin API {lab.base_url}/_admin/)")
        toml = lab.panel_toml(room_list="rooms-floor-4@contoso.example",
                              alternatives=("Focus room 4.03 <room-4.03@contoso.example>",))
        panel = lab.start_panel(
            image, "--web", str(args.web), "--web-link",
            f"The fake tenant's sign-in page (one click approves the code)="
            f"{lab.base_url}/devicelogin", speed=args.speed)
        print(f"demo: emulated panel: console {panel.link} (mpremote connect it), log "
              f"{panel.log}, view model {panel.state / 'view.json'}")
        print(f"demo: the panel's screen: {panel.web_url}", flush=True)
        print(f"demo: lintel provision; lintel config push {toml}", flush=True)
        lab.configure(toml)
        code = lab.sign_in_code()
        print(f"demo: the panel shows the sign-in code {code}: open {lab.base_url}/devicelogin"
              f" and enter it" + ("" if args.manual else
                                  f" (or wait {args.approve_after:g} s: the demo approves it)"),
              flush=True)
        if not args.manual:
            _approve_unless_approved(lab, code, args.approve_after)
        text = panel.console_text()
        # Start at the boot that shows the code: the provisioning's raw REPL talk is not news.
        _follow(panel, args.wakes, text.rfind("\nLintel ", 0, text.find("sign in: ")) + 1)
    return 0


def _approve_unless_approved(lab, code: str, after: float) -> None:
    deadline = time.monotonic() + after
    while time.monotonic() < deadline:
        pending = lab.admin("GET", "device?status=pending") or []
        if not any(d["user_code"] == code for d in pending):
            return  # approved (or denied) on the page
        time.sleep(0.5)
    lab.approve(code)
    print("demo: approved the code through the admin API", flush=True)


def _follow(panel, wakes: int, seen: int) -> None:
    """Print the panel's console from `seen` on as it comes; tap the buttons whose action ids
    are typed."""
    done = 0
    interactive = sys.stdin.isatty()
    if interactive:
        print("demo: type the action id of a button on the screen (listed after `buttons:`) "
              "and Enter to tap it; "
              "Ctrl-C stops", flush=True)
    try:
        while True:
            text = panel.console_text()
            for line in text[seen:].splitlines(keepends=True):
                if not line.endswith("\n"):
                    break
                seen += len(line)
                print("panel| " + line, end="", flush=True)
                if line.startswith("screen: ") and "redrawn" in line:
                    print("demo| buttons: " + " ".join(panel.buttons()), flush=True)
                if line.startswith("wake: "):
                    done += 1
                    if wakes and done >= wakes:
                        return
            if panel.proc.poll() is not None:
                raise LintelError("the emulated panel stopped: " + panel.errors().strip())
            ready = select.select([sys.stdin], [], [], 0.2)[0] if interactive else None
            if ready:
                action = sys.stdin.readline().strip()
                if action:
                    try:
                        panel.press(action)
                    except LintelError as e:
                        print(f"demo: {e}", flush=True)
            elif not interactive:
                time.sleep(0.2)
    except KeyboardInterrupt:
        print("\ndemo: stopped; the last view model was:")
        print(json.dumps(panel.view(), indent=2))
