"""A runner image upgrade on a real dockerd, step by step in the order `pulumi up` takes them (tests/steps.py, from
reference/provider-semantics.json and the engine's rules): at every step a manager container runs; the successor has
its own name, published port and config volume; the old manager drains (SIGQUIT, exit 0) only at the end.

The two runner images are two stand-in images (the same rootfs imported twice under different labels, so their ids
differ), tagged as the old and the new `runnerImage`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from components.plan.engine import Resource
from tests import steps
from tests.engine import provider
from tests.engine.cases import Fleet, _plan
from tests.engine.daemon import Engine
from tests.engine.deploy import CONTAINER, CREATES, IMAGE, NETWORK, VOLUME, StandIns, _mock_output, _translate
from tests.fleets import fleet

HOST = "edge-1"
NEW_IMAGE = "gitlab/gitlab-runner:alpine-v19.4.0"
TEST_GRACE = 10  # the old manager's destroyGraceSeconds in this test, instead of the host's two hours
SYSTEM_ID = re.compile(r"^[sr]_[0-9a-zA-Z]{12}$")  # gitlab-runner configfile/system_id_state.go


def _upgraded() -> dict[str, Any]:
    values = copy.deepcopy(fleet())
    values["hosts"][HOST]["runnerImage"] = NEW_IMAGE
    return values


def _host(values: dict[str, Any]) -> list[Resource]:
    """The host's Docker resources as planned for stack `upgrade` (both plans: one stack, two moments)."""
    planned = _plan(Fleet("upgrade", values))
    return [r for r in planned.resources if r.options.get("provider") == f"docker-{HOST}" and r.custom]


def _next_image(engine: Engine, standins: StandIns, changes: str = "LABEL runner-fleet.test/image=next") -> str:
    """A second manager stand-in with an id of its own: the first, committed with a label (or `changes`) of its own."""
    cid = engine.json("POST", "/containers/create", {"Image": standins.ids["manager"]})["Id"]
    query = {"container": cid, "repo": "runner-fleet-standin/manager-next", "tag": "latest"}
    image_id: str = engine.json("POST", "/commit", None, query | {"changes": changes})["Id"]
    engine.call("DELETE", f"/containers/{cid}", query={"force": 1})
    return image_id


Upgrade = tuple["Applier", list[steps.Step], list[list[dict[str, Any]]]]
"""The applier after the run, the steps, and the manager containers running after each step."""


class Applier:
    """Runs steps on the daemon as the provider's Create and Delete do; remembers real ids by resource."""

    def __init__(self, engine: Engine, standins: StandIns, next_image: str, wait_timeout: int | None = None) -> None:
        self.engine, self.standins, self.next_image = engine, standins, next_image
        self.wait_timeout = wait_timeout  # instead of the declared waitTimeout (a failing start, in seconds)
        self.real: dict[str, str] = {}  # mock output -> real id (a container's `<name>-id`, an image's digest)
        self.ids: dict[tuple[str, str], str] = {}  # (resource name, declared name) -> real id
        self.declared: dict[str, dict[str, Any]] = {}  # real id -> Terraform attributes
        self.drained: dict[str, dict[str, Any]] = {}  # container name -> its state after the stop

    def create(self, r: Resource) -> None:
        inputs = _translate(r.revealed, self.real)
        if r.type == IMAGE:
            repo, _, tag = inputs["name"].rpartition(":")
            if inputs["name"] == NEW_IMAGE:
                self.engine.call("POST", f"/images/{self.next_image}/tag", query={"repo": repo, "tag": tag})
                self.real[_mock_output(r)] = self.next_image
            else:
                self.real[_mock_output(r)] = self.standins.tag(inputs["name"], "manager")
            return
        d = provider.declared(r.name, inputs, provider.SCHEMAS[r.type][0])
        if self.wait_timeout is not None and d.get("wait"):
            d["wait_timeout"] = self.wait_timeout
        rid = CREATES[r.type](self.engine, d)
        if r.type == CONTAINER:
            self.real[f"{r.name}-id"] = rid  # later resources (the reloader's pidMode) mean this one
        self.ids[(r.name, str(inputs["name"]))] = rid
        self.declared[rid] = d

    def delete(self, r: Resource) -> None:
        """resourceDocker*Delete: a container is stopped with destroy_grace_seconds, then removed with force."""
        if r.type == IMAGE:
            return  # keepLocally: the provider leaves the image
        rid = self.ids.pop((r.name, str(r.revealed["name"])))
        if r.type == CONTAINER:
            if steps.is_manager(r):
                grace = {**self.declared[rid], "destroy_grace_seconds": TEST_GRACE}
                self.drained[str(r.revealed["name"])] = provider.stop_as_delete(self.engine, rid, grace) | {
                    "signals": self.engine.file(rid, "/tmp/signals").split()
                }
            self.engine.call("DELETE", f"/containers/{rid}", query={"force": 1, "v": 1})
        elif r.type == VOLUME:
            self.engine.call("DELETE", f"/volumes/{rid}")
        elif r.type == NETWORK:
            self.engine.call("DELETE", f"/networks/{rid}")

    def running_managers(self) -> list[dict[str, Any]]:
        label = {"label": ["runner-fleet.io/role=manager"]}
        listed = self.engine.json("GET", "/containers/json", query={"filters": json.dumps(label)}) or []
        return [self.engine.inspect(c["Id"]) for c in listed]


