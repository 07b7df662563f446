"""A docker-autoscaler BuildKit runner, planned as a user plans it (`python -m components.plan`).

What a user checks: the host's config.toml carries the autoscaler exactly as declared and the BuildKit relaxation
for that runner's job containers (the same `[runners.docker]` as on a fixed host: docker-autoscaler wraps the
Docker executor) and for no other runner; the file validates against gitlab-runner's schema; an unpinned plugin
is refused with exit 2 naming `plugin`; the policies judge autoscaled runners as any other.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from components.domain.model import Tier
from components.plan import gate
from components.policy.resources import Declared, Secret, plain
from components.policy.rules import evaluate
from tests.conftest import Plan
from tests.fleets import AUTOSCALED, write_stack
from tests.harness import plan_command, rendered, spec_of, validate_text

UNCONFINED = ["seccomp=unconfined", "apparmor=unconfined"]


def _entries(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in document["runners"]}


def test_the_planned_config_carries_the_autoscaler_as_declared_and_the_relaxation_for_its_jobs(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    done = plan_command("--stack-file", str(write_stack(tmp_path, AUTOSCALED)), "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = (out / "hosts" / "build-1" / "config.toml").read_text()
    assert not validate_text(text)
    entries = _entries(tomllib.loads(text))
    images, unit = entries["test-images"], entries["test-unit"]

    assert images["executor"] == "docker-autoscaler"
    assert images["autoscaler"] == {
        "plugin": "aws:1.0.0",
        "capacity_per_instance": 1,
        "max_use_count": 1,
        "max_instances": 20,
        "plugin_config": {"name": "acme-ci-builders", "region": "eu-west-1"},
        "connector_config": {"username": "ec2-user", "use_external_addr": False},
        "policy": [
            {"periods": ["* 7-19 * * mon-fri"], "timezone": "Europe/Berlin", "idle_count": 3, "idle_time": "20m0s"}
        ],
    }
    assert images["docker"]["security_opt"] == UNCONFINED
    assert "BUILDKITD_FLAGS=--oci-worker-no-process-sandbox" in images["environment"]

    assert unit["executor"] == "docker" and "autoscaler" not in unit
    assert "security_opt" not in unit["docker"] and "environment" not in unit


def test_the_job_containers_get_the_relaxation_exactly_as_on_a_fixed_host() -> None:
    fixed = copy.deepcopy(AUTOSCALED)
    del fixed["runners"]["images"]["autoscaler"]
    on_instances = _entries(tomllib.loads(rendered(spec_of(AUTOSCALED), "build-1")))["test-images"]
    on_host = _entries(tomllib.loads(rendered(spec_of(fixed), "build-1")))["test-images"]
    assert on_instances["docker"] == on_host["docker"]
    assert on_instances["environment"] == on_host["environment"]
    assert {k for k in on_instances if on_instances[k] != on_host.get(k)} == {"executor", "autoscaler"}


def test_an_unpinned_plugin_exits_2_naming_plugin(tmp_path: Path) -> None:
    values = copy.deepcopy(AUTOSCALED)
    values["runners"]["images"]["autoscaler"]["plugin"] = "aws"
    out = tmp_path / "plan"
    done = plan_command("--stack-file", str(write_stack(tmp_path, values)), "--out", str(out))
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = [x for x in done.stderr.splitlines() if "runners.images.autoscaler.plugin:" in x]
    assert "not pinned" in line and "Traceback" not in done.stderr
    assert not (out / "plan.json").exists()


def _tampered(resources: list[Declared], runner: str, edit: Any) -> list[Declared]:
    """config.toml as a bug or a hand edit would leave it: `edit` applied to one runner's entry."""
    out = []
    for res in resources:
        uploads = plain(res.inputs.get("uploads")) if res.type.startswith("docker:") else None
        if uploads and uploads[0].get("file", "").endswith("config.toml"):
            document = tomllib.loads(uploads[0]["content"])
            edit(_entries(document)[runner])
            uploads = copy.deepcopy(uploads)
            uploads[0]["content"] = tomli_w.dumps(document)
            res = dataclasses.replace(res, inputs={**res.inputs, "uploads": Secret(uploads)})
        out.append(res)
    return out


def test_the_policies_pass_an_autoscaled_buildkit_runner_and_judge_autoscaled_entries(plan: Plan) -> None:
    resources = gate.declared(plan(AUTOSCALED))
    assert not [v for v in evaluate(resources, Tier.PRODUCTION) if v.rule.startswith(("unconfined", "buildkit"))]

    def relax(entry: dict[str, Any]) -> None:  # a plain autoscaled runner made unconfined
        entry["docker"]["security_opt"] = UNCONFINED

    values = copy.deepcopy(AUTOSCALED)
    values["runners"]["unit"]["autoscaler"] = copy.deepcopy(values["runners"]["images"]["autoscaler"])
    values["runners"]["unit"]["autoscaler"]["pluginConfig"]["name"] = "acme-ci-tests"
    tampered = _tampered(gate.declared(plan(values)), "test-unit", relax)
    fired = {v.rule for v in evaluate(tampered, Tier.DEVELOPMENT)}
    assert "unconfined-only-for-buildkit-build" in fired


