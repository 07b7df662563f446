"""Shared test helpers: stack files in, plans out, through the package's own mock-engine harness."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import mock_engine
from components.mock_engine import PlanResult
from components.model import FleetSpec
from components.spec import parse_spec

ROOT = Path(__file__).resolve().parents[1]
STACKS = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
GOLDEN = Path(__file__).resolve().parent / "golden"

# A fleet nobody wrote the code for: three Docker hosts, every scope kind, BuildKit and plain runners.
FLEET: dict[str, Any] = {
    "gitlabUrl": "https://gitlab.acme.test",
    "hosts": {
        "edge-1": {"docker": {"host": "ssh://ci@edge-1.acme.test"}, "concurrent": 6},
        "edge-2": {"docker": {"host": "tcp://edge-2.acme.test:2376", "certPath": "/etc/docker-certs/edge-2"}},
        "edge-3": {"docker": {"host": "unix:///var/run/docker.sock"}, "concurrent": 2, "logFormat": "text"},
    },
    "runners": {
        "images": {
            "host": "edge-1",
            "scope": {"group": "acme/platform"},
            "tags": ["buildkit", "images"],
            "buildkit": True,
            "maximumTimeout": 7200,
            "limit": 3,
        },
        "unit": {"host": "edge-1", "scope": {"project": 42}, "tags": ["unit"], "limit": 2},
        "shared": {"host": "edge-2", "scope": {"instance": True}, "runUntagged": True, "tags": ["linux"]},
        "release": {
            "host": "edge-3",
            "scope": {"project": "acme/platform/release"},
            "tags": ["release"],
            "protectedOnly": True,
            "locked": True,
            "paused": True,
            "maximumTimeout": 1200,
        },
        "docs": {"host": "edge-2", "scope": {"group": 7}, "tags": ["docs"], "buildkit": True},
    },
}


def fleet(**overrides: Any) -> dict[str, Any]:
    """A deep copy of FLEET with top-level keys replaced."""
    data = copy.deepcopy(FLEET)
    data.update(overrides)
    return data


# A mixed fleet: one Docker host, two clusters (one with BuildKit, one without).
K8S_MIXED = fleet(
    hosts={
        "edge-1": {"docker": {"host": "ssh://ci@edge-1.acme.test"}},
        "eu": {
            "kubernetes": {"context": "eu-1", "namespace": "runners", "jobNamespace": "builds"},
            "concurrent": 12,
        },
        "us": {"kubernetes": {"context": "us-1", "namespace": "runners"}},
    },
    runners={
        "docker-images": {"host": "edge-1", "scope": {"group": "acme"}, "tags": ["buildkit"], "buildkit": True},
        "eu-images": {
            "host": "eu",
            "scope": {"group": "acme/platform"},
            "tags": ["buildkit", "eu"],
            "buildkit": True,
            "maximumTimeout": 10800,
        },
        "eu-tests": {"host": "eu", "scope": {"project": 77}, "tags": ["eu", "tests"], "maximumTimeout": 1800},
        "us-tests": {"host": "us", "scope": {"instance": True}, "tags": ["us"]},
    },
)


def spec_of(values: dict[str, Any], stack: str = "test", secret_keys: tuple[str, ...] = ()) -> FleetSpec:
    return parse_spec(values, stack=stack, secret_keys=secret_keys)


def write_stack(
    directory: Path, values: dict[str, Any], stack: str = "test", extra: dict[str, Any] | None = None
) -> Path:
    """Write a stack file the way users do: project keys with the runner-fleet: prefix."""
    config = {f"runner-fleet:{k}": v for k, v in values.items()}
    config.update(extra or {})
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


@pytest.fixture
def plan_values(tmp_path: Path) -> Callable[..., PlanResult]:
    """Plan a stack given as config values, through the real program under the mock engine."""

    def _plan(values: dict[str, Any], stack: str = "test", extra: dict[str, Any] | None = None) -> PlanResult:
        path = write_stack(tmp_path, values, stack, extra)
        return mock_engine.run(mock_engine.read_stack_file(path))

    return _plan


def plan_file(path: Path) -> PlanResult:
    return mock_engine.run(mock_engine.read_stack_file(path))


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]
