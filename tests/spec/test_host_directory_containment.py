"""Host directories by containment: no host directory inside one that a job of the same machine mounts writable.

Nesting lets a job that writes the outer directory swap the inner one for a symbolic link, which Docker follows
in a bind source: the next job that mounts the inner directory gets any host path. A read-only outer mount is
fine. Paths are compared as the kernel resolves them: the oracle below is this machine's kernel, which creates
each spelling in a scratch directory and says which directory holds which.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.domain.host_paths import inside, normalise
from components.spec import SpecError, parse_spec
from tests.fleets import FLEET

BASE = settings(derandomize=True, database=None, deadline=None)
Mounts = list[dict[str, Any]]


def _problems(values: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    return list(caught.value.problems)


def _fleet(unit: list[dict[str, Any]], shared: list[dict[str, Any]] | None = None, **shared_keys: Any) -> Any:
    """FLEET with hostDirectories for `unit` (edge-1) and, when given, `shared` (moved to edge-1)."""
    values = copy.deepcopy(FLEET)
    values["runners"]["unit"]["hostDirectories"] = unit
    if shared is not None:
        values["runners"]["shared"].update(host="edge-1", hostDirectories=shared, **shared_keys)
    return values


def _dir(host: str, mount: str = "/cache", read_only: bool = False) -> dict[str, Any]:
    return {"hostPath": host, "mountPath": mount, "readOnly": read_only}


REFUSED: list[tuple[Mounts, Mounts | None, dict[str, Any], list[str]]] = [
    # (unit's directories, shared's directories or None, shared's other keys, refused key paths)
    (
        [_dir("/srv/runner-fleet/cache")],
        [_dir("/srv/runner-fleet/cache/project-1")],
        {},
        ["runners.shared.hostDirectories[0].hostPath", "runners.unit.hostDirectories[0].hostPath"],
    ),
    (
        [_dir("/srv/runner-fleet/cache/deep/er")],
        [_dir("/srv/runner-fleet/cache", read_only=False)],
        {"protectedOnly": True},
        ["runners.unit.hostDirectories[0].hostPath", "runners.shared.hostDirectories[0].hostPath"],
    ),
    (  # the same runner's own two entries
        [_dir("/srv/runner-fleet/a"), _dir("/srv/runner-fleet/a/b", "/b")],
        None,
        {},
        ["runners.unit.hostDirectories[0].hostPath", "runners.unit.hostDirectories[1].hostPath"],
    ),
    (  # a read-only inner directory is still swapped under its reader
        [_dir("/srv/runner-fleet/a", read_only=False)],
        [_dir("/srv/runner-fleet/a/b", read_only=True)],
        {},
        ["runners.shared.hostDirectories[0].hostPath"],
    ),
    (  # spelled apart, one directory tree all the same
        [_dir("/srv//runner-fleet/./cache/")],
        [_dir("/srv/runner-fleet/old/../cache//x/")],
        {},
        ["runners.shared.hostDirectories[0].hostPath"],
    ),
    (  # both protected: protection does not make nesting safe
        [_dir("/var/cache/runner-fleet/ci")],
        [_dir("/var/cache/runner-fleet/ci/sub/sub")],
        {"protectedOnly": True},
        ["runners.shared.hostDirectories[0].hostPath"],
    ),
]
ALLOWED: list[tuple[Mounts, Mounts | None, dict[str, Any]]] = [
    ([_dir("/srv/runner-fleet/cache", read_only=True)], [_dir("/srv/runner-fleet/cache/project-1")], {}),
    (
        [_dir("/srv/runner-fleet/a", read_only=True), _dir("/srv/runner-fleet/a/b", "/b")],
        None,
        {},
    ),
    ([_dir("/srv/runner-fleet/cache")], [_dir("/srv/runner-fleet/cache")], {}),  # one directory, shared
    ([_dir("/srv/runner-fleet/cache")], [_dir("/srv/runner-fleet/cache-2")], {}),  # a prefix, not a parent
    ([_dir("/srv/runner-fleet/a")], [_dir("/var/cache/runner-fleet/a")], {}),
    ([_dir("/srv/runner-fleet/Cache")], [_dir("/srv/runner-fleet/cache/x")], {}),  # Linux names are case-sensitive
]


@pytest.mark.parametrize(("unit", "shared", "keys", "refused"), REFUSED)
def test_nested_under_a_writable_directory_is_refused(
    unit: list[dict[str, Any]], shared: list[dict[str, Any]] | None, keys: dict[str, Any], refused: list[str]
) -> None:
    problems = _problems(_fleet(unit, shared, **keys))
    for key in refused:
        assert any(p.startswith(f"{key}: ") and "symbolic link" in p for p in problems), (key, problems)


@pytest.mark.parametrize(("unit", "shared", "keys"), ALLOWED)
def test_side_by_side_or_under_a_read_only_mount_is_allowed(
    unit: list[dict[str, Any]], shared: list[dict[str, Any]] | None, keys: dict[str, Any]
) -> None:
    parse_spec(_fleet(unit, shared, **keys), stack="test")


def test_another_machine_has_its_own_directories() -> None:
    values = _fleet([_dir("/srv/runner-fleet/cache")], [_dir("/srv/runner-fleet/cache/x")])
    values["runners"]["shared"]["host"] = "edge-2"
    parse_spec(values, stack="test")


NOISE = st.sampled_from(["", "/", "/.", "/./", "//"])


@st.composite
def spelled(draw: st.DrawFn, parts: list[str]) -> str:
    """A spelling of the directory `parts` (below the scratch root): `//`, `/./`, a `x/..` detour, trailing `/`."""
    text = ""
    for part in parts:
        if draw(st.booleans()):
            text += f"/{draw(st.sampled_from(['old', 'x', 'tmp']))}{draw(NOISE)}/.."
        text += draw(NOISE) + "/" + part
    return text + draw(st.sampled_from(["", "/", "/.", "//"]))


LABELS = st.lists(st.sampled_from(["a", "b", "ab", "a.b", "A"]), min_size=1, max_size=4)


def _inodes_below(root: Path) -> set[tuple[int, int]]:
    found = set()
    for directory, subdirs, _ in os.walk(root):
        for sub in subdirs:
            stat = (Path(directory) / sub).stat()
            found.add((stat.st_dev, stat.st_ino))
    return found


@settings(BASE, max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), first=LABELS)
def test_containment_agrees_with_the_kernel(tmp_path: Path, data: st.DataObject, first: list[str]) -> None:
    """Whatever the spelling, `inside` and `normalise` say what the kernel says about the directories."""
    # The second directory: anywhere, or above, beside or below the first (the cases that matter).
    related = st.sampled_from([first[:i] + tail for i in range(1, len(first) + 1) for tail in ([], ["b"], ["A"])])
    second = data.draw(st.one_of(LABELS, related, st.builds(lambda more: first + more, LABELS)))
    scratch = Path(os.path.realpath(tmp_path)) / f"case-{data.draw(st.integers(0, 10**9))}"
    a, b = data.draw(spelled(first)), data.draw(spelled(second))
    # makedirs walks the spelling as the kernel does, creating each detour directory it names on the way.
    os.makedirs(f"{scratch}{a}", exist_ok=True)
    os.makedirs(f"{scratch}{b}", exist_ok=True)
    stat_a, stat_b = Path(f"{scratch}{a}").stat(), Path(f"{scratch}{b}").stat()
    same = (stat_a.st_dev, stat_a.st_ino) == (stat_b.st_dev, stat_b.st_ino)
    a_below_b = (stat_a.st_dev, stat_a.st_ino) in _inodes_below(Path(f"{scratch}{b}"))
    assert (normalise(a) == normalise(b)) is same, (a, b)
    assert inside(normalise(a), normalise(b)) is a_below_b, (a, b)


@settings(BASE, max_examples=40)
@given(data=st.data(), outer=LABELS, extra=LABELS, outer_read_only=st.booleans(), protected=st.booleans())
def test_every_spelling_of_a_nested_pair_is_judged_alike(
    data: st.DataObject, outer: list[str], extra: list[str], outer_read_only: bool, protected: bool
) -> None:
    """Generated pairs through the whole spec: refused when the outer one is writable, at both entries."""
    root = ["srv", "runner-fleet"]
    outer_path = data.draw(spelled(root + [p.lower() for p in outer]))
    inner_path = data.draw(spelled(root + [p.lower() for p in outer + extra]))
    values = _fleet([_dir(outer_path, read_only=outer_read_only)], [_dir(inner_path)], protectedOnly=protected)
    values["runners"]["unit"]["protectedOnly"] = protected  # one protection level: only nesting is judged
    if outer_read_only:
        parse_spec(values, stack="test")
        return
    problems = _problems(values)
    assert any(p.startswith("runners.shared.hostDirectories[0].hostPath: ") for p in problems), problems
    assert any(p.startswith("runners.unit.hostDirectories[0].hostPath: ") for p in problems), problems
