"""The one way tests plan a stack: the `plan` fixture runs the real program under the mock engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.plan import engine
from components.plan.engine import PlanResult
from components.plan.stack_file import read_stack_file
from tests.fleets import write_stack

ROOT = Path(__file__).resolve().parents[1]
STACKS = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
GOLDEN = Path(__file__).resolve().parent / "golden"

Plan = Callable[..., PlanResult]


@pytest.fixture(scope="session")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    """`plan(values_or_stack_file, stack="test", extra=None)`: the program's plan, computed once per input.

    `values` are stack values as users write them (without the runner-fleet: prefix); `extra` adds fully
    qualified keys (secrets as `{secure: ...}`). Results are shared between tests: treat them as read-only.
    """
    cache: dict[str, PlanResult] = {}

    def _plan(source: dict[str, Any] | Path, stack: str = "test", extra: dict[str, Any] | None = None) -> PlanResult:
        key = json.dumps([str(source) if isinstance(source, Path) else source, stack, extra], sort_keys=True)
        if key not in cache:
            path = (
                source
                if isinstance(source, Path)
                else write_stack(tmp_path_factory.mktemp("stack"), source, stack, extra)
            )
            cache[key] = engine.run(read_stack_file(path))
        return cache[key]

    return _plan
