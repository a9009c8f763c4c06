"""The entry: the parser assembled from the command groups, and the exit codes.

User errors print one line starting with 'error:' and exit with code 2; an unexpected
error prints one line that points to the log file (``clustering.errors.log_file``) and
exits with code 1. Each command imports only what it uses, so a command starts fast.
"""

from __future__ import annotations

import argparse
import sys

from clustering.cli import demo, readout, run, serve, stages, tracked
from clustering.errors import UserInputError, hide_passwords, report_unexpected

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
GROUPS = (demo, run, tracked, readout, stages, serve)  # each adds its commands (``register``)

DESCRIPTION = (
    "Segment retail stores and demand units (DFUs): demo data, a whole run, tracked runs "
    "(assign, runs, compare, approve), why an entity sits in its segment, a report, the DFU "
    "framework's stages (features, train, label, update) and the cluster summary API (serve)."
)


def parser() -> argparse.ArgumentParser:
    """Every command, each group's from its own module."""
    built = argparse.ArgumentParser(prog="python -m clustering", description=DESCRIPTION)
    commands = built.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(commands)
    return built


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except UserInputError as error:
        print("error: " + hide_passwords(" | ".join(str(error).splitlines())), file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as error:  # a defect: one line and a log file, never a traceback
        print("error: " + report_unexpected(error, f"running '{args.command}'"), file=sys.stderr)
        return EXIT_INTERNAL_ERROR
