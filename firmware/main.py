# Start the room application on this panel's hardware.
import sys
import time

started = time.ticks_ms()  # the wake's report counts from here: the imports are its work too

# `import json` looks for json.py, json.mpy and a json folder in every folder of sys.path
# before it takes the built-in module, at every import of it: json, os, binascii and the like
# are "extensible" (MicroPython docs, "MicroPython libraries": extending built-in libraries
# from Python), and a built-in is not kept in sys.modules. That was 18 % of a wake's flash
# reads (about 170 KB). Found once with no path to search, and kept, they cost nothing after.
_path, sys.path[:] = sys.path[:], []
for _name in ("json", "os", "binascii", "hashlib", "struct", "errno", "select", "socket",
              "cryptolib", "tls"):
    try:
        sys.modules[_name] = __import__(_name)
    except ImportError:
        pass  # a base firmware without it: the app's own import says so
sys.path[:] = _path

import hardware  # noqa: E402

hardware.remount_vfs()  # first: the app's imports read through its larger cache
import app.main  # noqa: E402

app.main.run(hardware.Board(), started)