@pytest.fixture(scope="module")
def upgrade(engine: Engine, standins: StandIns) -> Iterator[Upgrade]:
    before, after = _host(fleet()), _host(_upgraded())
    applier = Applier(engine, standins, _next_image(engine, standins))
    try:
        for r in steps.ordered(before):
            applier.create(r)
        sequence = steps.steps(before, after)
        seen = []
        for step in sequence:
            getattr(applier, step.op)(step.resource)
            seen.append(applier.running_managers())
        yield applier, sequence, seen
    finally:
        engine.remove_everything()


def test_a_manager_runs_at_every_step_of_the_upgrade(upgrade: Upgrade) -> None:
    _, sequence, seen = upgrade
    report = "\n".join(f"{s} -> {[m['Name'] for m in running]}" for s, running in zip(sequence, seen, strict=True))
    assert all(seen), report
    assert max(len(running) for running in seen) == 2, "the successor runs beside the old manager\n" + report


def test_the_successor_has_its_own_name_port_config_volume_and_system_id(engine: Engine, upgrade: Upgrade) -> None:
    _, _, seen = upgrade
    (old, new) = sorted(next(r for r in seen if len(r) == 2), key=lambda c: c["Created"])
    assert old["Name"] != new["Name"]
    ports = [c["NetworkSettings"]["Ports"]["9252/tcp"][0] for c in (old, new)]
    assert all(p["HostIp"] == "127.0.0.1" for p in ports) and ports[0]["HostPort"] != ports[1]["HostPort"]
    volumes = [{m["Name"] for m in c["Mounts"] if m["Type"] == "volume"} for c in (old, new)]
    assert volumes[0] and volumes[1] and not volumes[0] & volumes[1]
    assert old["Image"] != new["Image"], "the new image"
    (survivor,) = seen[-1]
    assert survivor["Id"] == new["Id"]
    identity = engine.file(new["Id"], "/etc/gitlab-runner/.runner_system_id")
    assert SYSTEM_ID.match(identity) and engine.file_mode(new["Id"], "/etc/gitlab-runner/.runner_system_id") == 0o600


def test_the_old_manager_drains_at_the_end(upgrade: Upgrade) -> None:
    applier, sequence, _ = upgrade
    (stop,) = [s for s in sequence if s.op == "delete" and steps.is_manager(s.resource)]
    assert stop.why == "end of run" and sequence.index(stop) > max(
        i for i, s in enumerate(sequence) if s.op == "create"
    ), "after every create"
    (state,) = applier.drained.values()
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    assert state["signals"][-2:] == ["quit", "drained"], "SIGQUIT: it finished its job, then exited"


def test_what_is_left_is_the_new_generation(engine: Engine, upgrade: Upgrade) -> None:
    applier, _, _ = upgrade
    containers = {c["Names"][0].lstrip("/") for c in engine.json("GET", "/containers/json", query={"all": 1}) or []}
    volumes = {v["Name"] for v in (engine.json("GET", "/volumes") or {}).get("Volumes") or []}
    left = {name for _, name in applier.ids}  # what was created and not deleted
    assert containers | volumes <= left and len(containers) == 3, "the new writer, manager and reloader"
    assert len([v for v in volumes if v.endswith("-config")]) == 1, "the old config volume was deleted, unused"
