"""Test fleets: stack values nobody wrote the code for, as users write them (camelCase, before parsing)."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
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


_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]+")


def ciphertext(label: str) -> str:
    """A `secure:` value shaped exactly as `pulumi config set --secret` writes it with the passphrase or a KMS
    provider: `v1:<base64 of a 12-byte nonce>:<base64 of the ciphertext with its 16-byte GCM tag>` (pulumi
    sdk/go/common/resource/config/crypt.go, symmetricCrypter.EncryptValue). Deterministic: equal labels give equal
    ciphertexts, as a ciphertext copied under two keys is one value. A label in the base64 alphabet starts the
    ciphertext segment (whole quads, so any text is canonical base64), so a canary such as CANARYcipherKEY stays
    findable wherever the value would be echoed; any other label is encoded into it."""
    digest = hashlib.sha256(label.encode()).digest()
    nonce = base64.b64encode(digest[:12]).decode()
    if _BASE64_TEXT.fullmatch(label):
        size = max(24, -(-len(label) // 4) * 4)  # 24 characters are 18 bytes: more than the 16-byte tag
        sealed = (label + base64.b64encode(digest).decode().rstrip("="))[:size]
    else:
        sealed = base64.b64encode(label.encode() + digest[:16]).decode()
    return f"v1:{nonce}:{sealed}"


FIXTURES = Path(__file__).resolve().parent / "fixtures"
GITLAB_CA = (FIXTURES / "gitlab-ca.pem").read_text()
"""A self-signed CA certificate (the certificate only; its key was thrown away)."""
MIRROR = "registry.corp.test/mirror"

# A fleet inside a company network: private CA, registry mirror, proxies, S3 cache and registry credentials
# from secret config keys, both kinds of hosts, BuildKit on both, and a runner that opts out of the proxy.
COMPANY = fleet(
    gitlabUrl="https://gitlab.corp.test",
    gitlabCaBundle=GITLAB_CA,
    registryMirror=MIRROR,
    cache={
        "type": "s3",
        "shared": True,
        "s3": {
            "serverAddress": "minio.corp.test:9000",
            "bucketName": "ci-cache",
            "accessKey": {"secret": "cacheAccessKey"},
            "secretKey": {"secret": "cacheSecretKey"},
        },
    },
    hosts={
        "build": {
            "docker": {"host": "ssh://ci@build.corp.test"},
            "proxy": {
                "http": "http://proxy.corp.test:3128",
                "https": "http://proxy.corp.test:3128",
                "noProxy": [".corp.test", "10.0.0.0/8"],
            },
        },
        "cluster": {
            "kubernetes": {"context": "corp", "namespace": "ci"},
            "proxy": {"https": "http://proxy.corp.test:3128", "noProxy": [".corp.test"]},
        },
    },
    runners={
        "images": {
            "host": "build",
            "scope": {"group": "platform"},
            "tags": ["buildkit"],
            "buildkit": True,
            "registryAuth": {"secret": "registryAuth"},
        },
        "tests": {
            "host": "build",
            "scope": {"project": 42},
            "tags": ["tests"],
            "registryAuth": {"secret": "registryAuth"},
        },
        "k8s-images": {"host": "cluster", "scope": {"group": "platform"}, "tags": ["k8s-buildkit"], "buildkit": True},
        "internal": {"host": "cluster", "scope": {"group": "platform"}, "tags": ["internal"], "useHostProxy": False},
    },
)
COMPANY_SECRETS = {
    f"runner-fleet:{key}": {"secure": ciphertext(f"CIPHER{key}")}
    for key in ("cacheAccessKey", "cacheSecretKey", "registryAuth")
}
"""The secret config keys COMPANY references, as `pulumi config set --secret` writes them (ciphertexts)."""


SMALL_STACK_FILE = """config:
  runner-fleet:gitlabUrl: https://gitlab.acme.test
  runner-fleet:hosts:
    edge-1:
      docker:
        host: ssh://ci@edge-1.acme.test
  runner-fleet:runners:
    unit:
      host: edge-1
      scope: {group: acme}
      tags: [unit]
      maximumTimeout: 3600
"""
"""The smallest valid stack file as a user writes it: one ssh:// Docker host, one runner (the hostile-file corpora
start from it)."""


# A Docker host whose BuildKit runner scales an AWS Auto Scaling group (docker-autoscaler) beside a fixed runner,
# written as the example: a pinned plugin, an office-hours idle policy in Berlin.
AUTOSCALED = fleet(
    hosts={"build-1": {"docker": {"host": "ssh://ci@build-1.acme.test"}, "concurrent": 24}},
    runners={
        "images": {
            "host": "build-1",
            "scope": {"group": "acme/platform"},
            "tags": ["buildkit"],
            "buildkit": True,
            "autoscaler": {
                "plugin": "aws:1.0.0",
                "capacityPerInstance": 1,
                "maxUseCount": 1,
                "maxInstances": 20,
                "pluginConfig": {"name": "acme-ci-builders", "region": "eu-west-1"},
                "connectorConfig": {"username": "ec2-user", "useExternalAddr": False},
                "policies": [
                    {"periods": ["* 7-19 * * mon-fri"], "timezone": "Europe/Berlin", "idleCount": 3, "idleTime": "20m"}
                ],
            },
        },
        "unit": {"host": "build-1", "scope": {"project": 42}, "tags": ["unit"]},
    },
)
