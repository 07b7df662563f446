"""Scheduled token rotation with no lost job: time-windowed generations of each registration. Pure.

With `tokenRotationDays: D`, time is cut into periods of D days since the Unix epoch (UTC); period number g is
generation g. Each runner has two registration slots, `a` (the resource named as without rotation, so turning
rotation on keeps the current registration when g is even) and `b`; generation g lives in slot a when g is even,
in slot b when it is odd. At any moment `t`, with `into` = t - start of generation g:

- generation g's registration is declared active (a new one, with a new token, when the generation begins), and it
  is the only one in the manager's config.toml;
- while `into < retiring_seconds(pause)` (the *retiring window*), generation g-1's registration is still declared,
  paused (no new jobs) and unprotected, after the host's configuration (`depends_on`), so that it is paused only once
  the manager polls the new one;
- afterwards it is no longer declared: the next `pulumi up` removes it.

`pause` is the runner's longest possible job plus the drain margin. `pulumi up` runs at least once every
`SCHEDULE_SECONDS` (the rotation schedule, ci/schedules.yml), each run starting at most `LATE_SECONDS` late, and the
window is `pause + max(pause, SCHEDULE_SECONDS + LATE_SECONDS)`. So a run falls inside every window: the first run of
generation g, at most `SCHEDULE_SECONDS + LATE_SECONDS` after its start, unprotects g-1 and takes it out of
config.toml (the manager stops polling it; jobs that already run keep running: gitlab-runner's running builds hold
their own copy of the runner's settings and report with their job token), then pauses it. Any run that removes it
comes at or after the window's end, so at least `pause` after that first run: longer than its longest job. A
protected g-1 is therefore always unprotected by an earlier run, and no job is cut short, whatever the schedule's
phase and however many other runs (deploys) happen.
There are never more than two registrations, and never none. The moment is the wall clock; the offline plan's
`--now` plans any other (`at`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

NOW_ENV = "RUNNER_FLEET_NOW"
"""An ISO 8601 UTC moment that `pulumi up`/`preview` plan for instead of the wall clock (read by spec/config.py
only): a pipeline sets it once (`CI_PIPELINE_CREATED_AT`) so that all its jobs decide rotation alike."""
DAY = 86400
SLOTS = ("a", "b")
SCHEDULE_SECONDS = 1800
"""The longest time between two `pulumi up` runs of a rotating stack that the retiring windows are sized for: the
rotation schedule (`RUNNER_FLEET_SCHEDULE=rotate`, ci/schedules.yml) runs every 30 minutes. A slower schedule can
miss a short window: the previous registration then goes without a pause (an unprotected stack loses its running
jobs) or, protected, is never unprotected and every later run is refused until that slot comes round again."""
LATE_SECONDS = 900
"""How late a scheduled run may start and still be planned for: GitLab's schedule worker, a queued runner and the
resource group (a deploy holding it) delay the job, and the rotate job plans for its own start (the wall clock). The
window counts it in, so a late first run still leaves the previous registration out of use for a whole pause."""


@dataclass(frozen=True)
class Rotation:
    """Where a runner's registrations stand at one moment."""

    generation: int
    """The current generation: whole periods since the epoch."""
    retiring: bool
    """Generation - 1's registration is still declared (paused, unprotected): inside the retiring window."""

    @property
    def active_slot(self) -> str:
        return SLOTS[self.generation % 2]

    @property
    def retiring_slot(self) -> str:
        return SLOTS[(self.generation + 1) % 2]


NOW_EXPECTED = "expected an ISO 8601 UTC moment ending in Z or +00:00, e.g. 2026-12-05T10:00:00Z"
"""What a moment must look like (`--now`, RUNNER_FLEET_NOW); the text that failed is never repeated with it."""


def parse_now(text: str) -> datetime:
    """An ISO 8601 moment with an explicit UTC offset of zero (`2026-12-05T10:00:00Z`); ValueError(NOW_EXPECTED)
    otherwise, without the text (a pasted token would reach the terminal and the logs)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(NOW_EXPECTED) from None
    if moment.tzinfo is None or moment.utcoffset() != UTC.utcoffset(None):
        raise ValueError(NOW_EXPECTED)
    return moment.astimezone(UTC)


_planned: list[datetime] = []


def planned_moment(requested: str | None = None) -> datetime:
    """The moment time-based decisions are made for: the one the offline plan (`--now`) or a test set with `at`,
    else `requested` (RUNNER_FLEET_NOW), else the wall clock. ValueError for a requested text that is no UTC moment."""
    if _planned:
        return _planned[-1]
    return parse_now(requested) if requested else datetime.now(UTC)


@contextlib.contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Plan for `moment` (UTC) instead of the wall clock, within the block."""
    _planned.append(moment.astimezone(UTC))
    try:
        yield
    finally:
        _planned.pop()


def retiring_seconds(pause_seconds: int) -> int:
    """How long the previous generation's registration stays declared after a generation begins: long enough that
    the first run after the start (at most SCHEDULE_SECONDS + LATE_SECONDS later) sees it, and that it then stays
    out of use for at least `pause` more before a run removes it."""
    return pause_seconds + max(pause_seconds, SCHEDULE_SECONDS + LATE_SECONDS)


def rotation_at(moment: datetime, days: int, pause_seconds: int) -> Rotation:
    """The rotation state of a runner rotating every `days` days whose registrations pause for `pause_seconds`."""
    generation, into = divmod(int(moment.timestamp()), days * DAY)
    return Rotation(generation=generation, retiring=into < retiring_seconds(pause_seconds))


def window_problem(days: int, pause_seconds: int) -> str | None:
    """A period must hold its retiring window with room to spare."""
    window = retiring_seconds(pause_seconds)
    if window >= days * DAY:
        return (
            f"{days} day(s) is too short: a rotation keeps the old registration for {window} s (its longest job plus "
            "the drain margin, plus the longer of that and the rotation schedule's "
            f"{SCHEDULE_SECONDS + LATE_SECONDS} s interval with its lateness); rotate less often"
        )
    return None


def slot_name(registration: str, slot: str) -> str:
    """The resource name of a slot: slot a keeps the registration's own name."""
    return registration if slot == SLOTS[0] else f"{registration}-{slot}"


@dataclass(frozen=True)
class Registration:
    """One registration a runner has at a moment: what the program declares for it."""

    name: str
    """The resource name (a slot's name)."""
    paused: bool
    """Paused in GitLab (the runner's own setting, or retiring)."""
    protect: bool
    """Deletion protection (never for a retiring one: the run that removes it must not be refused)."""
    retiring: bool
    """The previous generation's registration, kept paused while its jobs finish."""


def registrations(name: str, state: Rotation | None, *, paused: bool, protect: bool) -> tuple[Registration, ...]:
    """The registrations of the runner whose registration is called `name`: one without rotation; with it, the
    current generation's and, in its retiring window, the previous one's."""
    if state is None:
        return (Registration(name, paused, protect, retiring=False),)
    active = Registration(slot_name(name, state.active_slot), paused, protect, retiring=False)
    if not state.retiring:
        return (active,)
    return (active, Registration(slot_name(name, state.retiring_slot), paused=True, protect=False, retiring=True))
