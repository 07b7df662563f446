"""Whatever a stack file holds, spec parsing ends in a FleetSpec or a SpecError: never another exception."""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import pytest

from components.domain.targets import KubernetesTarget
from components.spec import SpecError, parse_spec
from tests.fleets import FLEET
from tests.harness import objects, rendered, validate_text

K8S_HOST = {
    "kubernetes": {"namespace": "ci", "context": "c", "nodeSelector": {"a": "b"}, "tolerations": {"k=v": "NoSchedule"}}
}
VALUES: list[Any] = [
    None,
    0,
    -1,
    1,
    7200,
    1.5,
    "",
    " ",
    "x",
    "edge-1",
    "ssh://",
    "tcp://h:1",
    [],
    {},
    [1],
    ["a"],
    {"a": 1},
    {"instance": True},
    {"group": "g"},
    True,
    False,
    "[docker]\nmemory = 1\n",
    "a = ",
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(data: dict[str, Any], rng: random.Random) -> None:
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(data))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if rng.random() < 0.2 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))


@pytest.mark.parametrize("seed", range(6))
def test_random_stacks_end_in_a_spec_or_a_spec_error(seed: int) -> None:
    rng = random.Random(seed)
    outcomes = {"spec": 0, "error": 0}
    for _ in range(120):
        data = copy.deepcopy(FLEET)
        data["hosts"]["kube"] = copy.deepcopy(K8S_HOST)
        data["runners"]["kube-build"] = {"host": "kube", "scope": {"group": 3}, "tags": ["k"], "buildkit": True}
        data["variables"] = [{"project": "a/b", "key": "K", "value": "v"}]
        _mutate(data, rng)
        try:
            spec = parse_spec(data, stack="fuzz")
        except SpecError as exc:
            outcomes["error"] += 1
            assert exc.problems
            for problem in exc.problems:
                assert re.match(r"^[^:\s]+: \S", problem), problem
            continue
        outcomes["spec"] += 1
        for host in spec.hosts:
            assert validate_text(rendered(spec, host.key)) == []
            if isinstance(host.target, KubernetesTarget):
                objects(spec, host.key)
    assert outcomes["spec"] and outcomes["error"], outcomes
