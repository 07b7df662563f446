"""The life of a Docker host on a real dockerd, with stand-in processes (tests/engine/deploy.py): the config writer's
upload, the reload, the hardening, the BuildKit job container's relaxation, and the drain on the provider's delete.

The host is COMPANY's `build` (a BuildKit and a plain runner, gitlabCaBundle, registry mirror, proxy). The kernel
here has no AppArmor: `apparmor=unconfined` can only be shown to be accepted, not to take effect; seccomp can.
"""

from __future__ import annotations

import re
import time
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from components.domain import site
from tests.engine import provider
from tests.engine.cases import FLEETS, plan_of
from tests.engine.daemon import Engine
from tests.engine.deploy import DRAIN_SECONDS, Deployed, StandIns, deploy, docker_hosts
from tests.fleets import GITLAB_CA

# linux/capability.h: the bit of each capability in /proc/<pid>/status CapEff.
CAPABILITY_BITS = {
    "CAP_CHOWN": 0,
    "CAP_KILL": 5,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_RAW": 13,
    "CAP_SYS_CHROOT": 18,
    "CAP_MKNOD": 27,
    "CAP_AUDIT_WRITE": 29,
    "CAP_SETFCAP": 31,
}
SECCOMP_FILTER = 2  # /proc/<pid>/status Seccomp: 0 none, 2 a filter (Docker's default profile)
TEST_GRACE = 10  # destroyGraceSeconds for the test's delete, instead of the host's drain of an hour


@pytest.fixture(scope="module")
def host(engine: Engine, standins: StandIns) -> Iterator[Deployed]:
    company = next(f for f in FLEETS if f.id == "company")
    deployed = deploy(engine, standins, docker_hosts(plan_of(company))["docker-build"])
    try:
        yield deployed
    finally:
        engine.remove_everything()


def _status(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+):\s*(\S+)", text, re.MULTILINE))


def _config_toml(host: Deployed) -> dict[str, Any]:
    (upload,) = [u for u in host.role("config-writer").declared["upload"] if u["file"].endswith("config.toml")]
    return tomllib.loads(upload["content"])


def test_the_writer_puts_config_toml_into_the_volume_with_mode_0600(engine: Engine, host: Deployed) -> None:
    writer, manager = host.role("config-writer"), host.role("manager")
    declared = {u["file"]: u for u in writer.declared["upload"]}
    config = declared["/etc/gitlab-runner/config.toml"]
    assert engine.file_mode(writer.id, config["file"]) == 0o600
    assert engine.file(manager.id, config["file"]) == config["content"], "the manager reads what was uploaded"
    # The CA: next to config.toml for the manager, and alone in the volume jobs mount.
    tls_ca_file = {r["tls-ca-file"] for r in _config_toml(host)["runners"]}
    assert len(tls_ca_file) == 1
    assert engine.file(manager.id, tls_ca_file.pop()) == GITLAB_CA
    assert engine.file_mode(writer.id, f"/gitlab-ca/{site.CA_FILE}") == 0o644


def test_the_reloader_delivers_sighup_to_the_manager(engine: Engine, host: Deployed) -> None:
    reloader, manager = host.role("config-reloader"), host.role("manager")
    assert engine.wait(reloader.id) == 0
    deadline = time.monotonic() + 5
    while "reload" not in (signals := engine.file(manager.id, "/tmp/signals")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert signals.split() == ["started", "reload"]
    assert engine.inspect(manager.id)["State"]["Running"], "a reload is not a restart"


def test_the_hardening_takes_effect(engine: Engine, host: Deployed) -> None:
    manager, reloader = host.role("manager"), host.role("config-reloader")
    status = _status(engine.file(manager.id, "/tmp/status"))
    effective = int(status["CapEff"], 16)
    for cap in manager.declared["capabilities"][0]["drop"]:
        bit = CAPABILITY_BITS[cap if cap.startswith("CAP_") else f"CAP_{cap}"]  # the kernel's name has CAP_
        assert not effective & (1 << bit), f"{cap} still effective in the manager"
    assert effective & (1 << CAPABILITY_BITS["CAP_CHOWN"]), "the manager keeps what it was not asked to drop"
    assert status["NoNewPrivs"] == "1" and int(status["Seccomp"]) == SECCOMP_FILTER
    assert engine.inspect(manager.id)["HostConfig"]["Privileged"] is False
    engine.wait(reloader.id)
    reloader_status = _status(engine.logs(reloader.id))
    assert int(reloader_status["CapEff"], 16) == 0 and reloader_status["NoNewPrivs"] == "1"


def _job(engine: Engine, standins: StandIns, docker: dict[str, Any], script: str) -> tuple[int, str]:
    """A job container as gitlab-runner's docker executor creates it from `[runners.docker]` (through the same Go
    client, so capabilities are normalized the same way): image, privileged, security_opt, cap_add/cap_drop and
    the volumes (`source:target[:mode]` binds, a bare path an anonymous volume)."""
    image = standins.tag(docker["image"], "shell")
    volumes = docker.get("volumes", [])
    host_config = {
        "Privileged": docker.get("privileged", False),
        "SecurityOpt": docker.get("security_opt"),
        "CapAdd": provider._normalize_capabilities(docker.get("cap_add")),
        "CapDrop": provider._normalize_capabilities(docker.get("cap_drop")),
        "Binds": [v for v in volumes if ":" in v],
    }
    body = {"Image": image, "Cmd": ["-c", script], "Volumes": {v: {} for v in volumes if ":" not in v}}
    cid = engine.json("POST", "/containers/create", body | {"HostConfig": host_config})["Id"]
    engine.call("POST", f"/containers/{cid}/start")
    return engine.wait(cid), engine.logs(cid)


def test_the_buildkit_job_container_is_accepted_and_only_it_is_relaxed(
    engine: Engine, standins: StandIns, host: Deployed
) -> None:
    runners = {"unconfined" in str(r["docker"].get("security_opt")): r for r in _config_toml(host)["runners"]}
    assert set(runners) == {True, False}, "a BuildKit and a plain runner on the host"
    probe = (
        f"cat /etc/gitlab-runner/certs/{site.CA_FILE}; "
        "if touch /etc/gitlab-runner/certs/probe 2>/dev/null; then echo WRITABLE; else echo READ-ONLY; fi"
    )
    for buildkit, runner in runners.items():
        code, output = _job(engine, standins, runner["docker"], probe)
        assert code == 0, output
        assert int(_status(output)["Seccomp"]) == (0 if buildkit else SECCOMP_FILTER), runner["name"]
        assert GITLAB_CA.strip() in output and "READ-ONLY" in output, "jobs read the CA from a read-only volume"


def test_the_providers_delete_lets_the_manager_drain(engine: Engine, host: Deployed) -> None:
    manager = host.role("manager")
    config = engine.inspect(manager.id)["Config"]
    assert config["StopSignal"] == "SIGQUIT"
    assert config["StopTimeout"] >= manager.declared["destroy_grace_seconds"], "a plain `docker stop` drains too"
    started = time.monotonic()
    state = provider.stop_as_delete(engine, manager.id, {**manager.declared, "destroy_grace_seconds": TEST_GRACE})
    elapsed = time.monotonic() - started
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    assert DRAIN_SECONDS <= elapsed < TEST_GRACE, "the running job finished, and the stop did not wait to kill"
    assert engine.file(manager.id, "/tmp/signals").split()[-2:] == ["quit", "drained"]
