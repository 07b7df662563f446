"""Test fleets: stack values nobody wrote the code for, as users write them (camelCase, before parsing)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

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

# Two clusters: one with every Kubernetes option, one older than 1.30 (AppArmor by annotation).
K8S_FLEET = fleet(
    hosts={
        "cluster": {
            "kubernetes": {
                "context": "prod-eu",
                "namespace": "ci",
                "jobNamespace": "ci-jobs",
                "nodeSelector": {"pool": "builds"},
                "tolerations": {"dedicated=builds": "NoSchedule"},
            },
            "concurrent": 10,
        },
        "legacy": {"kubernetes": {"namespace": "ci-legacy", "appArmorAnnotationFallback": True}},
    },
    runners={
        "images": {"host": "cluster", "scope": {"group": "acme"}, "tags": ["buildkit"], "buildkit": True, "limit": 4},
        "lint": {"host": "cluster", "scope": {"instance": True}, "tags": ["lint"]},
        "old-images": {"host": "legacy", "scope": {"group": 9}, "tags": ["buildkit-old"], "buildkit": True},
    },
)


def write_stack(
    directory: Path, values: dict[str, Any], stack: str = "test", extra: dict[str, Any] | None = None
) -> Path:
    """Write a stack file the way users do: project keys with the runner-fleet: prefix."""
    config = {f"runner-fleet:{k}": v for k, v in values.items()}
    config.update(extra or {})
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path
