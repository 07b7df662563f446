"""Derived names never collide (issue 19, part 5).

The oracle is the program itself: under the mock engine it declares Pulumi resources (URN = parent type, type,
name), Docker containers, volumes and networks, Kubernetes objects, GitLab registrations and config.toml files.
`names.declared` must predict exactly those names (so the check cannot drift from the program), and a stack the
spec accepts must make the program declare no two names that are one once case is folded; a stack whose keys
would make it do so is refused under the key, naming both keys.
"""

from __future__ import annotations

import copy
import hashlib
import re
import tempfile
import tomllib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.domain import rotation
from components.plan import engine, report
from components.plan.engine import PlanResult
from components.plan.stack_file import read_stack_file
from components.render import manifests
from components.spec import SpecError, names, parse_spec
from tests import fleets
from tests.fleets import write_stack

DOCKER_TYPES = {
    "docker:index/container:Container": "container",
    "docker:index/volume:Volume": "volume",
    "docker:index/network:Network": "network",
}
COMPANY_SECRET_KEYS = ("cacheAccessKey", "cacheSecretKey", "registryAuth")
# A moment inside a 7-day rotation's retiring window (two registrations per runner), and one outside it.
PERIOD_START = datetime.fromtimestamp(7 * rotation.DAY * 2900, UTC)
IN_WINDOW, OUT_OF_WINDOW = PERIOD_START + timedelta(minutes=5), PERIOD_START + timedelta(days=3)


def _docker_host(name: str) -> dict[str, Any]:
    """A Docker host on a machine of its own (keys that differ only in case are still two machines)."""
    return {"docker": {"host": f"ssh://ci@m-{hashlib.sha256(name.encode()).hexdigest()[:12]}.acme.test"}}


def _runner(host: str) -> dict[str, Any]:
    return {"host": host, "scope": {"instance": True}, "tags": ["t"]}


ROTATING = fleets.fleet(tokenRotationDays=7)
VARIABLES = fleets.fleet(
    variables=[
        {"project": "acme/app", "key": "DEPLOY_ENV", "value": "dev"},
        {"project": "acme/app", "key": "deploy_env", "value": "dev"},
        {"group": "acme", "key": "DEPLOY_ENV", "value": "prod", "environmentScope": "production"},
    ]
)
MONITORED = copy.deepcopy(fleets.K8S_FLEET)
MONITORED["gitlabCaBundle"] = fleets.GITLAB_CA
MONITORED["hosts"]["cluster"]["kubernetes"]["monitoring"] = {
    "namespace": "monitoring",
    "serviceMonitorLabels": {"release": "kube-prometheus"},
}
# Keys that differ in what Kubernetes names drop ('.', '_', case) on clusters of their own: legal, and no two
# objects meet, since each host owns its namespaces.
SLUGGED = fleets.fleet(
    hosts={
        "a.b": {"kubernetes": {"context": "one", "namespace": "ci-one"}},
        "a_b": {"kubernetes": {"context": "two", "namespace": "ci-two"}},
        "a-b": _docker_host("a-b"),
    },
    runners={"a.b": _runner("a.b"), "a_b": _runner("a_b"), "a-b": _runner("a-b")},
)
CASES = {
    "fleet": (fleets.FLEET, None, None),
    "k8s-mixed": (fleets.K8S_MIXED, None, None),
    "monitored": (MONITORED, None, None),
    "company": (fleets.COMPANY, fleets.COMPANY_SECRETS, None),
    "variables": (VARIABLES, None, None),
    "rotating-in-window": (ROTATING, None, IN_WINDOW),
    "rotating-out-of-window": (ROTATING, None, OUT_OF_WINDOW),
    "slugged": (SLUGGED, None, None),
}


def _run(tmp: Path, values: dict[str, Any], extra: dict[str, Any] | None, moment: datetime) -> PlanResult:
    with rotation.at(moment):
        return engine.run(read_stack_file(write_stack(tmp, values, "test", extra)))


def _spec(values: dict[str, Any], extra: dict[str, Any] | None, moment: datetime) -> Any:
    secrets = {k.split(":", 1)[1]: "placeholder" for k in extra or {}}
    return parse_spec({**values, **secrets}, stack="test", secret_keys=tuple(secrets), now=moment)


