"""The problem collector and `SpecError`: every problem with its key path, all of them together.

A problem is one line `key.path: message`; a warning has the same shape but never blocks. Messages name
what was expected and what was found (`describe`). Secret config values never reach the parser: `load()`
passes REDACTED in their place.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any

import pulumi


class SpecError(pulumi.RunError):
    """The stack configuration is invalid; `problems` holds one `key.path: message` line each.

    A `pulumi.RunError`, so `pulumi up` prints the lines without a Python traceback.
    """

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{source}: {count} problem{'s' if count != 1 else ''} in the stack configuration; "
            f"nothing was declared:\n{lines}"
        )


class Problems:
    """Collects problems and warnings while the stack configuration is read."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")


_SHOWN: tuple[tuple[type | tuple[type, ...], Callable[[Any], str]], ...] = (
    (bool, lambda v: f"boolean {str(v).lower()}"),  # before int: a bool is an int
    ((int, float), lambda v: f"number {v}"),
    (str, lambda v: f"string {v!r}"),
    (list, lambda v: "a list"),
    (dict, lambda v: "a map"),
)


def describe(value: object) -> str:
    """What was found, for a message: its kind, and its value when it is a scalar."""
    if value is None:
        return "nothing"
    for types, shown in _SHOWN:
        if isinstance(value, types):
            return shown(value)
    return type(value).__name__


def unknown_key(key: str, known: Iterable[str]) -> str:
    """The message for a key no table lists: the keys that are allowed, and the closest one."""
    names = tuple(known)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key (expected one of: {', '.join(names)}){hint}"
