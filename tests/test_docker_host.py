"""DockerRunnerHost alone under the shared mock harness: the manager, its drain, config delivery."""

from __future__ import annotations

from typing import Any

import pulumi

from components.docker_host import DockerRunnerHost, DockerRunnerHostArgs
from components.mock_engine import PlanResult, run_function
from tests.conftest import fleet, spec_of


def _docker_host(values: dict[str, Any], host: str = "edge-1") -> PlanResult:
    spec = spec_of(values)

    def body() -> None:
        tokens = {r.key: pulumi.Output.secret(f"glrt-test-{r.key}") for r in spec.runners_on(host)}
        DockerRunnerHost(f"host-{host}", DockerRunnerHostArgs(spec=spec, host_key=host, tokens=tokens))

    return run_function(body)


def test_docker_host_children_have_the_host_as_parent() -> None:
    result = _docker_host(fleet())
    (component,) = result.of_type("runner-fleet:docker_host:DockerRunnerHost")
    children = {r.type.split(":")[-1] + ":" + r.name for r in result.children(component)}
    assert children == {
        "RemoteImage:host-edge-1-runner-image",
        "Volume:host-edge-1-config",
        "Container:host-edge-1-config-writer",
        "Container:host-edge-1-manager",
    }
    image = result.named("host-edge-1-runner-image").display_inputs
    assert image["name"] == "gitlab/gitlab-runner:alpine-v19.3.0" and image["keepLocally"] is True


def test_config_change_replaces_the_writer_not_the_manager() -> None:
    before = _docker_host(fleet())
    changed = fleet()
    changed["runners"]["unit"]["limit"] = 5
    changed["hosts"]["edge-1"]["concurrent"] = 9
    after = _docker_host(changed)
    name = "host-edge-1-manager"
    assert before.named(name).inputs == after.named(name).inputs, "a config change must not touch the manager"
    writer = "host-edge-1-config-writer"
    assert before.named(writer).inputs != after.named(writer).inputs
    manager = after.named(name)
    assert "host-edge-1-config-writer" in manager.options["dependsOn"], "config is in place before the manager starts"


def test_longer_job_timeout_lengthens_the_drain() -> None:
    values = fleet()
    values["runners"]["unit"]["maximumTimeout"] = 10800
    manager = _docker_host(values).named("host-edge-1-manager").display_inputs
    assert manager["destroyGraceSeconds"] == 10800 + 60
