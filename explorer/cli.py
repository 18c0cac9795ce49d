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
import sys

# subcommand -> module under explorer.commands; each module has `register(subparsers)`.
COMMANDS = {
    "presets": "presets", "measure": "measure", "proxy": "proxy", "sweep": "sweep",
    "worker": "sweep", "pareto": "pareto", "recommend": "recommend", "export": "export",
    "confirm": "confirm", "dashboard": "dashboard", "cache": "cache",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastvlm-explore", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `fastvlm-explore COMMAND --help` for each command's options and examples.")
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

    args = build_parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
