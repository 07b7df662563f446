"""How a stack value is read, and what a wrong one is told: one small class per kind of value.

Each kind reads a raw value (as decoded from the engine's JSON) at a key path, reports a problem and returns
INVALID when it is wrong, and returns the typed value otherwise. `none_is_absent` says whether an explicit
null means "not set" (the model's default applies) or is itself a problem. The key tables (`keys.py`) say
which key has which kind.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.spec.problems import CREDENTIAL_MESSAGE, Problems, describe, text_problem

if TYPE_CHECKING:
    from components.spec.keys import Section

_SEGMENT = r"(?!\.\.?(?:/|$))[A-Za-z0-9_.][A-Za-z0-9_.-]*"  # never '.' or '..', never a leading '-'
GITLAB_PATH = re.compile(rf"{_SEGMENT}(/{_SEGMENT})*")
"""A GitLab namespace path: `/`-separated ASCII segments (GitLab's own path rule is stricter)."""

MAX_INT32 = 2**31 - 1
"""The largest whole number any key takes: GitLab's integer columns (maximum_timeout) are 32-bit."""


class Invalid(enum.Enum):
    """A value that was read and refused (its problem is already reported)."""

    VALUE = 0


INVALID = Invalid.VALUE


@dataclass(frozen=True)
class Text:
    """A non-empty string, stripped."""

    expected: str = "a non-empty string"
    """What the message says was expected."""
    none_is_absent = True

    def read(self, p: Problems, value: object, path: str) -> str | Invalid:
        if not isinstance(value, str) or not value.strip():
            p.add(path, f"expected {self.expected}, found {describe(value)}")
            return INVALID
        if (problem := text_problem(value.strip())) is not None:
            p.add(path, problem)
            return INVALID
        return value.strip()


@dataclass(frozen=True)
class Verbatim:
    """A string kept exactly as written (a variable's value, TOML text); empty allowed; None is a problem."""

    expected: str
    """What the message says was expected."""
    none_is_absent = False

    def read(self, p: Problems, value: object, path: str) -> str | Invalid:
        if not isinstance(value, str):
            p.add(path, f"expected {self.expected}, found {describe(value)}")
            return INVALID
        return value


@dataclass(frozen=True)
class Flag:
    """true or false; an explicit null is a problem, not a default."""

    none_is_absent = False

    def read(self, p: Problems, value: object, path: str) -> bool | Invalid:
        if not isinstance(value, bool):
            p.add(path, f"expected true or false, found {describe(value)}")
            return INVALID
        return value


@dataclass(frozen=True)
class Whole:
    """A whole number >= minimum; `why` explains the bound."""

    minimum: int
    """The smallest value allowed."""
    why: str = ""
    """Appended to the bound in the message: why the bound exists."""
    maximum: int = MAX_INT32
    """The largest value allowed; a 32-bit integer by default."""
    why_maximum: str = " (a 32-bit integer)"
    """Appended to the upper bound in the message."""
    none_is_absent = True

    def read(self, p: Problems, value: object, path: str) -> int | Invalid:
        if isinstance(value, bool) or not isinstance(value, int):
            p.add(path, f"expected a whole number >= {self.minimum}, found {describe(value)}")
            return INVALID
        if value < self.minimum:
            p.add(path, f"must be >= {self.minimum}{self.why}, found {describe(value).removeprefix('number ')}")
            return INVALID
        if value > self.maximum:
            found = describe(value).removeprefix("number ")
            p.add(path, f"must be <= {self.maximum}{self.why_maximum}, found {found}")
            return INVALID
        return value


@dataclass(frozen=True)
class Number:
    """A number (whole or not) within [minimum, maximum]."""

    minimum: float
    """The smallest value allowed."""
    maximum: float
    """The largest value allowed."""
    why_maximum: str = ""
    """Appended to the upper bound in the message."""
    none_is_absent = True

    def read(self, p: Problems, value: object, path: str) -> float | Invalid:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN is not a number
            p.add(path, f"expected a number between {self.minimum} and {self.maximum}, found {describe(value)}")
            return INVALID
        if not self.minimum <= value <= self.maximum:
            bound = f">= {self.minimum}" if value < self.minimum else f"<= {self.maximum}{self.why_maximum}"
            p.add(path, f"must be {bound}, found {describe(value).removeprefix('number ')}")
            return INVALID
        return float(value)


_DURATION = re.compile(r"(?:([0-9]{1,7})h)?(?:([0-9]{1,9})m)?(?:([0-9]{1,9})s)?")


@dataclass(frozen=True)
class Duration:
    """A duration written as Go writes one, in whole hours, minutes and seconds (`20m`, `1h30m`, `90s`, `0s`);
    read as seconds within [minimum, maximum]."""

    minimum: int
    """The shortest, in seconds."""
    maximum: int
    """The longest, in seconds."""
    why_maximum: str = ""
    """Appended to the upper bound in the message."""
    none_is_absent = True

    def read(self, p: Problems, value: object, path: str) -> int | Invalid:
        match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) and value.strip() else None
        if match is None:
            p.add(path, f"expected a duration like 20m, 1h30m or 90s (h, m, s), found {describe(value)}")
            return INVALID
        hours, minutes, seconds = (int(part or 0) for part in match.groups())
        total = hours * 3600 + minutes * 60 + seconds
        if not self.minimum <= total <= self.maximum:
            bound = f">= {self.minimum}s" if total < self.minimum else f"<= {self.maximum}s{self.why_maximum}"
            p.add(path, f"must be {bound}, found {total}s")
            return INVALID
        return total


