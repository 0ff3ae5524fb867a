# Runs one firmware test module inside the Unix-port MicroPython and reports each test_*
# function on its own lines for tests/firmware/conftest.py:
#   @@PASS name   |   @@FAIL name, the traceback, @@END
import sys


def main(module_name):
    module = __import__(module_name)
    names = sorted(n for n in dir(module) if n.startswith("test_"))
    for name in names:
        try:
            getattr(module, name)()
        except BaseException as e:  # noqa: BLE001 -- every failure is reported, not raised
            print("@@FAIL", name)
            sys.print_exception(e)
            print("@@END")
        else:
            print("@@PASS", name)


main(sys.argv[1])
