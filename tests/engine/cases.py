"""The fleets the lane puts on the real engine: the shipped stacks and test fleets that cover what the Docker path
can declare (several runners per host, BuildKit, a proxy, gitlabCaBundle, registryMirror, ssh://, tcp:// with a
cert path or TLS from secret keys, unix://, token rotation inside its retiring window)."""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from components.domain import rotation
from components.plan import engine
from components.plan.engine import PlanResult
from components.plan.stack_file import read_stack_file
from tests.fleets import COMPANY, COMPANY_SECRETS, ciphertext, fleet, write_stack

STACKS = Path(__file__).resolve().parents[2] / "stacks"


@dataclass(frozen=True)
class Fleet:
    id: str
    source: Path | dict[str, Any]
    extra: tuple[tuple[str, Any], ...] = ()
    now: datetime | None = None

    def docker_hosts(self) -> list[str]:
        if isinstance(self.source, Path):
            hosts = (yaml.safe_load(self.source.read_text())["config"] or {}).get("runner-fleet:hosts", {})
        else:
            hosts = self.source["hosts"]
        return sorted(k for k, h in hosts.items() if "docker" in h)


_PLANS: dict[str, PlanResult] = {}


def plan_of(case: Fleet) -> PlanResult:
    """The program's plan for the fleet (once per session)."""
    if case.id not in _PLANS:
        _PLANS[case.id] = _plan(case)
    return _PLANS[case.id]


def _plan(case: Fleet) -> PlanResult:
    if isinstance(case.source, Path):
        return _run(case.source, case.now)
    with tempfile.TemporaryDirectory(prefix="runner-fleet-engine-stack.") as directory:
        return _run(write_stack(Path(directory), case.source, case.id, dict(case.extra)), case.now)


def _run(path: Path, now: datetime | None) -> PlanResult:
    if now is None:
        return engine.run(read_stack_file(path))
    with rotation.at(now):
        return engine.run(read_stack_file(path))


def _tls_fleet() -> dict[str, Any]:
    values = fleet()
    values["hosts"]["edge-2"]["docker"] = {
        "host": "tcp://edge-2.acme.test:2376",
        "tls": {"ca": "edgeCa", "cert": "edgeCert", "key": "edgeKey"},
    }
    return values


def _rotating() -> dict[str, Any]:
    values = fleet(tokenRotationDays=2, protect=True)
    values["runners"]["release"]["tokenRotationDays"] = 1
    return values


ROTATION_WINDOW = datetime(2027, 1, 2, 5, tzinfo=UTC)  # 5 h after a generation boundary: old and new tokens both live

FLEETS = [
    Fleet("dev", STACKS / "Pulumi.dev.yaml"),
    Fleet("prod", STACKS / "Pulumi.prod.yaml"),
    Fleet("fleet", copy.deepcopy(fleet())),
    Fleet("company", copy.deepcopy(COMPANY), tuple(COMPANY_SECRETS.items())),
    Fleet(
        "tls",
        _tls_fleet(),
        tuple((f"runner-fleet:{k}", {"secure": ciphertext("AAAA")}) for k in ("edgeCa", "edgeCert", "edgeKey")),
    ),
    Fleet("rotation", _rotating(), now=ROTATION_WINDOW),
]
CASES = [(f, host) for f in FLEETS for host in f.docker_hosts()]
