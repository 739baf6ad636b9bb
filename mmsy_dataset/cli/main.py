"""The `mmsy` command line. Thin: parse, call the library, print; errors without tracebacks.

One module per top-level command, each with `add_commands(subparsers)` that adds its parser and
sets `handler`, a function of the parsed arguments returning the exit status. A command module
imports only argparse-level things at the top; what needs torch or the Hub is imported inside
its handler, so `mmsy --help` stays fast (tested).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from rich.console import Console

from mmsy_dataset.cli import (
    analyze,
    build,
    compare,
    demo,
    eval,
    leaderboard,
    merge,
    publish,
    score,
    submission,
    train,
)
from mmsy_dataset.errors import MmsyError

#: The command modules, in the order `mmsy --help` lists their commands.
COMMANDS = (build, score, compare, submission, leaderboard, eval, merge, demo, publish, analyze, train)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mmsy", description="MM-SY: sycophancy benchmark for VLMs.")
    root.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_commands(subparsers)
    return root


def _validation_message(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        msg = item["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(lines)


def error_message(error: BaseException) -> str:
    """The user-facing text of an error: the file first for OS errors, the bare message for
    KeyError (whose str() is a repr), the field for pydantic errors."""
    if isinstance(error, ValidationError):
        return _validation_message(error)
    if isinstance(error, OSError) and error.filename is not None and not isinstance(error, MmsyError):
        target = f" -> {error.filename2}" if error.filename2 else ""
        return f"{error.filename}{target}: {error.strerror or error}"
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    if isinstance(error, ImportError) and not isinstance(error, MmsyError):
        return f"{error} (a package is missing: install it, or the extra that provides it)"
    return str(error) or type(error).__name__


def print_error(message: str) -> None:
    """Each line of `message` on stderr as it is: never wrapped (a script greps a long path
    whole), never read as markup."""
    for line in message.splitlines() or [""]:
        sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()


#: What a user's input can raise (a bad file, path, flag or checkpoint); printed as lines, exit 2.
USER_ERRORS = (MmsyError, ValidationError, ValueError, OSError, KeyError, ImportError, RuntimeError)


def main(argv: Sequence[str] | None = None) -> int:
    from mmsy_dataset.threads import prefer_passive_wait

    prefer_passive_wait()  # before anything imports torch
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        if args.debug:
            raise
        print_error(error_message(error))
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/yellow]")
        return 130
