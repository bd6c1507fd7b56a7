"""One error type for bad user input, and the CLI wrapper that turns it into one line."""
from __future__ import annotations

import functools
import sys
from typing import Callable


class UserError(Exception):
    """Bad input from the user: printed as one line, exit code 2, never a traceback."""


def cli_entry(prog: str) -> Callable:
    """Decorate a `main(argv)` so UserError and Ctrl-C end with one line and a non-zero exit."""

    def wrap(main: Callable[..., int | None]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            try:
                return int(main(argv) or 0)
            except UserError as err:
                print(f"{prog}: error: {err}", file=sys.stderr)
                return 2
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130

        return run

    return wrap
