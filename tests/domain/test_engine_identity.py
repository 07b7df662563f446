"""Engines and clusters by identity: every spelling of one machine is one identity, and every per-engine rule
(published metrics ports, host directories, namespaces) holds across host keys of one machine or cluster.

The oracles are upstream facts, each named beside its case (RFCs, the ssh client, docker/cli `opts/hosts.go`),
the C resolver for numeric addresses, and this machine's own file system for `/var/run`.
"""

from __future__ import annotations

import copy
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.domain.engine_identity import LOCAL, Cluster, docker_engine, machine_groups, machine_of, same_machine
from components.domain.model import REDACTED
from components.spec import SpecError, parse_spec
from tests.fleets import FLEET, K8S_MIXED, ciphertext, write_stack
from tests.harness import plan_command

ONE_MACHINE = [
    ("ssh://ci@edge-1.acme.test", "ssh://ci@EDGE-1.Acme.Test", "DNS names compare case-insensitively (RFC 4343)"),
    ("ssh://ci@edge-1.acme.test", "ssh://ci@edge-1.acme.test.", "a trailing dot is the root label: one name"),
    ("ssh://ci@edge-1.acme.test", "ssh://ci@edge-1.acme.test:22", "ssh connects to port 22 when none is named"),
    ("ssh://ci@edge-1.acme.test", "ssh://ci@edge-1.acme.test/", "an empty path"),
    ("ssh://ci@edge-1.acme.test", "ssh://edge-1.acme.test", "no user: the ssh client's, on the same machine"),
    ("ssh://ci@edge-1.acme.test", "ssh://deploy@edge-1.acme.test:2222", "another user or sshd, one file system"),
    ("ssh://ci@edge-1.acme.test", "tcp://edge-1.acme.test:2376", "one machine over ssh:// and tcp://"),
    ("tcp://edge-1.acme.test:2375", "tcp://edge-1.acme.test:2376", "one machine, plain and TLS listeners"),
    ("ssh://ci@edge-1", "ssh://ci@edge-1.acme.test", "a single label resolves through the search domains"),
    ("ssh://ci@bücher.example", "ssh://ci@xn--bcher-kva.example", "IDNA (RFC 3490): the A-label is the name"),
    ("ssh://ci@b%C3%BCcher.example", "ssh://ci@xn--bcher-kva.example", "a percent-encoded host name"),
    ("ssh://ci@\uff45dge-1.acme.test", "ssh://ci@edge-1.acme.test", "nameprep folds compatibility forms (NFKC)"),
    ("tcp://[2001:db8::1]:2376", "tcp://[2001:DB8:0:0:0:0:0:1]:2376", "IPv6 text forms (RFC 5952)"),
    ("tcp://[::ffff:192.0.2.7]:2376", "tcp://192.0.2.7:2376", "an IPv4-mapped IPv6 address (RFC 4291)"),
    ("tcp://127.1:2375", "unix:///var/run/docker.sock", "inet_aton reads 127.1 as 127.0.0.1: this machine"),
    ("tcp://2130706433:2375", "unix:///var/run/docker.sock", "inet_aton reads one number as the address"),
    ("tcp://localhost:2375", "unix:///run/docker.sock", "localhost is this machine"),
    ("ssh://ci@localhost.", "unix:///run/docker.sock", "localhost with the root label"),
    ("ssh://ci@runner.localhost", "unix:///run/docker.sock", "*.localhost is loopback (RFC 6761)"),
    ("ssh://ci@[::1]", "unix:///var/run/docker.sock", "the IPv6 loopback"),
    ("tcp://127.0.0.2:2375", "unix:///var/run/docker.sock", "all of 127.0.0.0/8 is loopback"),
    ("tcp://0.0.0.0:2375", "unix:///var/run/docker.sock", "connecting to the unspecified address reaches this host"),
    ("unix:///run/user/1000/docker.sock", "unix:///var/run/docker.sock", "rootless and rootful dockerd, one machine"),
]
APART = [
    ("ssh://ci@edge-1.acme.test", "ssh://ci@edge-2.acme.test"),
    ("ssh://ci@edge-1.eu.acme.test", "ssh://ci@edge-1.us.acme.test"),
    ("ssh://ci@edge-1", "ssh://ci@edge-2.acme.test"),
    ("ssh://ci@edge-1", "ssh://ci@edge-10"),
    ("tcp://192.0.2.7:2376", "tcp://192.0.2.8:2376"),
    ("tcp://[2001:db8::1]:2376", "tcp://[2001:db8::2]:2376"),
    # Not knowable offline (README): a name and an address, a remote name and this machine.
    ("ssh://ci@edge-1.acme.test", "tcp://192.0.2.7:2376"),
    ("tcp://edge-1.acme.test:2376", "unix:///var/run/docker.sock"),
]
ENDPOINTS = {
    "ssh://CI@Edge-1.Acme.Test.:22/": "ssh://CI@edge-1.acme.test:22",
    "ssh://edge-1.acme.test": "ssh://edge-1.acme.test:22",
    "ssh://ci@edge-1.acme.test:2222": "ssh://ci@edge-1.acme.test:2222",
    "tcp://Edge-2.Acme.Test:2376": "tcp://edge-2.acme.test:2376",
    "tcp://[2001:DB8::0:1]:2376": "tcp://[2001:db8::1]:2376",
    "unix:///var/run/docker.sock": "unix:///run/docker.sock",
    "unix:///var/run//./docker.sock/": "unix:///run/docker.sock",
    "unix:///run/x/../docker.sock": "unix:///run/docker.sock",
    "unix:////var/run/docker.sock": "unix:///run/docker.sock",
    "unix:///run/user/1000/docker.sock": "unix:///run/user/1000/docker.sock",
}