def _plan(tmp_path: Path, values: dict[str, Any], name: str, *compare: str) -> tuple[Path, dict[str, Any]]:
    import json

    out, files = tmp_path / name, tmp_path / f"{name}-stack"
    files.mkdir()
    done = plan_command("--stack-file", str(write_stack(files, values)), "--out", str(out), *compare)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, json.loads((out / "plan.json").read_text())


def _manager(document: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in document["resources"] if r["name"] == "host-build-1-manager")


def _with(values: dict[str, Any], edit: Any) -> dict[str, Any]:
    changed = copy.deepcopy(values)
    edit(changed["runners"]["images"]["autoscaler"])
    return changed


def test_the_manager_installs_its_pinned_plugins_before_it_runs(tmp_path: Path) -> None:
    _, document = _plan(tmp_path, AUTOSCALED, "base")
    inputs = _manager(document)["inputs"]
    # The image's own init stays PID 1 (SIGQUIT and the reloader's SIGHUP reach gitlab-runner); the install runs
    # before the image's entrypoint script takes over with its default command.
    assert inputs["entrypoints"][0] == "/usr/bin/dumb-init"
    script = inputs["command"][-1]
    assert script.index("fleeting") < script.index("exec /entrypoint run")
    assert "install" in script and "--config /etc/gitlab-runner/config.toml" in script


def test_a_host_with_autoscaled_runners_is_replaced_delete_first_and_the_report_says_why(tmp_path: Path) -> None:
    """Two managers must never scale one instance group (a starting manager removes the group's instances), so
    the create-first overlap of fixed hosts is refused here: the report must say capacity drops to zero and why."""
    base, document = _plan(tmp_path, AUTOSCALED, "base")
    assert _manager(document)["options"]["deleteBeforeReplace"] is True
    upgraded = copy.deepcopy(AUTOSCALED)
    upgraded["hosts"]["build-1"]["runnerImage"] = "gitlab/gitlab-runner:alpine-v19.2.0"
    new, _ = _plan(tmp_path, upgraded, "new", "--compare", str(base))
    impact = (new / "impact.md").read_text()
    assert "NO MANAGER TAKES JOBS" in impact
    assert "two managers must never scale one instance group" in impact


def test_what_only_a_restart_applies_is_a_new_generation_and_policies_reload_in_place(tmp_path: Path) -> None:
    _, document = _plan(tmp_path, AUTOSCALED, "base")
    name = _manager(document)["inputs"]["name"]

    def policies(a: dict[str, Any]) -> None:
        a["policies"][0]["idleCount"] = 5

    def capacity(a: dict[str, Any]) -> None:
        a["maxInstances"] = 30

    def plugin(a: dict[str, Any]) -> None:
        a["plugin"] = "aws:1.0.1"

    _, same = _plan(tmp_path, _with(AUTOSCALED, policies), "policies")
    assert _manager(same)["inputs"]["name"] == name
    # A new registration (scope moved) is a new token in config.toml: gitlab-runner would start a second taskscaler
    # of the group on reload, so the manager restarts instead.
    rescoped = copy.deepcopy(AUTOSCALED)
    rescoped["runners"]["images"]["scope"] = {"project": 42}
    _, moved = _plan(tmp_path, rescoped, "rescoped")
    assert _manager(moved)["inputs"]["name"] != name
    for edit in (capacity, plugin):
        _, moved = _plan(tmp_path, _with(AUTOSCALED, edit), edit.__name__)
        assert _manager(moved)["inputs"]["name"] != name, edit.__name__


def test_an_instance_group_moving_to_another_hosts_manager_is_a_running_jobs_risk(tmp_path: Path) -> None:
    """Host A's old manager drains jobs on the group's instances until the end of the run while host B's new one
    starts a taskscaler on the same group, which removes them: the report must say so, with its rule id."""
    two = copy.deepcopy(AUTOSCALED)
    two["hosts"]["build-2"] = {"docker": {"host": "ssh://ci@build-2.acme.test"}, "concurrent": 24}
    base, _ = _plan(tmp_path, two, "base")
    moved = copy.deepcopy(two)
    moved["runners"]["images"]["host"] = "build-2"
    new, _ = _plan(tmp_path, moved, "new", "--compare", str(base))
    impact = (new / "impact.md").read_text()
    assert "`instance-group-changes-manager`" in impact
    assert "its instance group moves from host 'build-1' to 'build-2'" in impact
    # However the plugin is spelled: GitLab's registry path names the same plugin, so the same group.
    spelled = copy.deepcopy(moved)
    spelled["runners"]["images"]["autoscaler"]["plugin"] = "registry.gitlab.com/gitlab-org/fleeting/plugins/aws:1.0.0"
    again, _ = _plan(tmp_path, spelled, "spelled", "--compare", str(base))
    assert "`instance-group-changes-manager`" in (again / "impact.md").read_text()
    # Staying on its host is no such risk.
    same, _ = _plan(tmp_path, two, "same", "--compare", str(base))
    assert "instance group moves" not in (same / "impact.md").read_text()
