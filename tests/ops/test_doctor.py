"""components.ops.doctor: the judging functions over recorded facts of good and bad hosts, and the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.domain.targets import DockerTarget, DockerTls, KubernetesTarget
from components.ops import doctor
from tests.fleets import K8S_MIXED, write_stack

GOOD_DOCKER: dict[str, Any] = {
    "server_version": "27.3.1",
    "security_options": ["name=apparmor", "name=seccomp,profile=builtin", "name=cgroupns"],
    "cgroup_version": "2",
    "user.max_user_namespaces": "63370",
    "kernel.unprivileged_userns_clone": "1",
    "kernel.apparmor_restrict_unprivileged_userns": "0",
    "free_gib": "180",
}
# Ubuntu 24.04 as installed: AppArmor restricts unprivileged user namespaces, rootless BuildKit fails.
UBUNTU_2404 = GOOD_DOCKER | {"kernel.apparmor_restrict_unprivileged_userns": "1"}
OLD_HOST = GOOD_DOCKER | {
    "server_version": "19.03.15",
    "security_options": ["name=apparmor"],
    "cgroup_version": "1",
    "user.max_user_namespaces": "0",
    "free_gib": "4",
}
CLUSTER = KubernetesTarget(namespace="ci", job_namespace="ci-jobs")


def test_a_good_docker_host_is_ready() -> None:
    assert doctor.judge_docker("edge", GOOD_DOCKER) == [doctor.Finding("edge", "ok", "ready for rootless BuildKit")]


def test_ubuntu_2404_s_userns_restriction_blocks_with_the_exact_fix() -> None:
    (finding,) = doctor.judge_docker("edge", UBUNTU_2404)
    assert finding.level == "block" and "apparmor_restrict_unprivileged_userns=1" in finding.what
    assert "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in finding.fix


def test_an_old_host_gets_one_finding_per_problem() -> None:
    found = {f.what.split()[0]: f for f in doctor.judge_docker("old", OLD_HOST)}
    assert {f.level for f in found.values()} == {"block", "warn"}
    assert found["Docker"].fix == "upgrade Docker Engine to 20.10 or newer"
    assert any("user namespaces are disabled" in f.what and "max_user_namespaces" in f.fix for f in found.values())
    assert any("cgroup v1" in f.what for f in found.values()) and any("GiB free" in f.what for f in found.values())


@pytest.mark.parametrize(
    ("facts", "blocked"),
    [
        ({"server_version": "1.31", "job_namespace_labels": {}, "nodes": []}, False),
        ({"server_version": "1.29", "job_namespace_labels": {}, "nodes": []}, True),
        (
            {"server_version": "1.31", "job_namespace_labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
            True,
        ),
    ],
)
def test_clusters_are_judged_by_version_and_job_namespace(facts: dict[str, Any], blocked: bool) -> None:
    found = doctor.judge_kubernetes("k8s", CLUSTER, facts)
    assert any(f.level == "block" for f in found) == blocked
    assert any(f.level == "info" and "sysctl" in f.fix for f in found), "the node command is always printed"


def test_the_fallback_host_accepts_an_older_cluster() -> None:
    fallback = KubernetesTarget(namespace="ci", job_namespace="ci-jobs", apparmor_fallback=True)
    assert not [f for f in doctor.judge_kubernetes("k8s", fallback, {"server_version": "1.28"}) if f.level == "block"]


def test_the_command_judges_recorded_facts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path, K8S_MIXED, "test")
    facts = tmp_path / "facts.json"
    facts.write_text(
        json.dumps({"edge-1": UBUNTU_2404, "eu": {"server_version": "1.31"}, "us": {"server_version": "1.31"}})
    )
    assert doctor.main(["--stack-file", str(stack), "--facts", str(facts)]) == 1
    out = capsys.readouterr().out
    assert "edge-1: block:" in out and "fix: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in out
    assert doctor.main(["--stack-file", str(stack), "--facts", str(facts), "--host", "eu"]) == 0
    assert doctor.main(["--stack-file", str(stack), "--host", "nope"]) == 2


def test_a_buildkit_cluster_needs_a_privileged_job_namespace() -> None:
    facts = {"server_version": "1.31", "job_namespace_labels": {"pod-security.kubernetes.io/enforce": "baseline"}}
    assert not [f for f in doctor.judge_kubernetes("k8s", CLUSTER, facts) if f.level == "block"]
    (blocked,) = [f for f in doctor.judge_kubernetes("k8s", CLUSTER, facts, buildkit=True) if f.level == "block"]
    assert "baseline" in blocked.what and "privileged" in blocked.fix


@pytest.mark.parametrize(
    "odd",
    [
        {"free_gib": "12.5"},
        {"free_gib": "180G"},
        {"security_options": None},
        {"cgroup_version": 2},
        {"kernel.apparmor_restrict_unprivileged_userns": True},
        {"nodes": None, "server_version": None},
        {"nodes": ["not-a-node"]},
    ],
)
def test_odd_facts_are_judged_without_crashing(odd: dict[str, Any]) -> None:
    found = doctor.judge_docker("edge", GOOD_DOCKER | odd) + doctor.judge_kubernetes("k8s", CLUSTER, odd)
    assert all(isinstance(f, doctor.Finding) for f in found)
    if odd.get("kernel.apparmor_restrict_unprivileged_userns") is True:
        assert any(f.level == "block" for f in found), "true is 1"


def test_a_host_whose_kernel_was_not_read_is_not_called_ready() -> None:
    facts = {k: v for k, v in GOOD_DOCKER.items() if "." not in k}  # tcp:// or unix://: no ssh, no sysctls
    (finding,) = doctor.judge_docker("edge", facts)
    assert finding.level == "warn" and "not checked" in finding.what and "sysctl" in finding.fix


def test_recorded_facts_never_lead_to_gathering(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path, K8S_MIXED, "test")
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"edge-1": GOOD_DOCKER}))
    assert doctor.main(["--stack-file", str(stack), "--facts", str(facts)]) == 0
    out = capsys.readouterr().out
    assert out.count("no recorded facts for this host") == 2 and "cannot read the host" not in out
    facts.write_text("[1, 2]")
    assert doctor.main(["--stack-file", str(stack), "--facts", str(facts)]) == 2


def test_doctor_warns_about_docker_variables_pulumi_up_ignores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = write_stack(tmp_path, K8S_MIXED, "test")
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"edge-1": GOOD_DOCKER}))
    for variable in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_KEY_MATERIAL", "KUBECONFIG"):
        monkeypatch.delenv(variable, raising=False)
    assert doctor.main(["--stack-file", str(stack), "--facts", str(facts)]) == 0
    assert " is set: " not in capsys.readouterr().err
    monkeypatch.setenv("DOCKER_HOST", "ssh://someone@elsewhere.test")
    monkeypatch.setenv("DOCKER_CONTEXT", "elsewhere")
    monkeypatch.setenv("DOCKER_KEY_MATERIAL", "-----BEGIN PRIVATE KEY-----")
    assert doctor.main(["--stack-file", str(stack), "--facts", str(facts)]) == 0
    err = capsys.readouterr().err
    for variable in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_KEY_MATERIAL"):
        assert f"warning: {variable} is set: " in err and "ignored" in err, variable
    assert "elsewhere" not in err and "someone" not in err and "PRIVATE KEY" not in err


def test_doctor_reaches_a_docker_engine_as_its_provider_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """ssh:// through ssh with the stack's sshOpts, tcp:// with the stack's TLS directory, and never with the
    DOCKER_* variables the providers ignore (the docker CLI would take TLS settings from them)."""
    seen: list[tuple[list[str], dict[str, str]]] = []

    def run(command: list[str], **kwargs: Any) -> Any:
        seen.append((command, kwargs["env"]))
        return type("Done", (), {"returncode": 0, "stdout": json.dumps({"ServerVersion": "27.3.1"}), "stderr": ""})

    monkeypatch.setattr(doctor.subprocess, "run", run)
    monkeypatch.setattr(doctor.shutil, "which", lambda command, path=None: f"/usr/bin/{command}")
    monkeypatch.setenv("DOCKER_CERT_PATH", "/elsewhere")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_HOST", "tcp://elsewhere.test:2376")
    known = ("-o", "UserKnownHostsFile=/etc/runner-fleet/known_hosts")
    doctor.gather_docker(DockerTarget(url="ssh://ci@edge-1.acme.test", ssh_opts=known))
    assert [c[:3] for c, _ in seen] == [["ssh", *known[:2]]] * 2, "docker info and the kernel, both over ssh"
    assert seen[0][0][-1] == "docker info --format '{{json .}}'" and seen[0][0][-2] == "ssh://ci@edge-1.acme.test"
    seen.clear()
    doctor.gather_docker(DockerTarget(url="tcp://edge-2.acme.test:2376", cert_path="/etc/docker-tls/"))
    ((command, env),) = seen
    assert command[:4] == ["docker", "-H", "tcp://edge-2.acme.test:2376", "--tlsverify"]
    assert "--tlscacert=/etc/docker-tls/ca.pem" in command and "--tlskey=/etc/docker-tls/key.pem" in command
    assert not {"DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_HOST"} & set(env)
    with pytest.raises(RuntimeError, match="secret config keys"):
        doctor.gather_docker(DockerTarget(url="tcp://edge-3.acme.test:2376", tls=DockerTls("ca", "cert", "key")))


# --- the programs doctor runs here, and what it says when they fail -------------------------------------------


def _tools(tmp_path: Path, scripts: dict[str, str]) -> str:
    """A PATH holding only these executables (shell scripts using builtins only), and no ssh, docker or kubectl of
    the machine."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in scripts.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    return str(bin_dir)