def _actual(result: PlanResult) -> dict[str, list[Any]]:
    """What the program declared, per system, read from the recorded registrations (not from names.py); lists, so
    that a name declared twice shows twice."""
    found: dict[str, list[Any]] = {s: [] for s in ("pulumi", "docker", "k8s", "gitlab", "toml", "id")}
    for res in result.resources:
        qualified = res.urn.split("::")[2]
        found["pulumi"].append((tuple(qualified.split("$")[-2:]), res.name))
        inputs = res.revealed
        if res.type in DOCKER_TYPES:
            found["docker"].append((DOCKER_TYPES[res.type], inputs["name"]))
        elif res.type.startswith("kubernetes:") and isinstance(inputs.get("metadata"), dict):
            kind = inputs.get("kind") or res.type.rsplit(":", 1)[-1]
            meta = inputs["metadata"]
            found["k8s"].append((kind, meta.get("namespace", ""), meta["name"]))
            if manifests.SYSTEM_ID_KEY in (inputs.get("stringData") or {}):
                found["id"].append(inputs["stringData"][manifests.SYSTEM_ID_KEY])
        elif res.type == names.USER_RUNNER_TYPE:
            found["gitlab"].append(inputs["description"])
    for text in report.config_files(result).values():
        found["toml"] += [r["name"] for r in tomllib.loads(text).get("runners", [])]
    return found


def _predicted(spec: Any) -> dict[str, set[Any]]:
    found: dict[str, set[Any]] = {s: set() for s in ("pulumi", "docker", "k8s", "gitlab", "toml", "id")}
    for item in names.declared(spec):
        if item.system == names.PULUMI:
            found["pulumi"].add((item.scope, item.name))
        elif item.system == names.DOCKER:
            found["docker"].add((item.scope[0], item.name))
        elif item.system == names.KUBERNETES:
            found["k8s"].add((item.scope[0], item.scope[1], item.name))
        elif item.scope == ("runner description",):
            found["gitlab"].add(item.name)
        elif item.scope == ("config.toml runner name",):
            found["toml"].add(item.name)
        elif item.scope == ("manager system id",):
            found["id"].add(item.name)
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_check_predicts_exactly_what_the_program_declares(case: str, tmp_path: Path) -> None:
    values, extra, moment = CASES[case]
    moment = moment or OUT_OF_WINDOW
    result = _run(tmp_path, values, extra, moment)
    predicted, actual = _predicted(_spec(values, extra, moment)), _actual(result)
    for system in actual:
        assert predicted[system] == set(actual[system]), system
    # And what it declares is unique in every system once case is folded (URNs per parent type and type).
    folded = Counter((scope, name.casefold()) for scope, name in actual["pulumi"])
    assert [k for k, n in folded.items() if n > 1] == []
    folded = Counter((kind, name.casefold()) for kind, name in actual["docker"])
    assert [k for k, n in folded.items() if n > 1] == []


def test_a_rotating_fleet_declares_both_slots_in_the_window(tmp_path: Path) -> None:
    """The rotation case of the oracle is not vacuous: inside the window each runner has two registrations."""
    result = _run(tmp_path, ROTATING, None, IN_WINDOW)
    slots = {r.name for r in result.resources if r.type == names.USER_RUNNER_TYPE}
    assert {f"runner-{k}" for k in ROTATING["runners"]} | {f"runner-{k}-b" for k in ROTATING["runners"]} == slots


def _problems(values: dict[str, Any], stack: str = "dev") -> list[str]:
    try:
        parse_spec(values, stack=stack)
    except SpecError as exc:
        return [str(p) for p in exc.problems]
    return []


def _with_hosts(*keys: str) -> dict[str, Any]:
    return fleets.fleet(hosts={k: _docker_host(k) for k in keys}, runners={"r": _runner(keys[0])})


@pytest.mark.parametrize(
    ("keys", "refused", "other", "suffix"),
    [
        (("edge", "EDGE"), "edge", "EDGE", None),
        (("Build.1", "build.1"), "build.1", "Build.1", None),
    ],
)
def test_docker_host_keys_that_spell_another_hosts_names_are_refused(
    keys: tuple[str, ...], refused: str, other: str, suffix: str | None
) -> None:
    (problem,) = _problems(_with_hosts(*keys))
    assert problem.startswith(f"hosts.{refused}: host key {refused!r} ")
    assert f"host {other!r}'s" in problem
    if suffix:
        assert f"does not end in {suffix!r}" in problem and "reserved suffix" in problem
    else:
        assert "differ only in case" in problem


