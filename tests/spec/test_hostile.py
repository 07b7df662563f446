"""Hostile and careless stack values: each ends in a SpecError naming its key, never another exception, and no
problem line repeats a secret.

Written as someone trying to crash the plan or to get out of the job container would write them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.spec import SpecError, parse_spec
from tests.fleets import FLEET, K8S_MIXED

Mutation = Callable[[dict[str, Any]], None]
TOKEN = "glpat-Zx9cV8bN7mQ6wE5rT4yU"


def put(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for m in mutations:
            m(data)

    return mutate


def extra(runner: str, text: str) -> Mutation:
    return put(f"runners/{runner}/extraConfig", text)


HOSTILE: list[tuple[str, dict[str, Any], Mutation, str, str]] = [
    # numbers and types
    (
        "huge concurrent",
        FLEET,
        put("hosts/edge-1/concurrent", 10**400),
        "hosts.edge-1.concurrent",
        "a number of 401 digits",
    ),
    (
        "concurrent beyond 32 bits",
        FLEET,
        put("hosts/edge-1/concurrent", 2**31),
        "hosts.edge-1.concurrent",
        "<= 2147483647",
    ),
    (
        "timeout beyond GitLab's column",
        FLEET,
        put("runners/images/maximumTimeout", 2**40),
        "runners.images.maximumTimeout",
        "32-bit",
    ),
    ("float limit", FLEET, put("runners/unit/limit", 1.5), "runners.unit.limit", "whole number"),
    ("nan limit", FLEET, put("runners/unit/limit", float("nan")), "runners.unit.limit", "whole number"),
    ("infinite limit", FLEET, put("runners/unit/limit", float("inf")), "runners.unit.limit", "whole number"),
    (
        "negative project id",
        FLEET,
        put("runners/unit/scope", {"project": -1}),
        "runners.unit.scope.project",
        "numeric project id",
    ),
    ("zero group id", FLEET, put("runners/unit/scope", {"group": 0}), "runners.unit.scope.group", "numeric group id"),
    (
        "id beyond 32 bits",
        FLEET,
        put("runners/unit/scope", {"group": 2**40}),
        "runners.unit.scope.group",
        "numeric group id",
    ),
    (
        "arabic-indic digits",
        FLEET,
        put("runners/unit/scope", {"project": "٤٢"}),
        "runners.unit.scope.project",
        "numeric project id",
    ),
    (
        "superscript digit",
        FLEET,
        put("runners/unit/scope", {"project": "²"}),
        "runners.unit.scope.project",
        "numeric project id",
    ),
    (
        "fullwidth digits",
        FLEET,
        put("runners/unit/scope", {"project": "\uff14\uff12"}),
        "runners.unit.scope.project",
        "numeric project id",
    ),
    (
        "path with empty segment",
        FLEET,
        put("runners/unit/scope", {"group": "acme//x"}),
        "runners.unit.scope.group",
        "full path",
    ),
    (
        "path with spaces",
        FLEET,
        put("runners/unit/scope", {"group": "acme/my group"}),
        "runners.unit.scope.group",
        "full path",
    ),
    ("non-ASCII path", FLEET, put("runners/unit/scope", {"group": "acmé"}), "runners.unit.scope.group", "full path"),
    (
        "variable owner with spaces",
        FLEET,
        put("variables", [{"project": "a b", "key": "K", "value": "v"}]),
        "variables[0].project",
        "full path",
    ),
    (
        "variable owner zero",
        FLEET,
        put("variables", [{"group": 0, "key": "K", "value": "v"}]),
        "variables[0].group",
        "numeric id",
    ),
    ("boolean as a tag", FLEET, put("runners/unit/tags", [True]), "runners.unit.tags[0]", "non-empty string"),
    ("map as a host", FLEET, put("runners/unit/host", {"a": 1}), "runners.unit.host", "non-empty string"),
    ("list as gitlabUrl", FLEET, put("gitlabUrl", ["https://g"]), "gitlabUrl", "non-empty string"),
    ("null host entry", FLEET, put("hosts/edge-1", None), "hosts.edge-1", "expected a map"),
    ("null scope", FLEET, put("runners/unit/scope", None), "runners.unit.scope", "found nothing"),
    ("null buildkit", FLEET, put("runners/images/buildkit", None), "runners.images.buildkit", "true or false"),
    ("string protect", FLEET, put("protect", "yes"), "protect", "true or false"),
    ("unknown tier", FLEET, put("tier", "prod"), "tier", "production, staging"),
    ("list as a host", FLEET, put("hosts", {"h": [[[]]]}), "hosts.h", "expected a map"),
    # URLs
    (
        "gitlabUrl with credentials",
        FLEET,
        put("gitlabUrl", "https://root:hunter2@gitlab.acme.test"),
        "gitlabUrl",
        "looks like a credential",
    ),
    (
        "gitlabUrl with a query",
        FLEET,
        put("gitlabUrl", "https://gitlab.acme.test/?next=evil"),
        "gitlabUrl",
        "no credentials, query",
    ),
    ("gitlabUrl with a fragment", FLEET, put("gitlabUrl", "https://gitlab.acme.test/#x"), "gitlabUrl", "fragment"),
    ("gitlabUrl broken IPv6", FLEET, put("gitlabUrl", "https://[::1"), "gitlabUrl", "not a valid URL"),
    ("gitlabUrl port not a number", FLEET, put("gitlabUrl", "https://g.test:https"), "gitlabUrl", "not a valid URL"),
    ("gitlabUrl port out of range", FLEET, put("gitlabUrl", "https://g.test:99999"), "gitlabUrl", "not a valid URL"),
    ("gitlabUrl javascript", FLEET, put("gitlabUrl", "javascript:alert(1)"), "gitlabUrl", "http(s)://"),
    ("gitlabUrl file", FLEET, put("gitlabUrl", "file:///etc/passwd"), "gitlabUrl", "http(s)://"),
    (
        "plain http in production",
        FLEET,
        both(put("tier", "production"), put("gitlabUrl", "http://gitlab.acme.test")),
        "gitlabUrl",
        "refused for tier production",
    ),
    (
        "docker port not a number",
        FLEET,
        put("hosts/edge-2/docker/host", "tcp://h:notaport"),
        "hosts.edge-2.docker.host",
        "not a valid URL",
    ),
    (
        "docker broken IPv6",
        FLEET,
        put("hosts/edge-2/docker/host", "tcp://[fe80::1:2376"),
        "hosts.edge-2.docker.host",
        "not a valid URL",
    ),
    (
        "docker URL with a query",
        FLEET,
        put("hosts/edge-1/docker/host", "ssh://ci@edge-1?x=1"),
        "hosts.edge-1.docker.host",
        "query",
    ),
    (
        "docker ssh password",
        FLEET,
        put("hosts/edge-1/docker/host", "ssh://ci:hunter2@edge-1"),
        "hosts.edge-1.docker.host",
        "password",
    ),
    ("docker http", FLEET, put("hosts/edge-1/docker/host", "http://edge-1:2375"), "hosts.edge-1.docker.host", "ssh://"),
    (
        "docker npipe",
        FLEET,
        put("hosts/edge-1/docker/host", "npipe:////./pipe/docker_engine"),
        "hosts.edge-1.docker.host",
        "ssh://",
    ),
    # names, tags, images
    ("tag with a comma", FLEET, put("runners/unit/tags", ["a,b"]), "runners.unit.tags", "no commas"),
    ("tags differing in case", FLEET, put("runners/unit/tags", ["Docker", "docker"]), "runners.unit.tags", "case"),
    ("very long tag", FLEET, put("runners/unit/tags", ["t" * 300]), "runners.unit.tags", "at most 255"),
    (
        "image with upper case path",
        FLEET,
        put("runners/unit/image", "Alpine:3"),
        "runners.unit.image",
        "image reference",
    ),
    ("image with a space", FLEET, put("runners/unit/image", "alpine 3"), "runners.unit.image", "image reference"),
    (
        "image tag too long",
        FLEET,
        put("runners/unit/image", "alpine:" + "a" * 129),
        "runners.unit.image",
        "image reference",
    ),
    (
        "runner image not a reference",
        FLEET,
        put("hosts/edge-1/runnerImage", "gitlab/gitlab-runner:@@"),
        "hosts.edge-1.runnerImage",
        "image reference",
    ),
    (
        "host key with a slash",
        FLEET,
        lambda d: d["hosts"].update({"a/b": {"docker": {"host": "ssh://a@b"}}}),
        "hosts.a/b",
        "letters, digits",
    ),
    (
        "host key too long",
        FLEET,
        put("hosts/" + "h" * 41, {"docker": {"host": "ssh://a@b"}}),
        "hosts." + "h" * 41,
        "at most 40",
    ),
    (
        "runner key non-ASCII",
        FLEET,
        put("runners/rünner", {"host": "edge-1", "scope": {"instance": True}, "tags": ["x"]}),
        "runners.rünner",
        "letters, digits",
    ),
    (
        "variable key with a dash",
        FLEET,
        put("variables", [{"project": 1, "key": "A-B", "value": "v"}]),
        "variables[0].key",
        "letters, digits",
    ),
    (
        "variables differing in owner case",
        FLEET,
        put(
            "variables",
            [{"project": "acme/App", "key": "K", "value": "a"}, {"project": "acme/app/", "key": "K", "value": "b"}],
        ),
        "variables[1]",
        "duplicates variables[0]",
    ),
    # kubernetes
    (
        "jobs in the manager's namespace",
        K8S_MIXED,
        put("hosts/eu/kubernetes/jobNamespace", "runners"),
        "hosts.eu.kubernetes.jobNamespace",
        "must differ",
    ),
    (
        "kube-system as job namespace",
        K8S_MIXED,
        put("hosts/eu/kubernetes/jobNamespace", "Kube_System"),
        "hosts.eu.kubernetes.jobNamespace",
        "RFC 1123",
    ),
    (
        "namespace too long",
        K8S_MIXED,
        put("hosts/eu/kubernetes/namespace", "n" * 64),
        "hosts.eu.kubernetes.namespace",
        "RFC 1123",
    ),
    (
        "config larger than a Secret",
        K8S_MIXED,
        extra("eu-tests", 'pre_build_script = "' + "x" * 1_100_000 + '"'),
        "hosts.eu",
        "Secret holds at most",
    ),
    # secrets pasted in the wrong place
    (
        "token as a secret reference",
        FLEET,
        put("variables", [{"project": 1, "key": "K", "secret": TOKEN}]),
        "variables[0].secret",
        "looks like a credential",
    ),
    (
        "token as a kubeconfig reference",
        K8S_MIXED,
        put("hosts/us/kubernetes/kubeconfig", TOKEN),
        "hosts.us.kubernetes.kubeconfig",
        "looks like a credential",
    ),
    (
        "token as a runner key",
        FLEET,
        put(f"runners/{TOKEN}", {"host": "edge-1", "scope": {"instance": True}}),
        "runners.[secret]",
        "",
    ),
    ("token as a host name", FLEET, put("runners/unit/host", TOKEN), "runners.unit.host", "looks like a credential"),
    ("token as a tag", FLEET, put("runners/unit/tags", [TOKEN + ",x"]), "runners.unit.tags", "looks like a credential"),
    (
        "private key as an image",
        FLEET,
        put("runners/unit/image", "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----"),
        "runners.unit.image",
        "",
    ),
    # extraConfig shapes
    (
        "extraConfig deeply nested",
        FLEET,
        extra("unit", "a = " + "[" * 3000 + "]" * 3000),
        "runners.unit.extraConfig",
        "levels deep",
    ),
    (
        "extraConfig huge integer",
        FLEET,
        extra("unit", "output_limit = 99999999999999999999"),
        "runners.unit.extraConfig",
        "64 bits",
    ),
    ("extraConfig not TOML", FLEET, extra("unit", "[docker\n"), "runners.unit.extraConfig", "not valid TOML"),
    ("extraConfig a list", FLEET, put("runners/unit/extraConfig", ["a = 1"]), "runners.unit.extraConfig", "TOML text"),
    (
        "extraConfig owned limit",
        FLEET,
        extra("unit", "limit = 99\n"),
        "runners.unit.extraConfig.limit",
        "set by runner-fleet",
    ),
    (
        "extraConfig owned token",
        FLEET,
        extra("unit", 'token = "glrt-x"\n'),
        "runners.unit.extraConfig.token",
        "set by runner-fleet",
    ),
    (
        "extraConfig url elsewhere",
        FLEET,
        extra("unit", 'url = "https://evil.test"\n'),
        "runners.unit.extraConfig.url",
        "set by runner-fleet",
    ),
    (
        "extraConfig executor shell",
        FLEET,
        extra("unit", 'executor = "shell"\n'),
        "runners.unit.extraConfig.executor",
        "set by runner-fleet",
    ),
    (
        "extraConfig custom executor",
        FLEET,
        extra("unit", '[custom]\nrun_exec = "/bin/sh"\n'),
        "runners.unit.extraConfig.custom",
        "not a key",
    ),
    (
        "extraConfig environment not NAME=value",
        FLEET,
        extra("unit", 'environment = ["justtext"]\n'),
        "runners.unit.extraConfig.environment",
        "NAME=value",
    ),
    (
        "extraConfig docker case variant",
        FLEET,
        extra("unit", "[docker]\nSECURITY_OPT = ['apparmor=unconfined']\n"),
        "runners.unit.extraConfig.docker.SECURITY_OPT",
        "not",
    ),
    (
        "a variable beyond one environment string",
        FLEET,
        put("variables", [{"project": 1, "key": "BIG", "value": "x" * 200_000}]),
        "variables[0].value",
        "MAX_ARG_STRLEN",
    ),
    (
        "metrics scraped from another host's job namespace",
        K8S_MIXED,
        both(put("hosts/us/kubernetes/context", "eu-1"), put("hosts/eu/kubernetes/metricsFrom", ["runners-jobs"])),
        "hosts.eu.kubernetes.metricsFrom[0]",
        "host 'us''s job namespace",
    ),
    (
        "metrics scraped from the job namespace",
        K8S_MIXED,
        put("hosts/eu/kubernetes/metricsFrom", ["monitoring", "builds"]),
        "hosts.eu.kubernetes.metricsFrom[1]",
        "the job namespace never reaches",
    ),
    (
        "metrics scraped from a bad namespace name",
        K8S_MIXED,
        put("hosts/eu/kubernetes/metricsFrom", ["Monitoring!"]),
        "hosts.eu.kubernetes.metricsFrom[0]",
        "RFC 1123",
    ),
    (
        "metrics namespaces as a string",
        K8S_MIXED,
        put("hosts/eu/kubernetes/metricsFrom", "monitoring"),
        "hosts.eu.kubernetes.metricsFrom",
        "expected a list of strings",
    ),
    (
        "metrics namespace twice",
        K8S_MIXED,
        put("hosts/eu/kubernetes/metricsFrom", ["monitoring", "monitoring"]),
        "hosts.eu.kubernetes.metricsFrom",
        "twice",
    ),
    *(
        (
            f"metrics port {value!r} refused",
            FLEET,
            put("hosts/edge-1/docker/metricsPort", value),
            "hosts.edge-1.docker.metricsPort",
            "no longer taken: a manager's successor starts before the old one drains",
        )
        for value in (9252, 80, "9252")
    ),
    (
        "extraConfig docker tmpfs over socket",
        FLEET,
        extra("unit", '[docker.volumes]\nx = "/var/run/docker.sock"\n'),
        "runners.unit.extraConfig.docker.volumes",
        "",
    ),
]


@pytest.mark.parametrize(("case", "base", "mutate", "key", "message"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_values_end_in_a_named_problem(
    case: str, base: dict[str, Any], mutate: Mutation, key: str, message: str
) -> None:
    values = copy.deepcopy(base)
    mutate(values)
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test", secret_keys=("usKubeconfig",))
    problems = caught.value.problems
    matching = [p for p in problems if p.startswith(f"{key}:") or p.startswith(f"{key}.") or p.startswith(f"{key}[")]
    assert matching, f"{case}: nothing names {key}: {problems}"
    assert any(message in p for p in matching), f"{case}: {matching}"
    for problem in problems:
        assert "\n" not in problem and len(problem) <= 400, problem
        assert TOKEN not in problem and "hunter2" not in problem and "MIIEv" not in problem, problem


def test_plain_http_is_a_warning_below_production_and_an_error_in_it() -> None:
    values = copy.deepcopy(FLEET)
    values["gitlabUrl"] = "http://10.0.0.5"
    spec = parse_spec(values, stack="test")
    assert any(w.startswith("gitlabUrl: plain http:// and an IP") for w in spec.warnings)
    values["tier"] = "production"
    with pytest.raises(SpecError, match="refused for tier production"):
        parse_spec(values, stack="test")
