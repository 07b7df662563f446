"""The second `pulumi up` is a no-op: every Docker volume, network and container a host's plan declares, created on
a real dockerd as the docker provider creates it and read back as its Read does, differs from what was declared
in nothing that forces a replacement or an update."""

from __future__ import annotations

import pytest

from tests.engine.cases import CASES, Fleet, plan_of
from tests.engine.daemon import Engine
from tests.engine.deploy import CONTAINER, StandIns, deploy, docker_hosts


@pytest.mark.parametrize(("case", "host"), CASES, ids=[f"{f.id}-{h}" for f, h in CASES])
def test_what_the_engine_stores_is_what_was_declared(
    engine: Engine, standins: StandIns, case: Fleet, host: str
) -> None:
    resources = docker_hosts(plan_of(case))[f"docker-{host}"]
    try:
        # What is stored does not depend on the wait for the manager's health (test_upgrade and test_host_life wait).
        deployed = deploy(engine, standins, resources, wait=False)
        found = deployed.differences()
    finally:
        engine.remove_everything()
    assert sum(c.resource.type == CONTAINER for c in deployed.created) >= 3, "writer, manager and reloader"
    assert not found, "the next `pulumi up` would change:\n" + "\n".join(map(str, found))
