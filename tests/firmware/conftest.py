"""Collects tests/firmware/test_*.py as MicroPython test modules.

Each module runs once, in the real Unix-port MicroPython, through runner.py; every test_*
function becomes one pytest item. The board/unix stand-ins (machine, network, esp32) and the
firmware tree are on MICROPYPATH; LINTEL_FLASH is a fresh copy of a built epd75 image and
LINTEL_STATE an empty folder, as the emulator would give them. Modules named test_http* also
get LINTEL_HTTP_TEST: the configuration file (ports, CA files) of tests/http_server.py,
started once per session.
"""

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import built_image
from lintel import BOARD_DIR, FIRMWARE_DIR

HERE = Path(__file__).parent
MICROPYTHON = Path(sys.executable).parent / "micropython"


def pytest_pycollect_makemodule(module_path, parent):
    if module_path.name.startswith("test_"):
        return MicroPythonModule.from_parent(parent, path=module_path)
    return None


class MicroPythonModule(pytest.File):
    def collect(self):
        names = []
        for line in self.path.read_text().splitlines():
            if line.startswith("def test_"):
                names.append(line[4:line.index("(")])
        for name in sorted(names):
            yield MicroPythonTest.from_parent(self, name=name)

    def results(self) -> dict:
        if not hasattr(self, "_results"):
            self._results = self._run()
        return self._results

    def _run(self) -> dict:
        image = built_image("esp32s3-epd75") / "flash.bin"
        tmp = Path(tempfile.mkdtemp(prefix=f"lintel-{self.path.stem}-"))
        flash = tmp / "flash.bin"
        shutil.copyfile(image, flash)
        (tmp / "state").mkdir()
        env = dict(os.environ)
        env.update({
            "MICROPYPATH": os.pathsep.join([str(HERE), str(BOARD_DIR / "unix"),
                                            str(FIRMWARE_DIR)]),
            "LINTEL_FLASH": str(flash),
            "LINTEL_STATE": str(tmp / "state"),
            "LINTEL_TEST_BOARD_JSON": str(BOARD_DIR / "esp32s3-epd75" / "board.json"),
        })
        if self.path.stem.startswith("test_http"):
            env["LINTEL_HTTP_TEST"] = http_test_server()
        if self.path.stem.startswith("test_m365"):
            env["LINTEL_TENANT_TEST"] = tenant_test_server()
        proc = subprocess.run(
            [str(MICROPYTHON), "-X", "heapsize=512K", str(HERE / "runner.py"), self.path.stem],
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp,
        )
        shutil.rmtree(tmp, ignore_errors=True)
        results, current = {}, None
        for line in proc.stdout.splitlines():
            if line.startswith("@@PASS "):
                results[line[7:]] = None
            elif line.startswith("@@FAIL "):
                current = line[7:]
                results[current] = []
            elif line == "@@END":
                current = None
            elif current is not None:
                results[current].append(line)
        if proc.returncode != 0 or not results:
            raise RuntimeError(
                f"MicroPython runner failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return results


@functools.cache
def http_test_server() -> str:
    """Start tests/http_server.py once per session; the path of its configuration file."""
    from http_server import TestServer

    server = TestServer().start()
    atexit.register(server.stop)
    path = server.folder / "config.json"
    server.write_config(path)
    return str(path)


@functools.cache
def tenant_test_server() -> str:
    """Start the fake tenant (lintel tenant, in this process) once per session; the path of a
    file naming its base URL and CA certificate."""
    from lintel.tenant import server

    folder = Path(tempfile.mkdtemp(prefix="lintel-tenant-test-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    running = server.start(0, None, folder / "state", folder / "ca.pem")
    atexit.register(running.stop)
    info = running.tenant.store.get_meta("tenant")
    path = folder / "tenant.json"
    path.write_text(json.dumps({"base_url": running.base_url, "ca": str(folder / "ca.pem"),
                                "tenant": info["domain"], "tenant_id": info["id"]}))
    return str(path)


class MicroPythonTest(pytest.Item):
    def runtest(self):
        results = self.parent.results()
        if self.name not in results:
            raise MicroPythonFailure([f"{self.name} did not run"])
        if results[self.name] is not None:
            raise MicroPythonFailure(results[self.name])

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MicroPythonFailure):
            return "\n".join(excinfo.value.args[0])
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"micropython: {self.name}"


class MicroPythonFailure(Exception):
    pass
