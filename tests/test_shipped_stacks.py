"""The shipped stacks are examples to copy (issue 21, part 3): each plans, as a user runs `make plan`, without a single
warning or policy finding of any severity; a stack that raises one is caught (the mutations below prove the check
sees both kinds)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, STACKS
from tests.harness import plan_command

SHIPPED = [ROOT / "stacks" / "Pulumi.dev.yaml", ROOT / "stacks" / "Pulumi.prod.yaml"]
# What the plan reads from the environment besides the stack file (README "Offline plan"): left out, so that only the
# stack speaks. The deploying machine's own variables are the user's business, warned about separately.
AMBIENT = ("DOCKER_", "PULUMI_", "KUBECONFIG", "RUNNER_FLEET_")


def plan_findings(stack_file: Path, out: Path) -> list[str]:
    """Everything a user would see as a warning or a finding when planning `stack_file` with the real command: the
    plan's `warnings` and `policies` (mandatory, advisory or exempt) from plan.json, and every stderr line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(AMBIENT)}
    done = plan_command("--stack-file", str(stack_file), "--out", str(out), env=env)
    assert done.returncode in (0, 3), done.stderr  # 3: a mandatory policy, listed below
    document = json.loads((out / "plan.json").read_text())
    found = [f"warning: {w}" for w in document["warnings"]]
    found += [f"policy {p['rule']}: {p['resource']}: {p['message']}" for p in document["policies"]]
    return found + [f"stderr: {line}" for line in done.stderr.splitlines() if line.strip()]


def test_the_shipped_stacks_are_the_ones_checked() -> None:
    assert sorted(SHIPPED) == sorted(STACKS)


@pytest.mark.parametrize("stack_file", SHIPPED, ids=[p.name for p in SHIPPED])
def test_a_shipped_stack_plans_without_a_warning_or_a_finding(stack_file: Path, tmp_path: Path) -> None:
    assert plan_findings(stack_file, tmp_path / "out") == []


def _mutated(tmp_path: Path, change: Any) -> Path:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    change(document["config"])
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _untagged_buildkit(config: dict[str, Any]) -> None:
    config["runner-fleet:runners"]["images"]["runUntagged"] = True


def _too_few_slots(config: dict[str, Any]) -> None:
    config["runner-fleet:hosts"]["build-1"]["concurrent"] = 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_untagged_buildkit, "policy buildkit-runs-untagged: "),  # an advisory rule (components/policy/rules.py)
        (_too_few_slots, "warning: hosts.build-1.concurrent: "),  # a spec warning (components/spec/fleet_checks.py)
    ],
    ids=["advisory", "warning"],
)
def test_the_check_catches_a_stack_that_raises_one(change: Any, expected: str, tmp_path: Path) -> None:
    found = plan_findings(_mutated(tmp_path, change), tmp_path / "out")
    assert any(line.startswith(expected) for line in found), found
