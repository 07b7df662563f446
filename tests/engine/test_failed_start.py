"""A successor that never gets healthy, on a real dockerd: the provider's create waits for the manager's health check
(`wait`), fails, and the run stops before the end-of-run deletes would stop the old manager. Its own module: the
upgrade module's fixture keeps that host's objects until the module ends."""

from __future__ import annotations

from tests import steps
from tests.engine import provider
from tests.engine.daemon import Engine
from tests.engine.deploy import StandIns
from tests.engine.test_upgrade import Applier, _host, _next_image, _upgraded
from tests.fleets import fleet


def test_a_successor_that_never_gets_healthy_fails_the_run_and_the_old_manager_keeps_running(
    engine: Engine, standins: StandIns
) -> None:
    """The new image exits at once (a wrong architecture, a runner that refuses its config): the provider's create
    waits for the manager's health check, fails, and the engine stops the run there, before the end-of-run deletes
    that would stop the old manager. (The wait is cut to 15 s here instead of the declared 300 s.)"""
    broken = _next_image(engine, standins, 'ENTRYPOINT ["/bin/busybox", "false"]')
    before, after = _host(fleet()), _host(_upgraded())
    applier = Applier(engine, standins, broken, wait_timeout=15)
    try:
        for r in steps.ordered(before):
            applier.create(r)
        (old,) = applier.running_managers()
        failed = None
        for step in steps.steps(before, after):
            try:
                getattr(applier, step.op)(step.resource)
            except provider.NotHealthy as err:
                failed = (step, err)
                break
        assert failed is not None and failed[0].op == "create" and steps.is_manager(failed[0].resource), failed
        managers = {m["Name"]: m for m in applier.running_managers()}
        assert managers[old["Name"]]["State"]["Running"], "the old manager still takes jobs"
        assert managers[old["Name"]]["State"]["Health"]["Status"] == "healthy"
        successors = [m for name, m in managers.items() if name != old["Name"]]
        assert all(m["State"].get("Health", {}).get("Status") != "healthy" for m in successors), successors
    finally:
        engine.remove_everything()
