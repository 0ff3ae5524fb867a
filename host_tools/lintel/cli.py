"""The `lintel` command: one sub-command per module, one place that turns errors into words."""

import argparse
import importlib
import os
import sys

from lintel import __version__
from lintel.errors import LintelError

# verb -> (module under lintel/, one line of help); each module has add_arguments(parser)
# and run(args) -> int. Only the module of the verb being run is imported.
COMMANDS = {
    "build": ("lintel.build", "build the panel image for a board"),
    "flash": ("lintel.flash", "write a panel image over USB with esptool"),
    "provision": ("lintel.provision", "give a panel its own key"),
    "config": ("lintel.config", "check a panel.toml, or push it sealed to a panel"),
    "inventory": ("lintel.inventory", "list the panels this computer has provisioned"),
    "monitor": ("lintel.monitor", "show a panel's log, secrets redacted"),
    "secure": ("lintel.secure", "plan and burn flash encryption and secure boot"),
    "emulate": ("lintel.emulator.cli", "boot an image in the emulated panel"),
    "tenant": ("lintel.tenant.cli", "run a local fake Microsoft 365 tenant for the emulator"),
    "render": ("lintel.render", "draw a view model as the panel would, to a PNG"),
    "demo": ("lintel.demo", "an emulated panel signed in to the fake tenant, end to end"),
}


def _verb(argv: list[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def make_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lintel", description="Lintel door-panel tools")
    parser.add_argument("--version", action="version", version=f"lintel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = _verb(argv)
    for verb, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text)
        if verb == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = make_parser(argv).parse_args(argv)
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
