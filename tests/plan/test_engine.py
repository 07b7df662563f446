"""plan.engine: the one mock-engine harness records what the engine receives."""

from __future__ import annotations

from components.plan import engine
from tests.conftest import Plan
from tests.fleets import K8S_MIXED


def test_the_harness_records_what_the_engine_receives(plan: Plan) -> None:
    """The mock engine is the engine for every test: resources arrive with parents, options and secrets wrapped."""
    result = plan(K8S_MIXED)
    urns = {r.urn for r in result.resources}
    (fleet,) = [r for r in result.resources if r.type == "runner-fleet:fleet:RunnerFleet"]
    assert all(r.parent in urns for r in result.resources if r is not fleet)
    secrets = [r for r in result.resources if r.type == "kubernetes:core/v1:Secret"]
    assert secrets and all(engine.is_secret(r.inputs["stringData"]) for r in secrets)
