"""Text from input made safe to show: the one place that escapes terminal controls and hides URL credentials.

Whatever a stack file, a compare base (`--compare`) or a GitLab answer holds may end up in a message, a report
or a terminal. Two rules hold for every writer:

- `escape_controls`: no control or invisible formatting character reaches a terminal or a report raw (ESC and
  CSI sequences, BEL, `\\r`, NUL, C1 controls U+0080-U+009F, bidi overrides such as U+202E, zero-width marks,
  line and paragraph separators, lone surrogates): each is written as a Python-style escape (`\\x1b`, `\\u202e`).
- `redact_userinfo`: the user information of a URL (`scheme://user:password@host`) is never repeated, whatever
  characters the password holds (`/`, spaces, `@`, `%`, `:`, non-ASCII). URL parsers disagree on where such an
  authority ends (WHATWG stops at the first `/`, urllib splits the port at the first `:`), so this does not
  parse: everything from `://` to the last `@` that can belong to the URL is hidden. Over-hiding a message is
  the price of never echoing a password.

`escaped_output` applies `escape_controls` to everything a command prints, so that a writer that forgets it
still cannot move the cursor, retitle the window or reorder what a reviewer reads.
"""

from __future__ import annotations

import contextlib
import re
import sys
import unicodedata
from collections.abc import Iterator
from typing import Any, TextIO

from components.domain.model import REDACTED

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories never written raw: controls (C0, DEL, C1), formatting (bidi, zero-width), surrogates,
private use, unassigned, line and paragraph separators."""
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_controls(text: str, keep: str = "") -> str:
    """`text` with every character of UNSAFE_CATEGORIES escaped, but those in `keep` (e.g. "\\n" for a report
    that has lines). Printable non-ASCII text (accents, CJK) stays as it is."""

    def shown(match: re.Match[str]) -> str:
        char = match[0]
        return char if char in keep or unicodedata.category(char) not in UNSAFE_CATEGORIES else _escape(char)

    return _NOT_PRINTABLE_ASCII.sub(shown, text)


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://")
URL_SCHEMES = frozenset(
    {"http", "https", "ssh", "tcp", "unix", "npipe", "fd", "git", "git+ssh", "git+https", "ftp", "ftps", "ws", "wss"}
    | {"socks4", "socks4a", "socks5", "socks5h", "s3", "gs", "azblob", "file", "ldap", "ldaps", "redis", "rediss"}
)
"""Schemes that start a new URL after another one; any other `word://` inside a line that already holds a URL is
read as part of that URL's user information (a password such as `@ b://`), so it is hidden with it."""
_PLAIN_SSH_USER = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""An ssh:// user name shown as it is (ssh URLs carry no password; Docker refuses one): `ssh://ci@edge-1`."""


def _groups(text: str) -> list[tuple[int, int, str]]:
    """(start of the authority, end of the region it may extend to, scheme) per URL. A `scheme://` that follows
    another with no whitespace between, with a `:` between (a password such as `a://b`), or with no `@` between
    (a password such as ` b://` whose user part is empty) belongs to the same URL: conservative, it widens what is
    hidden."""
    matches = list(_SCHEME.finditer(text))
    groups: list[tuple[int, int, str]] = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        between = text[matches[index - 1].end() : match.start()] if index else ""
        region = text[groups[-1][0] : match.start()] if groups else ""
        scheme = match[0][:-3].lower()
        if groups and (
            ":" in between or not any(c.isspace() for c in between) or "@" not in region or scheme not in URL_SCHEMES
        ):
            groups[-1] = (groups[-1][0], end, groups[-1][2])
            continue
        groups.append((match.end(), end, scheme))
    return groups


def redact_userinfo(text: str) -> str:
    """`text` with the user information of every URL replaced by REDACTED: `https://u:p/w d@h` becomes
    `https://[secret]@h`. A plain ssh:// user name stays (see _PLAIN_SSH_USER)."""
    if "@" not in text or "://" not in text:
        return text
    pieces: list[str] = []
    done = 0
    for start, end, scheme in _groups(text):
        at = text.rfind("@", start, end)
        if at < 0:
            continue
        userinfo = text[start:at]
        if scheme == "ssh" and _PLAIN_SSH_USER.fullmatch(userinfo):
            continue
        pieces += [text[done:start], REDACTED]
        done = at
    return "".join(pieces) + text[done:] if pieces else text


def url_error(exc: ValueError) -> str:
    """What urllib's complaint about a URL means, without its text: its messages quote the port or the whole
    network location, and a password with a `/` in it makes urllib read part of the password as the port."""
    message = str(exc)
    if message.startswith("Port"):
        return "the part after the last ':' of the host is not a port of 0-65535"
    if "IPv6" in message:
        return "a '[' or ']' that is not a bracketed IPv6 address"
    return "it cannot be split into scheme, host and path"


class _Escaping:
    """A text stream that escapes controls (keeping line breaks and tabs) before writing to the real one."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_controls(text, keep="\n\t"))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def escaped_output() -> Iterator[None]:
    """Within the block, everything written to sys.stdout and sys.stderr has its controls escaped."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Escaping(saved[0]), _Escaping(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