@pytest.mark.parametrize(("a", "b", "why"), ONE_MACHINE, ids=[c[2] for c in ONE_MACHINE])
def test_spellings_of_one_machine_are_one_identity(a: str, b: str, why: str) -> None:
    assert same_machine(docker_engine(a).machine, docker_engine(b).machine), why


@pytest.mark.parametrize(("a", "b"), APART)
def test_different_machines_stay_apart(a: str, b: str) -> None:
    assert not same_machine(docker_engine(a).machine, docker_engine(b).machine)


@pytest.mark.parametrize(("url", "endpoint"), sorted(ENDPOINTS.items()))
def test_the_engine_is_written_one_way(url: str, endpoint: str) -> None:
    assert docker_engine(url).endpoint == endpoint


@pytest.mark.parametrize(
    "name", ["127.0.0.1", "127.1", "0x7f.1", "0177.0.0.1", "2130706433", "192.0.2.7", "3221225991", "10.1"]
)
def test_numeric_hosts_are_read_as_the_c_resolver_reads_them(name: str) -> None:
    # The ssh client resolves with getaddrinfo: its numeric reading is the oracle.
    (address,) = {str(info[4][0]) for info in socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)}
    assert machine_of(name) == (LOCAL if address.startswith("127.") else address)


def test_var_run_is_run_on_this_distribution() -> None:
    """The fact behind unix:///var/run/docker.sock == unix:///run/docker.sock."""
    if not os.path.exists("/var/run"):
        pytest.skip("no /var/run here")
    assert os.path.realpath("/var/run") == "/run"


def _mixed_case(draw: st.DrawFn, text: str) -> str:
    return "".join(c.upper() if draw(st.booleans()) else c for c in text)


@st.composite
def spellings(draw: st.DrawFn, host: str = "edge-1.acme.test") -> str:
    """Another spelling of ssh://ci@<host>: case, root label, user, default port, scheme, trailing slash."""
    name = _mixed_case(draw, host) + draw(st.sampled_from(["", "."]))
    if draw(st.booleans()):
        return f"tcp://{name}:{draw(st.sampled_from([2375, 2376, 12376]))}" + draw(st.sampled_from(["", "/"]))
    user = draw(st.sampled_from(["", "ci@", "deploy@", "CI@"]))
    port = draw(st.sampled_from(["", ":22", ":2222"]))
    return f"ssh://{user}{name}{port}" + draw(st.sampled_from(["", "/"]))  # a scheme in capitals is refused


def _twin(url: str, **docker: Any) -> dict[str, Any]:
    """FLEET with a second host `twin` on `url`, one runner placed on it."""
    values = copy.deepcopy(FLEET)
    values["hosts"]["twin"] = {"docker": {"host": url, **docker}}
    values["runners"]["twin-tests"] = {"host": "twin", "scope": {"project": 7}, "tags": ["twin"]}
    return values


