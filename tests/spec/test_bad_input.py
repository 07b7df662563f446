"""Every bad input is reported by its key path, with what was expected, before anything is declared."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.spec import SpecError, parse_spec
from tests.fleets import FLEET
from tests.harness import setter

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    return setter(path, value, sep="/")


def _drop(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = data
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


BAD_INPUTS: list[tuple[str, Mutation, str, str]] = [
    ("missing gitlabUrl", _drop("gitlabUrl"), "gitlabUrl:", "is required"),
    ("gitlabUrl not a URL", _set("gitlabUrl", "gitlab.acme.test"), "gitlabUrl:", "http(s)://"),
    ("legacy /ci suffix", _set("gitlabUrl", "https://gitlab.acme.test/ci"), "gitlabUrl:", "/ci"),
    ("missing hosts", _drop("hosts"), "hosts:", "is required"),
    ("hosts not a map", _set("hosts", ["edge-1"]), "hosts:", "expected a map"),
    ("typo in a host key", _set("hosts/edge-1/concurent", 4), "hosts.edge-1.concurent:", "did you mean 'concurrent'"),
    ("host without target", _drop("hosts/edge-1/docker"), "hosts.edge-1:", "exactly one of 'docker' or 'kubernetes'"),
    (
        "host with both targets",
        _set("hosts/edge-1/kubernetes", {"namespace": "ci"}),
        "hosts.edge-1:",
        "exactly one of 'docker' or 'kubernetes'",
    ),
    ("http docker URL", _set("hosts/edge-1/docker/host", "http://edge-1:2375"), "hosts.edge-1.docker.host:", "ssh://"),
    ("tcp without port", _set("hosts/edge-1/docker/host", "tcp://edge-1"), "hosts.edge-1.docker.host:", "port"),
    (
        "relative unix socket",
        _set("hosts/edge-1/docker/host", "unix://docker.sock"),
        "hosts.edge-1.docker.host:",
        "absolute",
    ),
    ("missing docker host", _set("hosts/edge-1/docker", {}), "hosts.edge-1.docker.host:", "is required"),
    ("typo in docker", _set("hosts/edge-1/docker/hots", "x"), "hosts.edge-1.docker.hots:", "unknown key"),
    ("concurrent zero", _set("hosts/edge-1/concurrent", 0), "hosts.edge-1.concurrent:", ">= 1"),
    ("concurrent text", _set("hosts/edge-1/concurrent", "four"), "hosts.edge-1.concurrent:", "whole number"),
    ("concurrent boolean", _set("hosts/edge-1/concurrent", True), "hosts.edge-1.concurrent:", "whole number"),
    ("negative check interval", _set("hosts/edge-1/checkInterval", -3), "hosts.edge-1.checkInterval:", ">= 1"),
    ("negative shutdown timeout", _set("hosts/edge-1/shutdownTimeout", -1), "hosts.edge-1.shutdownTimeout:", ">= 1"),
    ("unknown log format", _set("hosts/edge-1/logFormat", "xml"), "hosts.edge-1.logFormat:", "runner, text, json"),
    (
        "host key with a space",
        _set("hosts/edge 4", {"docker": {"host": "ssh://a@b"}}),
        "hosts.edge 4:",
        "letters, digits",
    ),
    (
        "runner key with a slash",
        _set("runners/a|b", {"host": "edge-1", "scope": {"instance": True}}),
        "runners.a|b:",
        "letters, digits",
    ),
    ("missing runners", _drop("runners"), "runners:", "is required"),
    ("runners empty", _set("runners", {}), "runners:", "at least one"),
    (
        "runner on unknown host",
        _set("runners/images/host", "edge-9"),
        "runners.images.host:",
        "unknown host 'edge-9' (known: edge-1, edge-2, edge-3)",
    ),
    ("runner without host", _drop("runners/images/host"), "runners.images.host:", "is required"),
    ("runner without scope", _drop("runners/images/scope"), "runners.images.scope:", "is required"),
    ("two scopes", _set("runners/images/scope", {"group": 1, "project": 2}), "runners.images.scope:", "exactly one of"),
    (
        "unknown scope",
        _set("runners/images/scope", {"namespace": "acme"}),
        "runners.images.scope.namespace:",
        "unknown scope",
    ),
    (
        "instance false",
        _set("runners/images/scope", {"instance": False}),
        "runners.images.scope.instance:",
        "expected true",
    ),
    (
        "empty group path",
        _set("runners/images/scope", {"group": ""}),
        "runners.images.scope.group:",
        "numeric group id",
    ),
    (
        "negative project id",
        _set("runners/images/scope", {"project": -4}),
        "runners.images.scope.project:",
        "numeric project id",
    ),
    ("tags not a list", _set("runners/images/tags", "buildkit,images"), "runners.images.tags:", "list of strings"),
    ("tag not a string", _set("runners/images/tags", ["ok", 5]), "runners.images.tags[1]:", "non-empty string"),
    (
        "no tags, no untagged",
        lambda d: d["runners"]["unit"].update(tags=[], runUntagged=False),
        "runners.unit.tags:",
        "runUntagged",
    ),
    ("negative limit", _set("runners/images/limit", -1), "runners.images.limit:", ">= 0"),
    ("negative timeout", _set("runners/images/maximumTimeout", -60), "runners.images.maximumTimeout:", ">= 600"),
    (
        "timeout under GitLab's minimum",
        _set("runners/images/maximumTimeout", 300),
        "runners.images.maximumTimeout:",
        ">= 600",
    ),
    ("buildkit as text", _set("runners/images/buildkit", "yes"), "runners.images.buildkit:", "true or false"),
    (
        "typo in a runner key",
        _set("runners/images/buildKit", True),
        "runners.images.buildKit:",
        "did you mean 'buildkit'",
    ),
    (
        "unknown pull policy",
        _set("runners/images/pullPolicy", "sometimes"),
        "runners.images.pullPolicy:",
        "if-not-present",
    ),
    (
        "image outside the allow list",
        _set("runners/images/image", "docker:dind"),
        "runners.images.image:",
        "not allowed",
    ),
    (
        "empty allow list for buildkit",
        _set("runners/images/allowedImages", []),
        "runners.images.allowedImages:",
        "must restrict",
    ),
    (
        "extraConfig not TOML",
        _set("runners/unit/extraConfig", "limit = = 3"),
        "runners.unit.extraConfig:",
        "not valid TOML",
    ),
    ("extraConfig not text", _set("runners/unit/extraConfig", {"limit": 3}), "runners.unit.extraConfig:", "TOML text"),
    (
        "extraConfig relaxes a plain runner",
        _set("runners/unit/extraConfig", "[docker]\nprivileged = true\n"),
        "runners.unit.extraConfig.docker.privileged:",
        "relaxes isolation",
    ),
    (
        "extraConfig adds security_opt",
        _set("runners/unit/extraConfig", '[docker]\nsecurity_opt = ["seccomp=unconfined"]\n'),
        "runners.unit.extraConfig.docker.security_opt:",
        "relaxes isolation",
    ),
    (
        "extraConfig overrides an owned key",
        _set("runners/unit/extraConfig", "limit = 9\n"),
        "runners.unit.extraConfig.limit:",
        "set by runner-fleet",
    ),
    (
        "extraConfig unknown to gitlab-runner",
        _set("runners/unit/extraConfig", '[docker]\nimagee = "x"\n'),
        "runners.unit.extraConfig.docker.imagee:",
        "not a key extraConfig may set",
    ),
    (
        "extraConfig wrong type",
        _set("runners/unit/extraConfig", 'output_limit = "big"\n'),
        "runners.unit.extraConfig.output_limit:",
        "config schema",
    ),
    (
        "extraConfig mounts docker.sock",
        _set(
            "runners/unit/extraConfig", '[docker]\nvolumes = ["/cache", "/var/run/docker.sock:/var/run/docker.sock"]\n'
        ),
        "runners.unit.extraConfig.docker.volumes:",
        "a host path",
    ),
    (
        "extraConfig host network",
        _set("runners/unit/extraConfig", '[docker]\nnetwork_mode = "host"\n'),
        "runners.unit.extraConfig.docker.network_mode:",
        "relaxes isolation",
    ),
    (
        "extraConfig overrides BUILDKITD_FLAGS",
        _set("runners/images/extraConfig", 'environment = ["BUILDKITD_FLAGS="]\n'),
        "runners.images.extraConfig.environment:",
        "BUILDKITD_FLAGS",
    ),
    ("typo at the top level", _set("runner", {}), "runner:", "did you mean 'runners'"),
    ("protect as text", _set("protect", "yes"), "protect:", "true or false"),
    (
        "tls on an ssh host",
        _set("hosts/edge-1/docker/tls", {"ca": "a", "cert": "b", "key": "c"}),
        "hosts.edge-1.docker.tls",
        "only to tcp://",
    ),
    (
        "tls key not set",
        _set("hosts/edge-2/docker", {"host": "tcp://e:2376", "tls": {"ca": "ca", "cert": "c", "key": "k"}}),
        "hosts.edge-2.docker.tls.ca:",
        "not set",
    ),
    ("variables not a list", _set("variables", {"KEY": "v"}), "variables:", "list of variables"),
    (
        "variable without owner",
        _set("variables", [{"key": "K", "value": "v"}]),
        "variables[0]:",
        "'project' or 'group'",
    ),
    (
        "variable bad key",
        _set("variables", [{"project": 1, "key": "MY-KEY", "value": "v"}]),
        "variables[0].key:",
        "letters, digits",
    ),
    (
        "value and secret",
        _set("variables", [{"project": 1, "key": "K", "value": "v", "secret": "s"}]),
        "variables[0]:",
        "exactly one of 'value'",
    ),
    (
        "unmaskable value",
        _set("variables", [{"project": 1, "key": "K", "value": "short", "masked": True}]),
        "variables[0].value:",
        "refuses to mask",
    ),
    (
        "secret key missing",
        _set("variables", [{"group": "g", "key": "K", "secret": "deployToken"}]),
        "variables[0].secret:",
        "not set",
    ),
    (
        "duplicate variable identity",
        _set("variables", [{"group": "g", "key": "K", "value": "a"}, {"group": "g", "key": "K", "value": "b"}]),
        "variables[1]:",
        "duplicates variables[0]",
    ),
    (
        "number as a value",
        _set("variables", [{"project": 1, "key": "K", "value": 5}]),
        "variables[0].value:",
        "quote numbers",
    ),
    (
        "k8s without namespace",
        _set("hosts/edge-3", {"kubernetes": {"context": "c"}}),
        "hosts.edge-3.kubernetes.namespace:",
        "is required",
    ),
    (
        "k8s bad namespace",
        _set("hosts/edge-3", {"kubernetes": {"namespace": "CI_Runners"}}),
        "hosts.edge-3.kubernetes.namespace:",
        "RFC 1123",
    ),
    (
        "k8s bad toleration effect",
        _set("hosts/edge-3", {"kubernetes": {"namespace": "ci", "tolerations": {"a=b": "Never"}}}),
        "hosts.edge-3.kubernetes.tolerations.a=b:",
        "NoSchedule",
    ),
]


@pytest.mark.parametrize(("case", "mutate", "key", "message"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_names_the_key(case: str, mutate: Mutation, key: str, message: str) -> None:
    values = copy.deepcopy(FLEET)
    mutate(values)
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test", source="stacks/Pulumi.test.yaml")
    matching = [p for p in caught.value.problems if p.startswith(key)]
    assert matching, f"{case}: no problem names {key!r}: {caught.value.problems}"
    assert any(message in p for p in matching), f"{case}: {matching}"
    assert "stacks/Pulumi.test.yaml" in str(caught.value)


# A plain `variables[i].value` is committed to the stack file: a secret belongs in a secure config key (`secret:`),
# masked or not (GitLab masks the job log; the stack file and plan.json still hold the value).
PLAIN_SECRETS = [
    ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", {"masked": False}),
    ("API_TOKEN", "abc123def", {}),
    ("DB_PW", "hunter2", {}),
    ("DSN", "app:hunter2@tcp(db:3306)/app", {}),
    ("CONN", "Server=db;User Id=sa;Password=hunter2;", {}),
    ("SETTING", "Zx9cV8bN7mQ6wE5rT4yUaB3dF2gH1jK0", {}),
    ("UPSTREAM", "https://u:1234hunter2@h/", {"masked": True}),
    ("DB_PASSWORD", "hunter2hunter2", {"masked": True, "protected": True}),
    ("HELPER", "curl -u admin:hunter2 https://x", {}),
]


@pytest.mark.parametrize(("key", "value", "flags"), PLAIN_SECRETS, ids=[k for k, _, _ in PLAIN_SECRETS])
def test_a_plain_variable_value_that_is_a_secret_points_to_secret(key: str, value: str, flags: dict[str, Any]) -> None:
    values = copy.deepcopy(FLEET)
    values["variables"] = [{"group": "acme", "key": key, "value": value, **flags}]
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    lines = [*caught.value.problems, str(caught.value)]
    assert any(p.startswith("variables[0].value: ") and "secret: <configKey>" in p for p in caught.value.problems)
    assert all(value not in line and "hunter2" not in line and "wJalrXUtnFEMI" not in line for line in lines)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PASSWORD_MIN_LENGTH", "12"),
        ("CACHE_KEY", "v2"),
        ("DOCKER_BUILDKIT", "1"),
        ("DEPLOY_ENVIRONMENT", "staging"),
        ("SIGNING_PASSPHRASE_FILE", "/run/secrets/gpg"),
        ("APP_URL", "https://app.acme.test/health"),
        ("IMAGE", "registry.acme.test/app:1.2@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ],
)
def test_plain_variable_values_that_are_settings_are_accepted(key: str, value: str) -> None:
    values = copy.deepcopy(FLEET)
    values["variables"] = [{"group": "acme", "key": key, "value": value}]
    parse_spec(values, stack="test")
