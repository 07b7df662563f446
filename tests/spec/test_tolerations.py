"""hosts.<h>.kubernetes.tolerations: no spelling widens job placement to every taint.

Oracle: how gitlab-runner v19.3.0 turns the table into tolerations (common/config.go GetNodeTolerations, read
from the release source): the key is what stands before the first '=', the value what stands between the first
and second '=', operator Equal with '=' and Exists without; Kubernetes matches every taint for an empty key
with Exists. `upstream_toleration` restates those lines so the tests judge what the cluster would receive.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.spec import SpecError, parse_spec
from tests.fleets import K8S_MIXED


def upstream_toleration(entry: str, effect: str) -> dict[str, str]:
    """The toleration gitlab-runner v19.3.0 builds for one node_tolerations entry."""
    if "=" in entry:
        parts = entry.split("=")
        return {"key": parts[0], "operator": "Equal", "value": parts[1], "effect": effect}
    return {"key": entry, "operator": "Exists", "effect": effect}


def _problems(tolerations: object) -> list[str]:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["eu"]["kubernetes"]["tolerations"] = tolerations
    try:
        parse_spec(values, stack="test", secret_keys=())
    except SpecError as err:
        return list(err.problems)
    return []


CATCH_ALL = ["", " ", "  ", "=", "=x", "= x", "*", " *", "=ci-builds", "=NoSchedule"]


@pytest.mark.parametrize("entry", CATCH_ALL, ids=repr)
@pytest.mark.parametrize("effect", ["NoSchedule", "NoExecute", "PreferNoSchedule"])
def test_an_empty_key_in_any_spelling_is_refused_and_says_why(entry: str, effect: str) -> None:
    problems = _problems({entry: effect})
    assert [p for p in problems if p.startswith("hosts.eu.kubernetes.tolerations.")], problems
    assert any("matches every taint" in p for p in problems), problems


@pytest.mark.parametrize(
    ("entry", "effect"),
    [
        (":NoSchedule", "NoSchedule"),  # kubectl's taint syntax pasted as the key
        ("dedicated=ci-builds:NoSchedule", "NoSchedule"),
        ("dedicated=ci=builds", "NoSchedule"),  # gitlab-runner would drop '=builds'
        ("dedicated ci", "NoSchedule"),
        ("dedicated=ci builds", "NoSchedule"),
        ("node-role.kubernetes.io/control-plane", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("dedicated=ci-builds", ""),  # an empty effect matches every effect
        ("dedicated=ci-builds", " NoSchedule"),
        ("dedicated=ci-builds", "noschedule"),
    ],
)
def test_keys_values_and_effects_outside_the_grammar_are_refused(entry: str, effect: str) -> None:
    problems = _problems({entry: effect})
    assert any(p.startswith("hosts.eu.kubernetes.tolerations.") for p in problems), problems


@pytest.mark.parametrize(
    "tolerations",
    [
        {"dedicated=ci-builds": "NoSchedule"},  # the dev stack's
        {"dedicated": "NoSchedule"},
        {"example.com/gpu=true": "NoExecute", "spot": "PreferNoSchedule"},
        {"dedicated=": "NoSchedule"},
    ],
)
def test_named_taints_are_accepted(tolerations: dict[str, str]) -> None:
    assert _problems(tolerations) == []


@given(st.text(max_size=30), st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute", "", "x"]))
@settings(max_examples=300, deadline=None)
def test_no_accepted_entry_reaches_the_cluster_as_a_catch_all(entry: str, effect: str) -> None:
    if _problems({entry: effect}) == []:
        toleration = upstream_toleration(entry, effect)
        assert toleration["key"].strip(), (entry, toleration)
        assert toleration["effect"] in ("NoSchedule", "PreferNoSchedule", "NoExecute")
        assert entry.count("=") <= 1  # nothing gitlab-runner would drop
        head = toleration["key"].split("/")[0]
        assert head not in ("kubernetes.io", "k8s.io") and not head.endswith((".kubernetes.io", ".k8s.io"))
