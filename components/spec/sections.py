"""The shape of a key table: a `Section` of `Key`s, with `OneOf` groups (the tables themselves are in `keys.py`
and, for `runners.<r>.autoscaler`, `autoscaler_keys.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from components.spec.kinds import Kind, Refused

SECRET_REF = "{secret: <configKey>}"
"""How a key that holds a credential is written: the name of a secret config key."""


@dataclass(frozen=True)
class Key:
    """One key of a section."""

    name: str
    """The key as written in the stack file (camelCase)."""
    kind: Kind
    """How its value is read and what a wrong one is told."""
    doc: str
    """One line for the documentation: what it is, and its unit."""
    field: str | None = None
    """The model field it fills; None when the section parser uses the value itself."""
    required: str = ""
    """The message when it is missing; empty: optional (the model's default applies)."""


@dataclass(frozen=True)
class OneOf:
    """Exactly one of these keys must be present."""

    names: tuple[str, ...]
    """The keys, in the order the message lists them."""
    message: str
    """What is expected, e.g. "expected exactly one of 'project' or 'group'"."""
    field: str
    """Where `reader.read_section` puts the name of the key present (absent when the rule is broken)."""


@dataclass(frozen=True)
class Section:
    """The keys a map of the stack file may hold."""

    keys: tuple[Key, ...]
    """Every key, in the order they are read and listed in messages."""
    expected: str
    """What the map is, for the message when the value is not a map."""
    one_of: tuple[OneOf, ...] = ()
    """Groups of keys of which exactly one must be present."""
    by_name: Mapping[str, Key] = field(init=False, repr=False, compare=False)
    """The keys by name (derived)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {k.name: k for k in self.keys})

    @property
    def names(self) -> tuple[str, ...]:
        """The keys a user may write (a refused key stays in the table for its message, never offered)."""
        return tuple(k.name for k in self.keys if not isinstance(k.kind, Refused))
