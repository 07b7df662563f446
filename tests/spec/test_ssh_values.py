"""hosts.<h>.docker.sshOpts, the Docker URL and the kubeconfig context: values handed to ssh, docker and kubectl
are allow-listed by value, in every spelling ssh itself accepts.

Oracles: the installed OpenSSH client (`ssh -F /dev/null -G` parses options without connecting: every list we
accept, it accepts too), and OpenSSH's own list of characters a jump host may not hold (readconf.c
ssh_valid_hostname: quotes, '$', '\\', ';', '&', '<', '>', '|', '(', ')', '{', '}', ',', whitespace, controls),
since ssh runs a ProxyJump through `$SHELL -c` (ssh.c builds the ProxyCommand string).
"""

from __future__ import annotations

import copy
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.spec import SpecError, parse_spec
from tests.fleets import FLEET, K8S_MIXED

URL = "ssh://ci@edge-1.acme.test"
ACCEPTED = [
    ["-o", "UserKnownHostsFile=~/.ssh/known_hosts.runner-fleet"],  # the dev stack's
    ["-o", "ConnectTimeout=10"],
    ["-oConnectTimeout=10"],
    ["-o", "connecttimeout 10"],
    ["-o", "Port = 2222"],
    ["-o", "STRICTHOSTKEYCHECKING=accept-new"],
    ["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"],
    ["-p2222"],
    ["-p", "2222"],
    ["-4C"],
    ["-q", "-v"],
    ["-i", "~/.ssh/id_ed25519"],
    ["-i/etc/runner-fleet/keys/edge-1"],
    ["-l", "deploy"],
    ["-J", "bastion.acme.test"],
    ["-Jops@bastion.acme.test:2222"],
    ["-J", "ops@bastion.acme.test:2222,ops@[2001:db8::1]:22,10.0.0.7"],
    ["-o", "ProxyJump=none"],
    ["-o", "ProxyJump ops@bastion.acme.test"],
    ["-o", "Ciphers=+aes128-ctr,chacha20-poly1305@openssh.com"],
    ["-o", "PreferredAuthentications=publickey"],
    ["-o", "HostKeyAlias=edge-1"],
    ["-o", "LogLevel=ERROR"],
]
# Every character OpenSSH's ssh_valid_hostname refuses in a jump host, and a few more that mean something to a
# shell or to ssh's %-token expansion.
SHELL_CHARACTERS = [*"'`\"$\\;&<>|(){},", " ", "\t", "\n", "\x00", "\x1b", "%", "*", "?", "!", "#", "~"]
JUMP_SPELLINGS = [
    lambda v: ["-J", v],
    lambda v: [f"-J{v}"],
    lambda v: ["-o", f"ProxyJump={v}"],
    lambda v: [f"-oProxyJump={v}"],
    lambda v: ["-o", f"proxyjump {v}"],
    lambda v: ["-o", f"PROXYJUMP = {v}"],
    lambda v: ["-4", "-o", f"ProxyJump={v}"],
]
BAD_JUMPS = [
    "ssh://bastion.acme.test",
    "bastion.acme.test:0",
    "bastion.acme.test:65536",
    "bastion.acme.test:22x",
    "-oProxyCommand=id",
    "ops@@bastion",
    "",
    "bastion,",
    "[::1",
    "%h",
    "bastion.acme.test%d",
]
REFUSED_OPTIONS = [
    "ProxyCommand=sh -c id",
    "LocalCommand=id",
    "PermitLocalCommand=yes",
    "KnownHostsCommand=/bin/id",
    "Match exec id",
    "Include /tmp/x",
    "ForwardAgent=yes",
    "RemoteCommand=id",
    "SetEnv=A=b",
    "SendEnv=*",
    "ControlPath=/tmp/%C",
    "StrictHostKeyChecking=no",
    "StrictHostKeyChecking=off",
    "IdentityFile=/tmp/x;id",
    "IdentityFile=%d/.ssh/id",
    "IdentityFile=${HOME}/key",
    "IdentityFile=/a b",
    "IdentityFile=~root/key",
    "UserKnownHostsFile=/dev/null /tmp/other",
    # A known_hosts file that forgets: with accept-new, whoever answers is trusted on every connection.
    "UserKnownHostsFile=/dev/null",
    "UserKnownHostsFile=/dev//null",
    "userknownhostsfile=none",
    "UserKnownHostsFile=NONE",
    "GlobalKnownHostsFile=/dev/null",
    "UserKnownHostsFile=/tmp/../dev/null",
    "UserKnownHostsFile=~/../../dev/null",
    "UserKnownHostsFile=/proc/self/fd/0",
    "Port=0",
    "Port=022",
    "User=$(id)",
    "HostKeyAlias=edge-1;id",
    "ConnectTimeout=10s",
    "Port",
    "=22",
]
REFUSED_ARGUMENTS = [
    ["-F", "/tmp/evil"],
    ["-F/tmp/evil"],
    ["-A"],
    ["-4A"],
    ["-X"],
    ["-W", "host:22"],
    ["--", "other-host"],
    ["other-host"],
    ["-o"],
    ["-p"],
    ["-o", "Port=22", "22"],
    ["-o", "-F/tmp/evil"],
    ["-i", "-F/tmp/evil"],
    ["-l", "root;id"],
]