def _mixed_with_unix_host(tmp_path: Path) -> Path:
    values = json.loads(json.dumps(K8S_MIXED))
    values["hosts"]["local"] = {"docker": {"host": "unix:///var/run/docker.sock"}}
    return write_stack(tmp_path, values, "test")


def _one_cluster(tmp_path: Path) -> Path:
    values = K8S_MIXED | {"hosts": {"us": K8S_MIXED["hosts"]["us"]}}
    return write_stack(tmp_path, values | {"runners": {"us-tests": K8S_MIXED["runners"]["us-tests"]}}, "test")


def test_a_missing_program_is_named_with_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ssh, docker or kubectl on PATH: each host says which program it needs and how to get it; nothing is run."""
    monkeypatch.setenv("PATH", _tools(tmp_path, {}))
    assert doctor.main(["--stack-file", str(_mixed_with_unix_host(tmp_path))]) == 1
    out = capsys.readouterr().out
    expected = {
        "edge-1": ("the OpenSSH client (`ssh`) is not on PATH", "apt-get install openssh-client"),
        "local": ("the Docker CLI (`docker`) is not on PATH", "https://docs.docker.com/engine/install/"),
        "eu": ("kubectl (`kubectl`) is not on PATH", "https://kubernetes.io/docs/tasks/tools/"),
        "us": ("kubectl (`kubectl`) is not on PATH", "https://kubernetes.io/docs/tasks/tools/"),
    }
    for host, (what, fix) in expected.items():
        block = out.split(f"{host}: block: ", 1)[1].split("\n  fix: ", 1)
        assert block[0].startswith(f"cannot read the host: {what}"), (host, block[0])
        assert fix in block[1].splitlines()[0], (host, block[1])
    assert "No such file" not in out and "Errno" not in out


def test_a_failing_command_s_error_is_shown_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """kubectl's whole stderr (long lines, several of them, the reason on the last) reaches the operator."""
    long_line = "E0101 memcache.go:265] couldn't get current server API group list: " + "x" * 400
    reason = "error: You must be logged in to the server (the server has asked for the client to provide credentials)"
    monkeypatch.setenv(
        "PATH", _tools(tmp_path, {"kubectl": f'printf \'%s\\n\' "{long_line}" "{reason}" >&2\nexit 1\n'})
    )
    assert doctor.main(["--stack-file", str(_one_cluster(tmp_path))]) == 1
    out = capsys.readouterr().out
    assert long_line in out and reason in out
    assert "`kubectl --context us-1 version -o json` exited with 1" in out


def test_what_a_remote_command_prints_cannot_drive_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _tools(tmp_path, {"kubectl": "printf 'denied\\033]0;owned\\007\\n' >&2\nexit 1\n"}))
    assert doctor.main(["--stack-file", str(_one_cluster(tmp_path))]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "denied\\x1b]0;owned\\x07" in out


def test_every_problem_of_a_bad_stack_file_is_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    values = json.loads(json.dumps(K8S_MIXED))
    values["hosts"]["eu"]["concurrent"] = 0
    values["hosts"]["us"]["kubernetes"]["replicas"] = "two"
    assert doctor.main(["--stack-file", str(write_stack(tmp_path, values, "test"))]) == 2
    err = capsys.readouterr().err
    assert "hosts.eu.concurrent" in err and "hosts.us.kubernetes.replicas" in err