@pytest.mark.parametrize(
    "keys",
    [
        ("x", "x-config"),
        ("x", "x-manager"),
        ("x", "x-gitlab-ca"),
        ("a.b", "a_b", "a-b"),
        ("x", "x-config-writer"),
        ("x", "x-config-reloader"),
    ],
)
def test_docker_host_keys_whose_names_stay_apart_are_accepted(keys: tuple[str, ...]) -> None:
    """`x-config`'s manager container is not `x`'s config volume: Docker keeps containers and volumes apart. And
    `x`'s writer is `...-x-<generation>-config-writer`, which `x-config-writer`'s manager never is."""
    assert _problems(_with_hosts(*keys)) == []


def test_kubernetes_host_key_that_spells_another_hosts_resource_is_refused() -> None:
    values = copy.deepcopy(fleets.K8S_FLEET)
    values["hosts"]["cluster-job"] = {"kubernetes": {"context": "elsewhere", "namespace": "other"}}
    (problem,) = _problems(values)
    assert problem.startswith("hosts.cluster-job: ")
    assert "'host-cluster-job-namespace'" in problem and "host 'cluster''s job namespace" in problem


@pytest.mark.parametrize("where", ["fleet", "runner"])
def test_a_runner_key_that_is_a_rotating_runners_second_slot_is_refused(where: str) -> None:
    values = fleets.fleet(tokenRotationDays=7) if where == "fleet" else fleets.fleet()
    if where == "runner":
        values["runners"]["unit"]["tokenRotationDays"] = 7
    values["runners"]["unit-b"] = _runner("edge-2")
    (problem,) = _problems(values)
    assert problem.startswith("runners.unit-b: runner key 'unit-b' gives Pulumi UserRunner 'runner-unit-b'")
    assert "runner 'unit''s rotation slot registration" in problem and "does not end in '-b'" in problem


def test_the_slot_is_refused_at_every_moment_not_only_inside_the_window() -> None:
    """Slot b is declared every other period: a stack valid today must not break in a week."""
    values = fleets.fleet(tokenRotationDays=7)
    values["runners"]["unit-b"] = _runner("edge-2")
    for moment in (IN_WINDOW, OUT_OF_WINDOW, OUT_OF_WINDOW + timedelta(days=7)):
        with pytest.raises(SpecError, match=r"runners\.unit-b"):
            parse_spec(values, stack="dev", now=moment)


def test_without_rotation_a_b_suffix_is_just_a_key() -> None:
    values = fleets.fleet()
    values["runners"]["unit-b"] = _runner("edge-2")
    assert _problems(values) == []


def test_runner_keys_that_differ_only_in_case_are_refused() -> None:
    values = fleets.fleet()
    values["runners"]["Unit"] = _runner("edge-2")
    (problem,) = _problems(values)
    assert "runner key 'unit'" in problem and "runner 'Unit''s" in problem and "differ only in case" in problem


# Generated cases: suffixes taken from the names the program declares (never a hand-written list), keys built to
# meet another key's name after suffixing and case folding.
def _suffixes(values: dict[str, Any]) -> set[str]:
    """Reserved suffixes; those after a Docker manager's generation are left out: a generation is a digest of
    inputs that hold the host key (labels, network), so another key's names meet it only by a digest collision."""
    spec = _spec(values, None, OUT_OF_WINDOW)
    found = {i.suffix for i in names.declared(spec, every_moment=True) if i.suffix.startswith("-")}
    return {x for x in found if not re.match(r"-[0-9a-f]{8}(-|$)", x)}


DOCKER_SUFFIXES = sorted(_suffixes(fleets.fleet(gitlabCaBundle=fleets.GITLAB_CA)))
K8S_SUFFIXES = sorted(_suffixes(MONITORED))


def test_the_reserved_suffixes_come_from_the_program() -> None:
    assert {"-manager", "-gitlab-ca"} <= set(DOCKER_SUFFIXES)
    assert {"-metrics", "-config", "-gitlab-ca", "-job-namespace"} <= set(K8S_SUFFIXES)
    assert "-b" in _suffixes(ROTATING)


def _extensions(suffixes: list[str]) -> list[str]:
    """What a second key appends to the first so that one of its names is one of the first key's: s1 = x + s2."""
    return sorted({a[: len(a) - len(b)] for a in suffixes for b in [*suffixes, ""] if a.endswith(b) and a != b})


KEY = st.from_regex(r"[a-z]{1,6}(-[a-z]{1,5})?", fullmatch=True)  # plain words: no key that looks like a secret


def _flip(key: str, data: st.DataObject) -> str:
    return "".join(c.upper() if c.isalpha() and data.draw(st.booleans()) else c for c in key)


