"""The problem collector and `SpecError`: every problem with its key path, all of them together.

A problem is one line `key.path: message`; a warning has the same shape but never blocks. Messages name
what was expected and what was found (`describe`). Secret config values never reach the parser (`load()`
passes REDACTED in their place), and every line passes through `redact` on its way in: whatever looks like
a token, a private key, a password in a URL or a long random string is never repeated, wherever a careless
user pasted it (a key name, a `secret:` reference, a URL).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import pulumi

from components.domain.model import REDACTED
from components.spec.credential_shapes import (
    bare_userinfo,
    command_credential,
    connection_string_password,
    random_looking,
    url_userinfo,
)
from components.spec.safe_text import escape_controls, redact_userinfo

MAX_LINE = 400
"""Characters a problem line may have; longer ones are cut (a message never carries a whole document)."""

_TOKEN_RE = re.compile(
    r"(?:gl(?:pat|rt|dt|ptt|cbt|imt|agent|oas|soat|ffct|ft)-|gh[pousr]_|github_pat_|xox[abprs]-)[\w=-]*"
    r"|(?:AKIA|ASIA)[A-Z0-9]{12,}"
    r"|-----BEGIN[\s\S]*?(?:-----END[^-]*-----|$)"
)
_RANDOM_RE = re.compile(r"[A-Za-z0-9+/=_-]{24,}")
# Bounded repetitions: a search over a hostile megabyte of text stays linear.
_PASSWORD_RE = re.compile(r"(?P<user>[A-Za-z][A-Za-z0-9+.-]{0,31}://[^/\s:@]{0,256}):[^/\s@]{0,256}@")


def _random_looking(run: str) -> bool:
    digits, letters = sum(c.isdigit() for c in run), sum(c.isalpha() for c in run)
    return digits >= 4 and letters >= 4 and run.count("/") < 3


def text_problem(text: str) -> str | None:
    """What makes `text` unfit for a plain one-line value: a credential, a control or invisible formatting
    character (newlines, NUL, bidi overrides, zero-width marks); None when it is fit."""
    if looks_like_credential(text) or random_looking(text):  # a key pasted where a name belongs, too
        return CREDENTIAL_MESSAGE
    odd = next((c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")), None)
    if odd is not None:
        return f"holds the control or invisible character U+{ord(odd):04X}; write plain text on one line"
    return None


def looks_like_credential(text: str) -> bool:
    """Whether `text` holds a known token format, a private key block, a URL password in any characters
    (credential_shapes.url_userinfo), `user:password@host` without a scheme or a connection string's password;
    no guessing from randomness: digests and ids are long random strings too."""
    return bool(
        _TOKEN_RE.search(text)
        or _PASSWORD_RE.search(text)
        or url_userinfo(text)
        or bare_userinfo(text)
        or connection_string_password(text)
    )


def credential_shape(text: str) -> bool:
    """`looks_like_credential`, and the shapes that only a value meant to be read by a program holds: a key too
    random to be anything else, a password on a command line (`--password X`, `curl -u user:pw`). For job
    environments, scripts and CI/CD variables' plain values, never for names and references."""
    return looks_like_credential(text) or random_looking(text) or command_credential(text)


CREDENTIAL_MESSAGE = (
    "looks like a credential (a token, a private key or a URL password): it would be stored and shown in plain "
    "text; put it in a secret config key"
)


def looks_secret(text: str) -> bool:
    """Whether `text` holds what looks like a token, a private key, URL credentials or a random string."""
    return redact(text) != text


def redact(text: str) -> str:
    """`text` with everything that looks like a secret replaced by REDACTED."""
    text = _TOKEN_RE.sub(REDACTED, text)
    text = redact_userinfo(text)  # a password with any characters (`/`, spaces, `@`), which _PASSWORD_RE misses
    text = _PASSWORD_RE.sub(lambda m: f"{m['user']}:{REDACTED}@", text)
    return _RANDOM_RE.sub(lambda m: REDACTED if _random_looking(m[0]) else m[0], text)


def one_line(text: str) -> str:
    """A message as one bounded line, with nothing that looks like a secret and no control character raw
    (escape sequences, carriage returns, bidi overrides: components/spec/safe_text.py)."""
    line = escape_controls(redact(text))
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


class SpecError(pulumi.RunError):
    """The stack configuration is invalid; `problems` holds one `key.path: message` line each.

    A `pulumi.RunError`, so `pulumi up` prints the lines without a Python traceback.
    """

    def __init__(self, source: str, problems: Iterable[str], missing_secrets: Iterable[str] = ()) -> None:
        self.source = source
        self.problems = tuple(problems)
        self.missing_secrets = tuple(sorted(set(missing_secrets)))
        """Secret config keys the stack references but does not set (a Pulumi ESC environment may supply them)."""
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
        self.missing_secrets: set[str] = set()

    def add(self, path: str, message: str) -> None:
        self.problems.append(one_line(f"{path}: {message}"))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(one_line(f"{path}: {message}"))


def _number(value: float) -> str:
    if isinstance(value, int) and abs(value) >= 10**20:
        return f"a number of {len(str(abs(value)))} digits"
    return f"number {value}"


def _string(value: str) -> str:
    if looks_secret(value):
        return "a string that looks like a secret (not repeated here)"
    if len(value) > 60 or "\n" in value:
        return f"a string of {len(value)} characters"
    return f"string {value!r}"


_SHOWN: tuple[tuple[type | tuple[type, ...], Callable[[Any], str]], ...] = (
    (bool, lambda v: f"boolean {str(v).lower()}"),  # before int: a bool is an int
    ((int, float), _number),
    (str, _string),
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
