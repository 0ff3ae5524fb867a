"""HTTP client figures: the panel's client (firmware/app/http.py) beside micropython-lib's
`requests` (frozen into the Unix port), both running in the Unix-port MicroPython against
tests/http_server.py on loopback, as in ../shared/BASELINES.md.

Prints a table and writes bench/results/http.json. `python bench/http_bench.py` runs it alone;
bench/run.py can call main(). Times are medians of RUNS runs; heap figures are exact.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from http_server import TestServer  # noqa: E402 -- the tests' server, not a package

MICROPYTHON = Path(sys.executable).parent / "micropython"
RESULTS = Path(__file__).parent / "results"
RUNS = 3
APP_MODULES = ("__init__", "version", "http_errors", "http_tls", "http_conn", "http_response",
               "http_proxy", "http")
BODY = "/calendar?events=40&bytes=123866"  # the Graph-shaped 40-event calendarView

PRELUDE = """
import gc, json, os, sys, time, vfs
# The client's .mpy in a ROMFS at /rom, as on a panel: read into the heap here (the chip maps
# it), before anything is measured; the runner adds its size to the heap.
with open(os.getenv("LINTEL_BENCH_ROMFS"), "rb") as f:
    vfs.mount(vfs.VfsRom(f.read()), "/rom")
sys.path.insert(0, "/rom")
cfg = json.load(open(os.getenv("LINTEL_HTTP_TEST")))
def url(path):
    return "https://localhost:%d%s" % (cfg["ports"]["https"], path)
def out(**kw):
    print("@@" + json.dumps(kw))
def ours():
    from app import http
    with open(cfg["ca_der"], "rb") as f:
        return http.Session(cadata=f.read(), max_content=131072)
"""

SEQUENTIAL = {
    "lintel": """
s = ours()
t = time.ticks_us()
s.get(url("/bytes?n=100")).content
first = time.ticks_diff(time.ticks_us(), t)
t = time.ticks_us()
for i in range(20):
    s.get(url("/bytes?n=100")).content
kept = time.ticks_diff(time.ticks_us(), t)
st = s.stats
out(first_ms=first / 1000, kept_ms=kept / 20000, all_ms=(first + kept) / 21000,
    sent=st["bytes_sent"] / st["requests"], received=st["bytes_received"] / st["requests"])
s.close()
""",
    "requests": """
import requests
times = []
for i in range(21):
    t = time.ticks_us()
    r = requests.get(url("/bytes?n=100"))
    r.content
    r.close()
    times.append(time.ticks_diff(time.ticks_us(), t))
out(first_ms=times[0] / 1000, kept_ms=sum(times[1:]) / 20000, all_ms=sum(times) / 21000)
""",
}

# Stream the body through one 1 KiB buffer, noting the heap's growth; BODY is what to read.
_STREAM_LOOP = """
buf = memoryview(bytearray(1024))
gc.collect()
base = gc.mem_alloc()
if NO_GC: gc.disable()
peak = total = 0
while True:
    n = BODY.readinto(buf)
    if not n: break
    total += n
    peak = max(peak, gc.mem_alloc() - base)
gc.enable()
"""

STREAM = {
    "lintel": 's = ours()\nr = s.get(url("%s"), stream=True)'
              + _STREAM_LOOP.replace("BODY", "r") + "out(peak=peak, total=total)\n",
    "requests": 'import requests\nr = requests.get(url("%s"), stream=True)'
                + _STREAM_LOOP.replace("BODY", "r.raw")
                + "r.close()\nout(peak=peak, total=total)\n",
}

CODE = {
    "lintel": "gc.collect()\nbase = gc.mem_alloc()\nfrom app import http\ngc.collect()\n"
              "out(code=gc.mem_alloc() - base)\n",
    "requests": "gc.collect()\nbase = gc.mem_alloc()\nimport requests\ngc.collect()\n"
                "out(code=gc.mem_alloc() - base)\n",
}

SMALLEST = {
    "json": {
        "lintel": 's = ours()\ndoc = s.get(url("%s")).json()\nout(events=len(doc["value"]))\n',
        "requests": 'import requests\ndoc = requests.get(url("%s")).json()\n'
                    'out(events=len(doc["value"]))\n',
    },
    "stream": {
        "lintel": """