def _meeting(actual: dict[str, list[Any]]) -> list[Any]:
    """Names the program declared twice once case is folded: Pulumi URNs (per parent type and type), Docker names
    (per kind), GitLab descriptions, config.toml runner names."""
    found: list[Any] = []
    for system in ("pulumi", "docker"):
        folded = Counter((scope, name.casefold()) for scope, name in actual[system])
        found += [k for k, n in folded.items() if n > 1]
    for system in ("gitlab", "toml"):
        folded = Counter(name.casefold() for name in actual[system])
        found += [k for k, n in folded.items() if n > 1]
    return found


def _unchecked(values: dict[str, Any], moment: datetime = OUT_OF_WINDOW) -> dict[str, list[Any]]:
    """What the program declares for `values` with the check of derived names switched off."""
    with mock.patch.object(names, "check", lambda p, spec: None), tempfile.TemporaryDirectory() as tmp:
        return _actual(_run(Path(tmp), values, None, moment))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=KEY, extension=st.sampled_from(_extensions(DOCKER_SUFFIXES)), data=st.data())
def test_generated_docker_host_pairs_are_refused_exactly_when_the_program_would_collide(
    base: str, extension: str, data: Any
) -> None:
    first, second = base, _flip(base + extension, data)
    values = fleets.fleet(
        hosts={first: _docker_host(first), second: _docker_host(second)}, runners={"r": _runner(first)}
    )
    values["gitlabCaBundle"] = fleets.GITLAB_CA
    problems = _problems(values)
    assert bool(problems) == bool(_meeting(_unchecked(values)))
    assert all(p.startswith(f"hosts.{second}: ") and f"host {first!r}'s" in p for p in problems)


@settings(max_examples=40, deadline=None)
@given(base=KEY, data=st.data())
def test_generated_case_variants_of_a_key_are_refused(base: str, data: Any) -> None:
    variant = _flip(base, data)
    if variant == base:
        variant = base.upper()
    values = fleets.fleet(runners={base: _runner("edge-1"), variant: _runner("edge-2")})
    (problem,) = _problems(values)
    assert "differ only in case" in problem
    assert {base, variant} == {problem.split("'")[1], problem.split("runner '")[1].split("'")[0]}


@settings(max_examples=30, deadline=None)
@given(base=KEY, extension=st.sampled_from(_extensions(K8S_SUFFIXES)))
def test_generated_kubernetes_host_pairs_are_refused_or_accepted(base: str, extension: str) -> None:
    second = base + extension
    values = fleets.fleet(
        hosts={
            base: {"kubernetes": {"context": "one", "namespace": "ci-a"}},
            second: {"kubernetes": {"context": "two", "namespace": "ci-b"}},
        },
        runners={"r": _runner(base)},
    )
    problems = _problems(values)
    assert all(p.startswith(f"hosts.{second}: ") and f"host {base!r}'s" in p for p in problems)


# The independent check of every suffix the program appends: a stack is refused exactly when the program, run
# without the check, would declare two names that are one once case is folded.
EXTENSIONS = [e for e in _extensions(DOCKER_SUFFIXES + K8S_SUFFIXES) if e]


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_the_spec_refuses_exactly_the_stacks_whose_names_meet(extension: str) -> None:
    values = fleets.fleet(
        gitlabCaBundle=fleets.GITLAB_CA,
        hosts={
            "x": _docker_host("x"),
            "x" + extension: _docker_host("x" + extension),
            "k": {"kubernetes": {"context": "one", "namespace": "ci-a"}},
            "k" + extension: {"kubernetes": {"context": "two", "namespace": "ci-b"}},
        },
        runners={"r": _runner("x")},
    )
    assert bool(_problems(values)) == bool(_meeting(_unchecked(values)))


@pytest.mark.parametrize(
    ("moment", "meets"),
    [
        (IN_WINDOW, True),
        (OUT_OF_WINDOW, False),
        (IN_WINDOW + timedelta(days=7), True),
        (OUT_OF_WINDOW + timedelta(days=7), False),
    ],
    ids=["even-window", "even", "odd-window", "odd"],
)
def test_a_rotating_runners_slot_meets_the_other_key_in_the_program(moment: datetime, meets: bool) -> None:
    """The refusal is real: with the fleet rotating both runners, `unit` and `unit-b` share generations, and in every
    retiring window the program declares `runner-unit-b` twice (`unit`'s slot b and `unit-b`'s slot a), whichever
    slot is active; so the spec refuses the pair at every moment, not only in windows."""
    values = fleets.fleet(tokenRotationDays=7)
    values["runners"]["unit-b"] = _runner("edge-2")
    assert bool(_meeting(_unchecked(values, moment))) == meets
