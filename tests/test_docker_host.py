"""docker_host: DockerRunnerHost alone under the shared mock harness: the manager, its drain, config delivery."""

from __future__ import annotations

from typing import Any

import pulumi

from components.docker_host import DockerRunnerHost, DockerRunnerHostArgs
from components.plan.engine import PlanResult, run_function
from tests.fleets import fleet
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
    values = fleet()
    result = _docker_host(values)
    network = named(result, "host-edge-1-manager-network").display_inputs
    assert network["name"] == "gitlab-runner-test-edge-1-manager" and network["driver"] == "bridge"
    manager = named(result, "host-edge-1-manager").display_inputs
    # Its own network, not the default bridge that job containers share.
    assert manager["networksAdvanced"] == [{"name": network["name"]}] and "networkMode" not in manager
    assert manager["ports"] == [{"internal": 9252, "external": 9252, "ip": "127.0.0.1", "protocol": "tcp"}]
    values["hosts"]["edge-1"]["docker"]["metricsPort"] = 19252
    moved = named(_docker_host(values), "host-edge-1-manager").display_inputs
    assert moved["ports"][0]["external"] == 19252 and moved["ports"][0]["ip"] == "127.0.0.1"
