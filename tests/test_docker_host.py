"""docker_host: DockerRunnerHost alone under the shared mock harness: the manager, its drain, config delivery."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.docker_host import DockerRunnerHost, DockerRunnerHostArgs
from components.plan.engine import PlanResult, Resource, run_function
from tests import steps
from tests.conftest import Plan
from tests.fleets import GITLAB_CA, fleet
from tests.harness import children, manager_of, named, of_type, spec_of


def _docker_host(values: dict[str, Any], host: str = "edge-1") -> PlanResult:
    manager = manager_of(spec_of(values), host)

    def body() -> None:
        tokens = {r.key: pulumi.Output.secret(f"glrt-test-{r.key}") for r in manager.runners}
        DockerRunnerHost(f"host-{host}", DockerRunnerHostArgs(manager=manager, tokens=tokens))

    return run_function(body)


def test_docker_host_children_have_the_host_as_parent() -> None:
    result = _docker_host(fleet())
    (component,) = of_type(result, "runner-fleet:docker_host:DockerRunnerHost")
    declared = {r.type.split(":")[-1] + ":" + r.name for r in children(result, component)}
    assert declared == {
        "RemoteImage:host-edge-1-runner-image",
        "Volume:host-edge-1-config",
        "Network:host-edge-1-manager-network",
        "Container:host-edge-1-config-writer",
        "Container:host-edge-1-manager",
        "Container:host-edge-1-config-reloader",
    }
    image = named(result, "host-edge-1-runner-image").display_inputs
    assert image["name"] == "gitlab/gitlab-runner:alpine-v19.3.0" and image["keepLocally"] is True


def test_config_change_replaces_the_writer_not_the_manager() -> None:
    before = _docker_host(fleet())
    changed = fleet()
    changed["runners"]["unit"]["limit"] = 5
    changed["hosts"]["edge-1"]["concurrent"] = 9
    after = _docker_host(changed)
    name = "host-edge-1-manager"
    assert named(before, name).inputs == named(after, name).inputs, "a config change must not touch the manager"
    writer = "host-edge-1-config-writer"
    assert named(before, writer).inputs != named(after, writer).inputs
    manager = named(after, name)
    assert "host-edge-1-config-writer" in manager.options["dependsOn"], "config is in place before the manager starts"
    reloader = "host-edge-1-config-reloader"
    digests = [_label(named(r, reloader), "runner-fleet.io/config-digest") for r in (before, after)]
    assert digests[0] != digests[1], "a new config gets a new reloader, which sends the manager SIGHUP"


def _label(resource: Any, label: str) -> str:
    (value,) = [x["value"] for x in resource.display_inputs["labels"] if x["label"] == label]
    return str(value)


def test_the_reloader_signals_the_manager_and_reaches_nothing_else() -> None:
    result = _docker_host(fleet())
    reloader = named(result, "host-edge-1-config-reloader").display_inputs
    # by id, as the engine stores it (a name is rewritten to the id: the lane in tests/engine shows it)
    assert reloader["pidMode"] == "container:host-edge-1-manager-id"  # the mock engine's id of the manager
    assert reloader["entrypoints"] == ["/bin/sh", "-c"] and reloader["command"] == ["kill -HUP 1"]
    assert reloader["networkMode"] == "none" and reloader["capabilities"] == {"drops": ["ALL"]}
    assert reloader["start"] is True and reloader["mustRun"] is False
    assert not {"volumes", "mounts", "uploads", "envs", "ports"} & set(reloader), "no config, socket or secret"
    assert _label(named(result, "host-edge-1-config-reloader"), "runner-fleet.io/config-digest").startswith("sha256:")


def test_longer_job_timeout_lengthens_the_drain() -> None:
    values = fleet()
    values["runners"]["unit"]["maximumTimeout"] = 10800
    manager = named(_docker_host(values), "host-edge-1-manager").display_inputs
    assert manager["destroyGraceSeconds"] == 10800 + 60


def test_the_listener_is_out_of_jobs_reach_and_on_the_host_loopback() -> None:
    result = _docker_host(fleet())
    network = named(result, "host-edge-1-manager-network").display_inputs
    assert network["name"] == "gitlab-runner-test-edge-1-manager" and network["driver"] == "bridge"
    manager = named(result, "host-edge-1-manager").display_inputs
    # Its own network, not the default bridge that job containers share.
    assert manager["networksAdvanced"] == [{"name": network["name"]}] and "networkMode" not in manager
    # On the host's loopback, at a port Docker picks (the provider's `external` is Optional+Computed): no two
    # generations of a manager ever want one port.
    assert manager["ports"] == [{"internal": 9252, "ip": "127.0.0.1", "protocol": "tcp"}]


GITLAB_SYSTEM_ID = re.compile(r"^[sr]_[0-9a-zA-Z]{12}$")  # gitlab-runner configfile/system_id_state.go loadFromFile


def _uploads(result: PlanResult) -> dict[str, Any]:
    return {u["file"]: u for u in named(result, "host-edge-1-config-writer").revealed["uploads"]}


def _edit_runner(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(values: dict[str, Any]) -> None:
        values["runners"]["unit"][path] = value

    return edit


RELOADS = {  # what config.toml holds: a new upload and a SIGHUP
    "limit": _edit_runner("limit", 5),
    "extraConfig": _edit_runner("extraConfig", "[docker]\nshm_size = 268435456\n"),
    "concurrent": lambda v: v["hosts"]["edge-1"].update(concurrent=9),
    "a new runner": lambda v: v["runners"].update(more={"host": "edge-1", "scope": {"project": 9}, "tags": ["x"]}),
}
GITLAB_SIDE = {  # what GitLab holds (the registration) and the drain: nothing for the manager to reload
    "tags": _edit_runner("tags", ["unit", "fast"]),
    "maximumTimeout": _edit_runner("maximumTimeout", 10800),
    "paused": _edit_runner("paused", True),
}


@pytest.mark.parametrize("edit", list(GITLAB_SIDE.values()), ids=list(GITLAB_SIDE))
def test_a_registration_edit_leaves_the_manager_and_its_generation(edit: Callable[[dict[str, Any]], None]) -> None:
    before, values = _docker_host(fleet()), fleet()
    edit(values)
    after = _docker_host(values)
    for name in ("host-edge-1-manager", "host-edge-1-config-writer", "host-edge-1-config"):
        assert steps.replace_keys(named(before, name), named(after, name)) == [], name


@pytest.mark.parametrize("edit", list(RELOADS.values()), ids=list(RELOADS))
def test_a_runner_edit_reloads_in_place_in_the_same_generation(edit: Callable[[dict[str, Any]], None]) -> None:
    before, values = _docker_host(fleet()), fleet()
    edit(values)
    after = _docker_host(values)
    old, new = named(before, "host-edge-1-manager"), named(after, "host-edge-1-manager")
    assert steps.replace_keys(old, new) == [], "the manager is not replaced"
    assert new.inputs["name"] == old.inputs["name"]
    for name in ("host-edge-1-config-writer", "host-edge-1-config-reloader"):  # the upload, then the SIGHUP
        assert steps.replace_keys(named(before, name), named(after, name)), name
        assert named(before, name).inputs["name"] == named(after, name).inputs["name"], "same generation"
    assert (
        _uploads(before)["/etc/gitlab-runner/.runner_system_id"]
        == _uploads(after)["/etc/gitlab-runner/.runner_system_id"]
    ), "the same manager to GitLab"


def test_a_rotated_token_reloads_in_place() -> None:
    manager = manager_of(spec_of(fleet()), "edge-1")

    def body(suffix: str) -> Callable[[], None]:
        def run() -> None:
            tokens = {r.key: pulumi.Output.secret(f"glrt-{suffix}-{r.key}") for r in manager.runners}
            DockerRunnerHost("host-edge-1", DockerRunnerHostArgs(manager=manager, tokens=tokens))

        return run

    before, after = run_function(body("old")), run_function(body("new"))
    assert not steps.replace_keys(named(before, "host-edge-1-manager"), named(after, "host-edge-1-manager"))
    assert steps.replace_keys(named(before, "host-edge-1-config-writer"), named(after, "host-edge-1-config-writer"))


NEW_GENERATION = {
    "runnerImage": lambda v: v["hosts"]["edge-1"].update(runnerImage="gitlab/gitlab-runner:alpine-v19.4.0"),
    "proxy": lambda v: v["hosts"]["edge-1"].update(proxy={"https": "http://proxy.acme.test:3128"}),
    "registryMirror": lambda v: v.update(registryMirror="registry.acme.test/mirror"),
}


@pytest.mark.parametrize("edit", list(NEW_GENERATION.values()), ids=list(NEW_GENERATION))
def test_what_forces_the_managers_replacement_is_a_new_generation_created_first(
    edit: Callable[[dict[str, Any]], None],
) -> None:
    before, values = _docker_host(fleet()), fleet()
    edit(values)
    after = _docker_host(values)
    old, new = named(before, "host-edge-1-manager"), named(after, "host-edge-1-manager")
    assert steps.replace_keys(old, new), "the provider replaces the manager"
    assert new.options["deleteBeforeReplace"] is False, "explicitly create-first"
    assert old.inputs["name"] != new.inputs["name"], "a successor never takes the draining manager's name"
    assert all("external" not in port for port in new.inputs["ports"]), "nor its published port"
    for name in ("host-edge-1-config", "host-edge-1-config-writer", "host-edge-1-config-reloader"):
        assert named(before, name).inputs["name"] != named(after, name).inputs["name"], name
    volume = named(after, "host-edge-1-config")
    assert volume.options["deleteBeforeReplace"] is False, "the old volume is in use until the old manager is gone"
    assert new.inputs["volumes"] == [{"volumeName": volume.inputs["name"], "containerPath": "/etc/gitlab-runner"}]
    network = "host-edge-1-manager-network"
    assert named(before, network).inputs == named(after, network).inputs, "both generations share the network"
    ids = [_uploads(r)["/etc/gitlab-runner/.runner_system_id"] for r in (before, after)]
    assert ids[0]["content"] != ids[1]["content"], "GitLab sees two managers while the old one drains"
    assert all(GITLAB_SYSTEM_ID.match(i["content"]) and i["permissions"] == "0600" for i in ids), ids


def test_the_manager_keeps_its_role_and_host_labels_and_says_its_generation() -> None:
    result = _docker_host(fleet())
    manager = named(result, "host-edge-1-manager")
    labels = {x["label"]: x["value"] for x in manager.inputs["labels"]}
    assert labels["runner-fleet.io/role"] == "manager" and labels["runner-fleet.io/host"] == "edge-1"
    assert manager.inputs["name"] == f"gitlab-runner-test-edge-1-{labels['runner-fleet.io/generation']}"
    assert re.fullmatch(r"[0-9a-f]{8}", labels["runner-fleet.io/generation"])


def _without_generations(resources: list[Resource]) -> list[Resource]:
    """The same resources as a stack deployed before generations named them (same URNs, names without it)."""
    out = []
    for r in resources:
        inputs = dict(r.inputs)
        if isinstance(inputs.get("name"), str) and r.type != "docker:index/remoteImage:RemoteImage":
            inputs["name"] = re.sub(r"-[0-9a-f]{8}(?=-config|$)", "", inputs["name"])
        inputs.pop("ports", None)
        if r.type == steps.CONTAINER and "labels" in inputs:
            inputs["labels"] = [x for x in inputs["labels"] if x["label"] != "runner-fleet.io/generation"]
        out.append(dataclasses.replace(r, inputs=inputs))
    return out


UPGRADES = {
    "image upgrade": (fleet, NEW_GENERATION["runnerImage"]),
    "proxy": (fleet, NEW_GENERATION["proxy"]),
    "with a GitLab CA": (lambda: fleet(gitlabCaBundle=GITLAB_CA), NEW_GENERATION["runnerImage"]),
}


@pytest.mark.parametrize(("base", "edit"), list(UPGRADES.values()), ids=list(UPGRADES))
def test_no_step_of_an_upgrade_leaves_the_host_without_a_running_manager(
    base: Callable[[], dict[str, Any]], edit: Callable[[dict[str, Any]], None]
) -> None:
    """The engine's steps (tests/steps.py, from provider-semantics.json), replayed: the proof in docker_host's
    docstring. Also from a stack deployed before generations (same URNs, the old names)."""
    values = base()
    before = _docker_host(values)
    edit(values)
    after = _docker_host(values)
    for old in (before.resources, _without_generations(before.resources)):
        sequence = steps.steps(old, after.resources)
        running = steps.running_managers(old, sequence)
        assert all(running), "\n".join(f"{s} -> {r}" for s, r in zip(sequence, running, strict=True))
        assert len(max(running, key=len)) == 2, "the two generations overlap"
        assert running[-1] == {named(after, "host-edge-1-manager").inputs["name"]}
        (last,) = [s for s in sequence if steps.is_manager(s.resource) and s.op == "delete"]
        assert last.why == "end of run" and last.resource.inputs["destroyGraceSeconds"] >= 7200, "it drains"


def test_with_the_providers_default_order_the_host_would_have_no_manager() -> None:
    """The check above can fail: under the provider's own delete-first order, the host is empty for a while."""
    values = fleet()
    before = _docker_host(values)
    NEW_GENERATION["runnerImage"](values)
    after = _docker_host(values)
    default = [dataclasses.replace(r, options={**r.options, "deleteBeforeReplace": None}) for r in after.resources]
    assert not all(steps.running_managers(before.resources, steps.steps(before.resources, default)))


def test_the_stack_outputs_name_each_docker_manager_and_its_generation(plan: Plan) -> None:
    """What `pulumi stack output` shows: where to look (`docker port <name>`) after an upgrade."""
    result = plan(fleet())
    generations = result.outputs["managerGenerations"]
    assert set(generations) == {"edge-1", "edge-2", "edge-3"}
    for host, generation in generations.items():
        assert result.outputs["managers"][host] == f"gitlab-runner-test-{host}-{generation}"


def test_the_health_check_dials_the_port_the_listener_is_rendered_on() -> None:
    """The manager's health check and its config.toml's listen_address name one port (else every create would wait
    for a port nobody opens, and fail)."""
    from components.domain.generation import HEALTH_TEST
    from components.render import config_toml

    ports = {HEALTH_TEST[i + 1] for i, part in enumerate(HEALTH_TEST) if part == "--port"}
    assert ports == {str(config_toml.METRICS_PORT)}
    result = _docker_host(fleet())
    (manager,) = [r for r in result.resources if r.name.endswith("-manager") and r.type.endswith("Container")]
    assert manager.inputs["healthcheck"]["tests"] == list(HEALTH_TEST) and manager.inputs["wait"] is True