def _problems(values: dict) -> list[str]:
    try:
        parse_spec(values, stack="test")
    except SpecError as err:
        return list(err.problems)
    return []


def _with_opts(opts: list[str], url: str = URL) -> dict:
    values = copy.deepcopy(FLEET)
    values["hosts"]["edge-1"]["docker"] = {"host": url, "sshOpts": opts}
    return values


@pytest.mark.parametrize("opts", ACCEPTED, ids=" ".join)
def test_ssh_options_as_users_write_them_are_accepted(opts: list[str]) -> None:
    assert _problems(_with_opts(opts)) == []


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")
@pytest.mark.parametrize("opts", ACCEPTED, ids=" ".join)
def test_what_we_accept_the_real_ssh_client_parses(opts: list[str]) -> None:
    """`ssh -G` prints the configuration it would use and exits, without connecting or running any command."""
    done = subprocess.run(
        ["ssh", "-F", "/dev/null", "-G", *opts, URL], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("spelling", range(len(JUMP_SPELLINGS)))
@pytest.mark.parametrize("char", SHELL_CHARACTERS, ids=repr)
@pytest.mark.parametrize("where", ["host", "user", "port", "second hop"])
def test_a_jump_host_with_a_shell_character_is_refused_in_every_spelling(spelling: int, char: str, where: str) -> None:
    if char == "," and where != "second hop":
        pytest.skip("',' separates hops: OpenSSH splits on it before it judges a host")
    jump = {
        "host": f"bast{char}ion.acme.test",
        "user": f"o{char}ps@bastion.acme.test",
        "port": f"bastion.acme.test:2{char}2",
        "second hop": f"bastion.acme.test,inner{char}.acme.test",
    }[where]
    opts = JUMP_SPELLINGS[spelling](jump)
    problems = _problems(_with_opts(opts))
    assert any(p.startswith("hosts.edge-1.docker.sshOpts[") for p in problems), problems


@pytest.mark.parametrize("jump", BAD_JUMPS)
@pytest.mark.parametrize("spelling", range(len(JUMP_SPELLINGS)))
def test_jump_specs_other_than_user_host_port_are_refused(jump: str, spelling: int) -> None:
    problems = _problems(_with_opts(JUMP_SPELLINGS[spelling](jump)))
    assert any(p.startswith("hosts.edge-1.docker.sshOpts[") for p in problems), problems


def _spellings(option: str) -> list[list[str]]:
    name, sep, value = option.partition("=")
    spaced = f"{name} {value}" if sep else option
    return [["-o", option], [f"-o{option}"], ["-o", spaced], ["-o", option.swapcase() if not sep else option]]


@pytest.mark.parametrize("option", REFUSED_OPTIONS)
def test_options_that_run_commands_read_files_or_drop_checks_are_refused(option: str) -> None:
    for opts in _spellings(option):
        problems = _problems(_with_opts(["-4", *opts]))
        assert any(p.startswith("hosts.edge-1.docker.sshOpts[") for p in problems), (opts, problems)


def test_a_refused_option_is_named_by_its_index_and_says_what_is_expected() -> None:
    problems = _problems(_with_opts(["-o", "ConnectTimeout=5", "-o", "ProxyCommand=nc %h %p"]))
    assert len(problems) == 1
    assert problems[0].startswith("hosts.edge-1.docker.sshOpts[3]: ssh option 'proxycommand' is not allowed")
    port = _problems(_with_opts(["-o", "Port=99999"]))
    assert port == ["hosts.edge-1.docker.sshOpts[1]: ssh option 'port' expects a port number from 1 to 65535"]


@pytest.mark.parametrize("opts", REFUSED_ARGUMENTS, ids=" ".join)
def test_arguments_outside_the_allow_list_are_refused(opts: list[str]) -> None:
    problems = _problems(_with_opts(opts))
    assert any(p.startswith("hosts.edge-1.docker.sshOpts") for p in problems), problems


def test_ssh_options_on_a_host_that_is_not_ssh_are_refused() -> None:
    assert _problems(_with_opts(["-o", "ConnectTimeout=5"], "tcp://edge-1.acme.test:2376")) == [
        "hosts.edge-1.docker.sshOpts: applies only to ssh:// Docker hosts"
    ]


@given(st.text(min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_any_jump_spec_we_accept_has_only_the_characters_of_user_host_port(jump: str) -> None:
    """Generated jump specs: whatever passes holds only letters, digits and the separators of [user@]host[:port]."""
    from components.spec.ssh_values import jump_problem

    if jump_problem(jump) is None:
        assert jump.lower() == "none" or set(jump) <= set(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@:,[]"
        ), jump
        assert not any(c in jump for c in SHELL_CHARACTERS if c != ",")


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("ssh://c$(id)@edge-1.acme.test", "the user of a Docker URL"),
        ("ssh://ci;id@edge-1.acme.test", "the user of a Docker URL"),
        ("ssh://ci@edge-1.acme.test%3Bid", "the host of a Docker URL"),
        ("ssh://ci@edge_1$x.acme.test", "the host of a Docker URL"),
        ("ssh://ci@[fe80::1%25eth0]:22", "the host of a Docker URL"),
        ("tcp://edge-1.acme.test`id`:2376", None),  # urlsplit refuses it before us: still a problem
    ],
)
def test_docker_urls_hold_plain_user_and_host_names(url: str, found: str | None) -> None:
    values = copy.deepcopy(FLEET)
    values["hosts"]["edge-1"]["docker"] = {"host": url}
    problems = _problems(values)
    assert any(p.startswith("hosts.edge-1.docker.host: ") and (found is None or found in p) for p in problems), problems


@pytest.mark.parametrize(
    "context", ["-n kube-system", "--kubeconfig=/tmp/x", "ctx; id", "ctx $(id)", "ctx\nx", "", "a b", "ctx`id`"]
)
def test_a_kubeconfig_context_is_a_plain_name(context: str) -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["eu"]["kubernetes"]["context"] = context
    problems = _problems(values)
    assert any(p.startswith("hosts.eu.kubernetes.context: ") for p in problems), problems


@pytest.mark.parametrize(
    "context", ["arn:aws:eks:eu-west-1:123456789012:cluster/ci", "gke_acme_europe-west1_ci", "kind-ci"]
)
def test_cloud_context_names_pass(context: str) -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["eu"]["kubernetes"]["context"] = context
    assert _problems(values) == []


@pytest.mark.parametrize(
    "cert_path", ["/etc/certs;id", "$(id)", "/etc/certs dir", "~root/x", "relative/dir", "/etc/c\tx"]
)
def test_a_cert_path_is_a_plain_absolute_directory(cert_path: str) -> None:
    """certPath reaches the provider and doctor's docker command line: a plain absolute path, never shell text."""
    values = copy.deepcopy(FLEET)
    values["hosts"]["edge-1"]["docker"] = {"host": "tcp://edge-1.acme.test:2376", "certPath": cert_path}
    with pytest.raises(SpecError) as error:
        parse_spec(values, stack="test")
    assert any(line.startswith("hosts.edge-1.docker.certPath: ") for line in error.value.problems)


@pytest.mark.parametrize(
    "url", ["tcp://edge-1.acme.test:2376\n/", "ssh://ci@edge\t-1", "ssh://ci@edge-1\u00a0.acme.test"]
)
def test_a_docker_url_with_whitespace_or_controls_is_refused(url: str) -> None:
    """URL parsers drop tabs and line breaks silently: what the plan checked would not be what the provider gets."""
    values = copy.deepcopy(FLEET)
    values["hosts"]["edge-1"]["docker"] = {"host": url}
    with pytest.raises(SpecError) as error:
        parse_spec(values, stack="test")
    assert any(line.startswith("hosts.edge-1.docker.host: ") for line in error.value.problems), error.value.problems