import hashlib
s = ours()
r = s.get(url("%s"), stream=True)
h = hashlib.sha256()
buf = memoryview(bytearray(1024))
while True:
    n = r.readinto(buf)
    if not n: break
    h.update(buf[:n])
out(ok=1)
""",
        "requests": """
import hashlib, requests
r = requests.get(url("%s"), stream=True)
h = hashlib.sha256()
buf = memoryview(bytearray(1024))
while True:
    n = r.raw.readinto(buf)
    if not n: break
    h.update(buf[:n])
out(ok=1)
""",
    },
}


def app_romfs(out: Path) -> Path:
    """The app modules the client needs, compiled as lintel build compiles them, in a ROMFS
    image (as on a panel)."""
    from lintel import boards, image, mpy

    sources = [(ROOT / "firmware" / "app" / f"{name}.py", f"app/{name}.py")
               for name in APP_MODULES]
    compiled = mpy.compile_tree(mpy.find_compiler(), sources,
                                boards.load("esp32s3-epd75").firmware["mpy_version"])
    out.write_bytes(image.build_romfs(compiled, 1 << 20))
    return out


class Runner:
    def __init__(self, config: Path, tmp: Path):
        romfs = app_romfs(tmp / "app.romfs")
        self.romfs_bytes = romfs.stat().st_size
        self.env = {**os.environ, "LINTEL_HTTP_TEST": str(config), "MICROPYPATH": ".frozen",
                    "LINTEL_BENCH_ROMFS": str(romfs)}
        self.tmp = tmp

    def run(self, code: str, heap_k: int = 2048) -> dict | None:
        script = self.tmp / "bench_script.py"
        script.write_text(PRELUDE + code)
        heap = heap_k * 1024 + self.romfs_bytes  # the ROMFS is flash on a panel
        proc = subprocess.run([str(MICROPYTHON), "-X", f"heapsize={heap}", str(script)],
                              env=self.env, capture_output=True, text=True, timeout=120,
                              cwd=self.tmp)
        for line in proc.stdout.splitlines():
            if line.startswith("@@"):
                return json.loads(line[2:])
        self.last_error = (proc.stdout + proc.stderr).strip()[-2000:]
        return None

    def must(self, code: str, heap_k: int = 2048) -> dict:
        result = self.run(code, heap_k)
        if result is None:
            raise SystemExit(f"http bench: a MicroPython script failed:\n{code}\n"
                             f"{self.last_error}")
        return result

    def smallest_heap(self, code: str, low: int = 8, high: int = 2048) -> int:
        """The smallest -X heapsize (KiB, 4 KiB steps) at which code completes."""
        if self.run(code, high) is None:
            raise SystemExit(f"http bench: fails even with a {high} KiB heap:\n{code}")
        while high - low > 4:
            middle = (low + high) // 2 // 4 * 4
            if self.run(code, middle) is None:
                low = middle
            else:
                high = middle
        return high


def handshakes(server: TestServer, runner: Runner, code: str) -> tuple[dict, int]:
    before = server.stats.snapshot().get("https", {}).get("tls_handshakes", 0)
    result = runner.must(code)
    after = server.stats.snapshot().get("https", {}).get("tls_handshakes", 0)
    return result, after - before


def measure(server: TestServer, runner: Runner) -> list[dict]:
    rows = []
    seq = {}
    for client, code in SEQUENTIAL.items():
        runs = []
        for _ in range(RUNS):
            result, shakes = handshakes(server, runner, code)
            runs.append(result)
        seq[client] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        seq[client]["handshakes"] = shakes
    rows.append(_row("first GET (TCP + TLS handshake + request)", seq, "first_ms", "ms"))
    rows.append(_row("20 sequential small GETs after the first, per request", seq, "kept_ms",
                     "ms"))
    rows.append(_row("21 GETs in all, per request", seq, "all_ms", "ms"))
    rows.append({"figure": "TLS handshakes for 21 GETs (server's count)",
                 "lintel": seq["lintel"]["handshakes"],
                 "requests": seq["requests"]["handshakes"], "unit": "", "runs": 1})
    rows.append({"figure": "bytes sent / received per small GET (lintel's counters)",
                 "lintel": f"{seq['lintel']['sent']:.0f} / {seq['lintel']['received']:.0f}",
                 "requests": "", "unit": "B", "runs": 1})
    rows.append({"figure": "heap held by the client's code once imported",
                 **{client: runner.must(code)["code"] for client, code in CODE.items()},
                 "unit": "B", "runs": 1})
    for no_gc, label in ((False, "peak heap growth while streaming the 124 KB body, 1 KiB buffer"),
                         (True, "garbage made while streaming the 124 KB body (GC off)")):
        values = {}
        for client, code in STREAM.items():
            result = runner.must(f"NO_GC = {no_gc}\n" + code % BODY)
            assert result["total"] == 123866, result
            values[client] = result["peak"]
        rows.append({"figure": label, **values, "unit": "B", "runs": 1})
    for kind, label in (("json", "smallest heap for get(url).json() of the 124 KB body"),
                        ("stream", "smallest heap for streaming + hashing the 124 KB body")):
        values = {client: runner.smallest_heap(code % BODY)
                  for client, code in SMALLEST[kind].items()}
        rows.append({"figure": label, **values, "unit": "KiB", "runs": 1})
    return rows


def _row(figure: str, seq: dict, key: str, unit: str) -> dict:
    return {"figure": figure, "lintel": round(seq["lintel"][key], 3),
            "requests": round(seq["requests"][key], 3), "unit": unit, "runs": RUNS}


NOTES = [
    "loopback, Unix-port MicroPython; tests/http_server.py (CPython, threads) serves TLS 1.2 "
    "with an ECDSA P-256 chain (leaf + intermediate)",
    "lintel: firmware/app/http.py, one Session, CERT_REQUIRED with the test CA; requests: "
    "micropython-lib requests as frozen into the Unix port (CERT_NONE, HTTP/1.0, "
    "a new connection per request)",
    "the 124 KB body is a Graph-shaped calendarView of 40 events (123,866 bytes)",
    "heap: the MicroPython heap only; mbedTLS allocates its contexts and record buffers "
    "outside it (libc on the Unix port, the IDF heap on the ESP32)",
    "lintel's modules are .mpy in a ROMFS, run in place as on a panel (docs/image.md; the image "
    "is read into the heap here and the heap made that much larger); requests is frozen (its "
    "bytecode stays in flash, as in stock firmware); 64-bit pointers here, a 32-bit panel "
    "needs less",
    "smallest heap: the smallest -X heapsize (4 KiB steps) at which the script completes",
]


def main() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="lintel-http-bench-") as name:
        tmp = Path(name)
        (tmp / "server").mkdir()
        server = TestServer(tmp / "server").start()
        try:
            config = tmp / "server" / "config.json"
            server.write_config(config)
            rows = measure(server, Runner(config, tmp))
        finally:
            server.stop()
    width = max(len(r["figure"]) for r in rows)
    print(f"{'figure':<{width}}  {'lintel http':>12}  {'requests':>12}  unit")
    for r in rows:
        print(f"{r['figure']:<{width}}  {r['lintel']!s:>12}  {r['requests']!s:>12}  {r['unit']}")
    print()
    for note in NOTES:
        print(f"note: {note}")
    RESULTS.mkdir(exist_ok=True)
    report = {"python": platform.python_version(), "machine": platform.machine(),
              "results": rows, "notes": NOTES}
    (RESULTS / "http.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'http.json'}")
    return rows


if __name__ == "__main__":
    main()
