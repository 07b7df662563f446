"""Put one host's planned Docker resources onto the private daemon as the provider would, and read them back.

The plan comes from the real program under the mock engine (components/plan/engine.py). Images are stand-ins
(no registry is reachable): one busybox rootfs, imported once, tagged with every image name the plans use. Values
that are other resources' outputs carry mock values in the plan (a RemoteImage's `sha256:<mock>`, a container's
`<resource name>-id`); they are translated to the real image and container ids as resources are created, in
dependency order.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.plan.engine import PlanResult, Resource
from components.plan.engine import _digest as mock_digest
from tests import steps
from tests.engine import provider
from tests.engine.compare import Difference, differences
from tests.engine.daemon import Engine

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
NETWORK = "docker:index/network:Network"
IMAGE = "docker:index/remoteImage:RemoteImage"
BUSYBOX = Path("/bin/busybox")  # Debian's busybox-static: no loader or libraries needed in the rootfs
APPLETS = ("cat", "echo", "grep", "kill", "ls", "mkdir", "sleep", "touch", "id", "head", "tr")

# The manager stand-in (PID 1 of the manager container; the real one is dumb-init + gitlab-runner). It records its
# own /proc status, every SIGHUP (a config reload) and, on SIGQUIT, finishes a running fake job before it exits 0,
# as gitlab-runner drains on SIGQUIT. Traps first, so that a reload right after the start is not lost.
MANAGER = """#!/bin/busybox sh
trap 'echo reload >> /tmp/signals' HUP
trap 'echo quit >> /tmp/signals; sleep 2; echo drained >> /tmp/signals; exit 0' QUIT
cat /proc/1/status > /tmp/status
echo started >> /tmp/signals
touch /tmp/listening
while :; do sleep 1 & wait $!; done
"""
# Every other process starts as /bin/sh: it reports the privileges it runs with on stderr (the container's logs),
# then is busybox's sh, so a short-lived container (the reloader, a job) shows what the engine gave it.
SHELL = """#!/bin/busybox sh
/bin/busybox grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/$$/status >&2
exec /bin/busybox sh "$@"
"""
# `gitlab-runner health-check --port 9252 ...` (the manager's health check) of the stand-in: passes once the manager
# stand-in runs (it marks /tmp/listening where gitlab-runner would open its listener); anything else fails.
RUNNER = """#!/bin/busybox sh
[ "$1" = health-check ] && exec /bin/busybox test -e /tmp/listening
exit 1
"""
DRAIN_SECONDS = 2  # how long the stand-in's fake job runs after SIGQUIT


def _rootfs() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add(name: str, data: bytes, mode: int) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for directory, mode in (("bin", 0o755), ("tmp", 0o1777), ("etc", 0o755), ("proc", 0o755), ("dev", 0o755)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        add("bin/busybox", BUSYBOX.read_bytes(), 0o755)
        add("bin/sh", SHELL.encode(), 0o755)
        add("entrypoint", MANAGER.encode(), 0o755)
        add("bin/gitlab-runner", RUNNER.encode(), 0o755)
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buf.getvalue()


@dataclass
class StandIns:
    """The stand-in images on one daemon: `manager` (entrypoint: the manager stand-in) and `shell` (/bin/sh)."""

    engine: Engine
    ids: dict[str, str] = field(default_factory=dict)

    def build(self) -> None:
        rootfs = _rootfs()
        for kind, entrypoint in (("manager", ["/entrypoint"]), ("shell", ["/bin/sh"])):
            changes = f"ENTRYPOINT {json.dumps(entrypoint)}"
            query = {"fromSrc": "-", "repo": f"runner-fleet-standin/{kind}", "tag": "latest", "changes": changes}
            self.engine.call("POST", "/images/create", rootfs, query, timeout=120)
            self.ids[kind] = self.engine.json("GET", f"/images/runner-fleet-standin/{kind}:latest/json")["Id"]

    def tag(self, reference: str, kind: str) -> str:
        """Tag the stand-in as `reference` (what RemoteImage would have pulled); its image id."""
        repo, _, tag = reference.rpartition(":") if ":" in reference.rsplit("/", 1)[-1] else (reference, "", "latest")
        self.engine.call("POST", f"/images/{self.ids[kind]}/tag", query={"repo": repo, "tag": tag})
        return self.ids[kind]


def docker_hosts(plan: PlanResult) -> dict[str, list[Resource]]:
    """Docker resources per provider (one provider per host: `docker-<host key>`)."""
    hosts: dict[str, list[Resource]] = {}
    for r in plan.resources:
        if r.type.startswith("docker:index/"):
            hosts.setdefault(r.options["provider"], []).append(r)
    return hosts


def _translate(value: Any, real: dict[str, str]) -> Any:
    if isinstance(value, str):
        for mock, actual in real.items():
            value = value.replace(mock, actual)
        return value
    if isinstance(value, dict):
        return {k: _translate(v, real) for k, v in value.items()}
    if isinstance(value, list):
        return [_translate(v, real) for v in value]
    return value


@dataclass
class Created:
    resource: Resource
    declared: dict[str, Any]  # Terraform attributes, mock outputs translated to the real ones
    id: str


@dataclass
class Deployed:
    engine: Engine
    created: list[Created]

    def named(self, resource_name: str) -> Created:
        (found,) = [c for c in self.created if c.resource.name == resource_name]
        return found

    def role(self, role: str) -> Created:
        """The container with the runner-fleet.io/role label `role`."""
        (found,) = [
            c
            for c in self.created
            if c.resource.type == CONTAINER and {"label": "runner-fleet.io/role", "value": role} in c.declared["labels"]
        ]
        return found

    def differences(self) -> list[Difference]:
        """What the next `pulumi up` would change, per resource, after a refresh."""
        found: list[Difference] = []
        for c in self.created:
            stored = READS[c.resource.type](self.engine, c.id, c.declared)
            found += differences(
                c.resource.name, c.resource.type, c.declared, stored, c.resource.options["ignoreChanges"]
            )
        return found


CREATES = {CONTAINER: provider.create_container, VOLUME: provider.create_volume, NETWORK: provider.create_network}
READS = {
    CONTAINER: provider.read_container,
    VOLUME: lambda engine, rid, _: provider.read_volume(engine, rid),
    NETWORK: lambda engine, rid, _: provider.read_network(engine, rid),
}


def deploy(engine: Engine, standins: StandIns, resources: list[Resource], *, wait: bool = True) -> Deployed:
    """Create one host's resources in dependency order, as the provider's Create functions do (`wait=False`: without
    waiting for the manager's health, which changes nothing the engine stores)."""
    real: dict[str, str] = {}
    created: list[Created] = []
    for r in steps.ordered(resources):
        inputs = _translate(r.revealed, real)
        if r.type == IMAGE:
            mock_id = _mock_output(r)
            real[mock_id] = standins.tag(inputs["name"], "manager")
            continue
        if r.type not in CREATES:
            raise provider.NotEmulated(f"{r.type} ({r.name})")
        d = provider.declared(r.name, inputs, provider.SCHEMAS[r.type][0])
        rid = provider.create_container(engine, d, wait=wait) if r.type == CONTAINER else CREATES[r.type](engine, d)
        if r.type == CONTAINER:  # the mock's id of a container (components/plan/engine.py), e.g. in a pidMode
            real[f"{r.name}-id"] = rid
        created.append(Created(r, d, rid))
    return Deployed(engine, created)


def _mock_output(image: Resource) -> str:
    """The imageId the mock engine gave this RemoteImage (the mock's own digest function)."""
    return "sha256:" + mock_digest("image", str(image.inputs.get("name")))
