"""The `lintel` command: one sub-command per module, one place that turns errors into words."""

import argparse
import importlib
import os
import sys

from lintel import __version__
from lintel.errors import LintelError

# verb -> module under lintel/; each module has add_arguments(parser) and run(args) -> int.
COMMANDS = {
    "build": ("lintel.build", "build the panel image for a board"),
    "emulate": ("lintel.emulator.cli", "boot an image in the emulated panel"),
}


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lintel", description="Lintel door-panel tools")
    parser.add_argument("--version", action="version", version=f"lintel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for verb, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(verb, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args._module.run(args) or 0
    except LintelError as e:
        print(f"lintel: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lintel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`lintel build | head`): nothing more to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
