# Start the room application on this panel's hardware.
import time

started = time.ticks_ms()  # the wake's report counts from here: the imports are its work too
import hardware  # noqa: E402

hardware.remount_vfs()  # first: the app's imports read through its larger cache
import app.main  # noqa: E402

app.main.run(hardware.Board(), started)
