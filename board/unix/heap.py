# Stand-in for MicroPython's `gc` on the emulated board (port_main puts it in sys.modules as
# "gc"): the port's own module, except that the application's ROMFS is not the firmware's heap.
# The chip maps the romfs partition from flash; the emulated board reads it into one heap block
# at boot (port_main.mount_romfs), and the emulator gives the heap that much more, so the
# firmware sees the heap it would have on the chip.
import gc as _port

for _name in dir(_port):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_port, _name)

_outside = 0


def set_outside(size):
    """Leave `size` bytes of the heap (the ROMFS block) out of mem_alloc()."""
    global _outside
    _outside = size


def mem_alloc():
    return _port.mem_alloc() - _outside