@dataclass(frozen=True)
class Choice:
    """One value of a closed set (a StrEnum of the model)."""

    choices: type[enum.StrEnum]
    """The closed set, as the model's StrEnum."""
    none_is_absent = True

    def read(self, p: Problems, value: object, path: str) -> enum.StrEnum | Invalid:
        allowed = [m.value for m in self.choices]
        if not isinstance(value, str) or value not in allowed:
            p.add(path, f"expected one of {', '.join(allowed)}, found {describe(value)}")
            return INVALID
        return self.choices(value)


@dataclass(frozen=True)
class Texts:
    """A list of non-empty strings, each stripped; a bad item is named by its index."""

    none_is_absent = True

    def read(self, p: Problems, value: object, path: str) -> tuple[str, ...] | Invalid:
        if not isinstance(value, list):
            p.add(path, f"expected a list of strings, found {describe(value)}")
            return INVALID
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                p.add(f"{path}[{i}]", f"expected a non-empty string, found {describe(item)}")
            elif (problem := text_problem(item.strip())) is not None:
                p.add(f"{path}[{i}]", problem)
            else:
                out.append(item.strip())
        return tuple(out)


@dataclass(frozen=True)
class TextMap:
    """A map of string to string, as sorted pairs."""

    none_is_absent = True

    def read(self, p: Problems, value: object, path: str) -> tuple[tuple[str, str], ...] | Invalid:
        if not isinstance(value, dict):
            p.add(path, f"expected a map of strings, found {describe(value)}")
            return INVALID
        out = []
        for key, item in sorted(value.items()):
            if not isinstance(item, str):
                p.add(f"{path}.{key}", f"expected a string, found {describe(item)}")
            elif (problem := text_problem(str(key)) or text_problem(item)) is not None:
                p.add(f"{path}.{key}", problem)
            else:
                out.append((str(key), item))
        return tuple(out)


@dataclass(frozen=True)
class Ref:
    """A GitLab group or project: a numeric id (>= 1; ASCII digits in text count) or a full path of `/`-separated
    ASCII segments, without leading or trailing `/`; as text."""

    none_is_absent = False

    def read(self, p: Problems, value: object, path: str) -> str | Invalid:
        text = str(value).strip().strip("/") if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if text_problem(text) == CREDENTIAL_MESSAGE:
            p.add(path, CREDENTIAL_MESSAGE)
            return INVALID
        is_id = text.isascii() and text.isdigit() and 0 < int(text) <= MAX_INT32
        if not (is_id or (GITLAB_PATH.fullmatch(text) and not text.isdigit())):
            p.add(path, f"expected a numeric id or a full path like 'group/project', found {describe(value)}")
            return INVALID
        return text


@dataclass(frozen=True)
class Nested:
    """A value with a shape of its own (a section, a scope), read by the parser the section parser passes in."""

    section: Section | None = None
    """The keys the nested map holds, when it is a map of its own (for docs and the summary)."""
    none_is_absent = False


@dataclass(frozen=True)
class Refused:
    """A key runner-fleet no longer takes: any value is a problem that says why, and what to do instead. The key
    stays in its table so that the message is this one, not "unknown key"."""

    why: str
    """The whole message: why the key is refused and what to do instead."""
    none_is_absent = True

    def read(self, p: Problems, value: object, path: str) -> Invalid:
        p.add(path, self.why)
        return INVALID


Kind = Text | Verbatim | Flag | Whole | Number | Duration | Choice | Texts | TextMap | Ref | Nested | Refused
