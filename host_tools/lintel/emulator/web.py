"""`lintel emulate --web PORT`: the emulated panel's screen in a browser.

The page shows the panel's real screen: the view model the firmware last showed (the state
file view.json), drawn by the host renderer with the firmware's own LVGL screens
(`lintel.render`). A click on the image is a tap at that pixel on the touch controller's model
(the touch file, then SIGUSR1 to this process, which wakes a sleeping panel as its wake button
would); the firmware finds the button under it. The page says which button that is, from the
renderer's hit areas, and polls for a new view.
"""

from __future__ import annotations

import hashlib
import html
import http.server
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

from lintel.emulator.background import tap

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lintel panel {device}</title>
<style>
 body {{ font-family: sans-serif; background: #444; color: #eee; margin: 2em; }}
 #frame {{ display: inline-block; padding: 28px; background: #222; border-radius: 18px; }}
 #screen {{ display: block; cursor: pointer; background: #fff; image-rendering: pixelated; }}
 #status {{ margin-top: 1em; min-height: 1.2em; }}
 a {{ color: #9cf; }}
</style></head>
<body>
<h1>Lintel emulated panel <small>{board}</small></h1>
<div id="frame"><img id="screen" alt="the panel's screen" width="{width}" height="{height}"
 src="screen.png?v={version}"></div>
<p id="status">Click a button on the screen to press it.</p>
{links}
<script>
let version = "{version}";
const img = document.getElementById("screen"), status = document.getElementById("status");
img.addEventListener("click", async (ev) => {{
  const r = img.getBoundingClientRect();
  const x = Math.round((ev.clientX - r.left) * {width} / r.width);
  const y = Math.round((ev.clientY - r.top) * {height} / r.height);
  const answer = await (await fetch("touch", {{method: "POST",
    headers: {{"Content-Type": "application/json"}}, body: JSON.stringify({{x, y}})}})).json();
  status.textContent = answer.action ? "Pressed " + answer.action + "; the panel wakes."
                                     : "Nothing to press there.";
}});
async function poll() {{
  try {{
    const state = await (await fetch("state")).json();
    if (state.version !== version) {{
      version = state.version;
      img.src = "screen.png?v=" + version;
      img.dataset.screen = state.screen;
    }}
  }} catch (e) {{}}
  setTimeout(poll, 500);
}}
poll();
</script></body></html>
"""


class WebView:
    """The page's server, in threads of the emulator's process."""

    def __init__(self, state_dir: Path, board: Any, device: str, links: list[tuple[str, str]]):
        self.state_dir, self.board, self.device, self.links = state_dir, board, device, links
        self._display = board.data["display"]
        self._lock = threading.Lock()  # LVGL draws one screen at a time
        self._cache: tuple[str, bytes, list] | None = None
        self.httpd: http.server.ThreadingHTTPServer | None = None

    def serve(self, port: int) -> int:
        view = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # noqa: A002 -- http.server's name
                pass

            def do_GET(self):  # noqa: N802 -- http.server's naming
                view.get(self)

            def do_POST(self):  # noqa: N802
                view.post(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self.httpd.server_address[1]

    def close(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    # -- what the page asks ----------------------------------------------------------------

    def _view_bytes(self) -> bytes | None:
        try:
            return (self.state_dir / "view.json").read_bytes()
        except FileNotFoundError:
            return None

    def _rendered(self) -> tuple[str, bytes, list] | None:
        data = self._view_bytes()
        if data is None:
            return None
        version = hashlib.sha256(data).hexdigest()[:16]
        with self._lock:
            if self._cache is None or self._cache[0] != version:
                from lintel.render import render

                png, hits = render(json.loads(data), self.board.name)
                self._cache = (version, png, hits)
            return self._cache

    def get(self, req: http.server.BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        if path == "/":
            data = self._view_bytes()
            version = hashlib.sha256(data).hexdigest()[:16] if data else ""
            links = "".join(f'<p><a href="{html.escape(url)}" target="_blank">'
                            f"{html.escape(text)}</a></p>" for text, url in self.links)
            body = PAGE.format(device=html.escape(self.device), board=html.escape(
                self.board.name), width=self._display['width'],
                height=self._display['height'],
                version=version, links=links).encode()
            return _send(req, 200, "text/html; charset=utf-8", body)
        if path == "/state":
            data = self._view_bytes()
            state = {"version": hashlib.sha256(data).hexdigest()[:16] if data else "",
                     "screen": json.loads(data).get("screen") if data else None}
            return _send(req, 200, "application/json", json.dumps(state).encode())
        if path == "/view.json":
            data = self._view_bytes()
            return _send(req, 200 if data else 404, "application/json", data or b"null")
        if path == "/screen.png":
            rendered = self._rendered()
            if rendered is None:
                return _send(req, 503, "text/plain", b"the panel has not drawn a screen yet")
            return _send(req, 200, "image/png", rendered[1])
        _send(req, 404, "text/plain", b"not found")

    def post(self, req: http.server.BaseHTTPRequestHandler) -> None:
        if req.path != "/touch":
            return _send(req, 404, "text/plain", b"not found")
        try:
            length = int(req.headers.get("Content-Length") or 0)
            point = json.loads(req.rfile.read(min(length, 4096)))
            x, y = int(point["x"]), int(point["y"])
        except (ValueError, KeyError, TypeError):
            return _send(req, 400, "application/json", b'{"error": "send {\\"x\\": .., '
                                                       b'\\"y\\": ..}"}')
        rendered = self._rendered()
        action = None
        for hit in (rendered[2] if rendered else []):
            name, hx, hy, hw, hh = hit
            if hx <= x < hx + hw and hy <= y < hy + hh:
                action = name
                break
        if action is not None:
            tap(self.state_dir, x, y)
            os.kill(os.getpid(), signal.SIGUSR1)  # the wake button: handled by the main thread
        _send(req, 200, "application/json", json.dumps({"action": action}).encode())


def _send(req: http.server.BaseHTTPRequestHandler, status: int, kind: str, body: bytes) -> None:
    req.send_response(status)
    req.send_header("Content-Type", kind)
    req.send_header("Content-Length", str(len(body)))
    req.send_header("Cache-Control", "no-store")
    req.end_headers()
    req.wfile.write(body)
