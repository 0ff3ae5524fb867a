# Start the room application on this panel's hardware.
import sys
import time

started = time.ticks_ms()  # the wake's report counts from here: the imports are its work too

# The application is the romfs partition, which the base firmware (MicroPython built with
# MICROPY_VFS_ROM) mounts at /rom: its bytecode runs in place from mapped flash, neither read
# through LittleFS nor copied into the heap (docs/image.md, "The application in ROMFS"). Only
# /rom is searched, so a module that is not there is found among the built-ins at once.
if "/rom" in sys.path:
    sys.path[:] = ["/rom"]
    import hardware

    hardware.remount_vfs()
    import app.main

    app.main.run(hardware.Board(), started)
else:
    print("romfs: no application at /rom: the base firmware lacks ROMFS support or the romfs "
          "partition is empty; flash the whole image with lintel flash (docs/image.md)")