def _problems(values: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test", secret_keys=secret_keys)
    return list(caught.value.problems)


@settings(max_examples=20, derandomize=True, database=None, deadline=None)
@given(url=spellings())
def test_two_managers_on_one_machine_need_no_port_of_their_own(url: str) -> None:
    """Docker picks each manager's loopback port, so two host keys on one machine plan as they are."""
    parse_spec(_twin(url), stack="test")


@settings(max_examples=25, derandomize=True, database=None, deadline=None)
@given(url=spellings(), protected_twin=st.booleans())
def test_protected_directories_stay_apart_from_unprotected_jobs_across_host_keys(
    url: str, protected_twin: bool
) -> None:
    values = _twin(url)
    cache = [{"hostPath": "/srv/runner-fleet/cache", "mountPath": "/cache"}]
    values["runners"]["unit"].update(hostDirectories=cache, protectedOnly=not protected_twin)
    values["runners"]["twin-tests"].update(hostDirectories=copy.deepcopy(cache), protectedOnly=protected_twin)
    unprotected = "unit" if protected_twin else "twin-tests"
    problems = _problems(values)
    assert any(
        p.startswith(f"runners.{unprotected}.hostDirectories[0].hostPath: /srv/runner-fleet/cache is shared with")
        for p in problems
    ), problems
    values["hosts"]["twin"]["docker"]["host"] = "ssh://ci@edge-9.acme.test"  # another machine: its own directory
    parse_spec(values, stack="test")


@settings(max_examples=25, derandomize=True, database=None, deadline=None)
@given(url=spellings())
def test_nesting_is_judged_across_host_keys_of_one_machine(url: str) -> None:
    values = _twin(url)
    values["runners"]["unit"]["hostDirectories"] = [{"hostPath": "/srv/runner-fleet/cache", "mountPath": "/c"}]
    values["runners"]["twin-tests"]["hostDirectories"] = [{"hostPath": "/srv/runner-fleet/cache/a", "mountPath": "/c"}]
    problems = _problems(values)
    assert any(p.startswith("runners.twin-tests.hostDirectories[0].hostPath: ") for p in problems), problems
    assert any(p.startswith("runners.unit.hostDirectories[0].hostPath: ") for p in problems), problems


def _clusters(eu: dict[str, Any], us: dict[str, Any]) -> dict[str, Any]:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["eu"]["kubernetes"] = eu
    values["hosts"]["us"]["kubernetes"] = us
    return values


def test_the_current_context_may_be_any_context_of_its_kubeconfig() -> None:
    # `kubectl config use-context` moves the current context: no context may be eu-1 on the day of `pulumi up`.
    problems = _problems(_clusters({"context": "eu-1", "namespace": "ci"}, {"namespace": "ci"}))
    assert any(p.startswith("hosts.us.kubernetes.namespace: namespace 'ci' is already declared") for p in problems)
    problems = _problems(_clusters({"namespace": "ci"}, {"namespace": "builds", "jobNamespace": "ci"}))
    assert any(p.startswith("hosts.us.kubernetes.jobNamespace: namespace 'ci'") for p in problems), problems


def test_a_job_namespace_on_a_cluster_that_may_be_the_same_never_scrapes() -> None:
    values = _clusters({"namespace": "runners", "metricsFrom": ["ci-jobs"]}, {"context": "x", "namespace": "ci"})
    problems = _problems(values)
    assert any(p.startswith("hosts.eu.kubernetes.metricsFrom[0]: 'ci-jobs' is host 'us''s job") for p in problems)


def test_two_kubeconfigs_or_two_named_contexts_are_two_clusters() -> None:
    parse_spec(_clusters({"context": "eu-1", "namespace": "ci"}, {"context": "us-1", "namespace": "ci"}), stack="t")
    secrets = ("kubeEu", "kubeUs")
    values = _clusters({"kubeconfig": "kubeEu", "namespace": "ci"}, {"kubeconfig": "kubeUs", "namespace": "ci"})
    parse_spec({**values, **dict.fromkeys(secrets, REDACTED)}, stack="test", secret_keys=secrets)


def test_one_kubeconfig_key_is_one_source() -> None:
    values = _clusters({"kubeconfig": "kube", "namespace": "ci"}, {"kubeconfig": "kube", "namespace": "ci"})
    problems = _problems({**values, "kube": REDACTED}, secret_keys=("kube",))
    assert any(p.startswith("hosts.us.kubernetes.namespace: namespace 'ci' is already declared") for p in problems)
    assert not any("'kube'" in p for p in problems if "already declared" in p), "the config key is not echoed"


@pytest.mark.parametrize(
    ("a", "b", "may_be"),
    [
        (Cluster(None, None), Cluster(None, "eu-1"), True),
        (Cluster(None, "eu-1"), Cluster(None, "eu-1"), True),
        (Cluster(None, "eu-1"), Cluster(None, "us-1"), False),
        (Cluster("k", None), Cluster(None, None), False),
        (Cluster("k", "eu-1"), Cluster("k", None), True),
        (Cluster("k", "eu-1"), Cluster("j", "eu-1"), False),
    ],
)
def test_which_clusters_may_be_one(a: Cluster, b: Cluster, may_be: bool) -> None:
    assert a.may_be(b) is may_be and b.may_be(a) is may_be


def test_the_plan_command_refuses_one_machine_under_two_spellings(tmp_path: Path) -> None:
    """As a user runs it: exit 2, each problem naming its key, nothing written."""
    values = _twin("ssh://Deploy@EDGE-1.acme.test.:22/")
    values["runners"]["unit"]["hostDirectories"] = [{"hostPath": "/srv/runner-fleet/cache", "mountPath": "/c"}]
    values["runners"]["twin-tests"]["hostDirectories"] = [
        {"hostPath": "/srv//runner-fleet/cache/x/", "mountPath": "/c"}
    ]
    result = plan_command("--stack-file", str(write_stack(tmp_path, values)), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    for key in (
        "runners.twin-tests.hostDirectories[0].hostPath",
        "runners.unit.hostDirectories[0].hostPath",
    ):
        assert f"{key}: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out" / "plan.json").exists()


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(
    names=st.lists(
        st.sampled_from(["edge-1", "edge-1.eu.test", "edge-1.us.test", "edge-2.eu.test", "edge-2", "10.0.0.1", LOCAL]),
        min_size=1,
        max_size=6,
    )
)
def test_machine_groups_are_exactly_the_machines_that_may_be_one(names: list[str]) -> None:
    group = machine_groups(names)
    for a in names:
        # Two machines share a group when a chain of `same_machine` joins them (a bare name between two FQDNs).
        linked = {b for b in names if same_machine(a, b)}
        linked |= {c for b in linked for c in names if same_machine(b, c)}
        assert {b for b in names if group[b] == group[a]} == linked


@pytest.mark.parametrize("url", ["SSH://edge-1.acme.test", "Tcp://edge-1.acme.test:2376", "UNIX:///run/docker.sock"])
def test_a_scheme_in_capitals_is_refused(url: str) -> None:
    """`TCP://` would skip every rule that reads the scheme (TLS for tcp://): one spelling, lower case."""
    values = copy.deepcopy(FLEET)
    values["hosts"]["edge-1"]["docker"] = {"host": url}
    with pytest.raises(SpecError) as error:
        parse_spec(values, stack="test")
    assert any(
        line.startswith("hosts.edge-1.docker.host: write the scheme in lower case") for line in error.value.problems
    )


@pytest.mark.parametrize("context", ["eu-1", None])
def test_one_kubeconfig_copied_under_two_keys_is_one_cluster(tmp_path: Path, context: str | None) -> None:
    """Two kubeconfig keys holding the same ciphertext are one kubeconfig: the two hosts may not both own a
    namespace of it (as one key under two hosts may not). Refused naming the key, never the ciphertext."""
    values = copy.deepcopy(K8S_MIXED)
    for host, key in (("eu", "kcEu"), ("us", "kcUs")):
        target = values["hosts"][host]["kubernetes"]
        target.update({"kubeconfig": key, "namespace": "runners", "jobNamespace": "builds"})
        if context is None:
            target.pop("context", None)
        else:
            target["context"] = context
    cipher = ciphertext("sameKubeconfig")
    secrets = {f"runner-fleet:{k}": {"secure": cipher} for k in ("kcEu", "kcUs")}
    done = plan_command(
        "--stack-file", str(write_stack(tmp_path, values, "test", secrets)), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 2, done.stderr
    assert "hosts.us.kubernetes.namespace: namespace 'runners' is already declared by host 'eu'" in done.stderr
    assert cipher not in done.stderr + done.stdout
    secrets["runner-fleet:kcUs"] = {"secure": ciphertext("anotherKubeconfig")}
    apart = plan_command(
        "--stack-file", str(write_stack(tmp_path, values, "test", secrets)), "--out", str(tmp_path / "p")
    )
    assert "hosts.us.kubernetes.namespace" not in apart.stderr, "two kubeconfigs are two clusters"
