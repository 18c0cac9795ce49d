"""fastvlm-explore: measure, sweep and compare FastVLM-style configurations on this device.

    fastvlm-explore presets
    fastvlm-explore measure --preset fastvlm-0.5b --resolution 512 --json
    fastvlm-explore sweep studies/quick.toml

Every subcommand has `--help` with examples. Exit codes: 0 ok, 1 failure while running,
2 bad input (unknown preset, invalid configuration or study file), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# subcommand -> module under explorer.commands; each module has `register(subparsers)`.
COMMANDS = {
    "presets": "presets", "measure": "measure", "proxy": "proxy", "sweep": "sweep",
    "worker": "sweep", "studies": "studies", "pareto": "pareto", "recommend": "recommend",
    "compare": "compare", "copy": "copy", "export": "export", "confirm": "confirm",
    "dashboard": "dashboard", "cache": "cache",
}


class _Parser(argparse.ArgumentParser):
    """Bad arguments are one line naming the value and the valid options (argparse's own
    message), and where to read more: not the whole usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fastvlm-explorer")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fastvlm-explore", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `fastvlm-explore COMMAND --help` for each command's options and examples.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in dict.fromkeys(COMMANDS.values()):
        try:
            mod = importlib.import_module(f"explorer.commands.{module}")
        except ModuleNotFoundError as e:
            if e.name != f"explorer.commands.{module}":
                raise
            continue  # a command not shipped in this build
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from fastvlm.config import ConfigError

    from .errors import UsageError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the subcommand, whose --help lists what it takes
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.func(args) or 0)
    except (ConfigError, UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `... --json | head`
        sys.stderr.close()
        return 0
    except RuntimeError as e:  # MeasureError and friends: say what failed, no traceback
        if type(e).__name__ in ("MeasureError", "StudyError", "ReaderMissingError"):
            print(f"error: {e}", file=sys.stderr)
            return 1
        raise
    except ValueError as e:  # our validators name the value and the valid options
        if os.environ.get("FASTVLM_DEBUG"):
            raise
        print(f"error: {e} (FASTVLM_DEBUG=1 shows where)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
