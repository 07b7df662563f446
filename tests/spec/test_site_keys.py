"""gitlabCaBundle, registryMirror, hosts.<h>.proxy, runners.<r>.registryAuth/useHostProxy: what careless and
hostile users write, and the one precise problem each gets (never repeating a secret)."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.domain import site
from components.spec import SpecError, parse_spec
from tests.fleets import COMPANY, GITLAB_CA, MIRROR
from tests.harness import setter

SECRETS = ("cacheAccessKey", "cacheSecretKey", "registryAuth")
PRIVATE_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"
)
Edit = Callable[[dict[str, Any]], None]
# A private key's shape in DER (SEQUENCE { INTEGER 0, SEQUENCE { OID Ed25519 }, OCTET STRING }), no real key.
KEY_BODY = base64.b64encode(bytes.fromhex("300e020100300506032b657004020400")).decode()


def _values(edit: Edit | None = None) -> dict[str, Any]:
    values = copy.deepcopy(COMPANY)
    values.update(dict.fromkeys(SECRETS, "[secret]"))
    values["gitlabCa"] = "[secret]"  # referenced by the cases that use it; unknown (and said so) otherwise
    if edit is not None:
        edit(values)
    return values


def _problems(edit: Edit, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(_values(edit), stack="test", secret_keys=secrets)
    return list(caught.value.problems)


_set = setter


PROXY = "hosts.build.proxy"
CASES: list[tuple[str, Edit, str, str]] = [
    ("CA: a private key pasted", _set("gitlabCaBundle", GITLAB_CA + PRIVATE_KEY), "gitlabCaBundle", "private key"),
    ("CA: only a private key", _set("gitlabCaBundle", PRIVATE_KEY), "gitlabCaBundle", "certificates only"),
    (
        "CA: a file path",
        _set("gitlabCaBundle", "/etc/ssl/certs/corp-ca.pem"),
        "gitlabCaBundle",
        "file path is not read",
    ),
    (
        "CA: text after the certificate",
        _set("gitlabCaBundle", GITLAB_CA + "trailing\n"),
        "gitlabCaBundle",
        "nothing else",
    ),
    (
        "CA: broken base64",
        _set("gitlabCaBundle", "-----BEGIN CERTIFICATE-----\nMII$$$\n-----END CERTIFICATE-----\n"),
        "gitlabCaBundle",
        "each on a line of its own",
    ),
    (
        "CA: base64 that is no certificate",
        _set("gitlabCaBundle", "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n"),
        "gitlabCaBundle",
        "not an X.509 v3 certificate",
    ),
    (
        "CA: a private key relabelled CERTIFICATE",
        _set("gitlabCaBundle", f"-----BEGIN CERTIFICATE-----\n{KEY_BODY}\n-----END CERTIFICATE-----\n"),
        "gitlabCaBundle",
        "not an X.509 v3 certificate",
    ),
    (
        "CA: MA==",
        _set("gitlabCaBundle", "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----"),
        "gitlabCaBundle",
        "X.509",
    ),
    (
        "CA: two certificates run together",
        _set("gitlabCaBundle", GITLAB_CA.strip() + GITLAB_CA),
        "gitlabCaBundle",
        "each on a line of its own",
    ),
    (
        "CA: END glued to the base64",
        _set("gitlabCaBundle", GITLAB_CA.replace("\n-----END", "-----END")),
        "gitlabCaBundle",
        "each on a line of its own",
    ),
    (
        "CA: a CRL",
        _set("gitlabCaBundle", "-----BEGIN X509 CRL-----\nMA==\n-----END X509 CRL-----\n"),
        "gitlabCaBundle",
        "holds a X509 CRL block",
    ),
    (
        "CA: the key of a credential",
        _set("gitlabCaBundle", {"secret": "registryAuth"}),
        "gitlabCaBundle",
        "needs a key of its own",
    ),
    ("secret ref: empty", _set("gitlabCaBundle", {"secret": ""}), "gitlabCaBundle.secret", "expected the name"),
    ("secret ref: a number", _set("gitlabCaBundle", {"secret": 5}), "gitlabCaBundle.secret", "expected the name"),
    ("secret ref: more keys", _set("gitlabCaBundle", {"secret": "gitlabCa", "x": 1}), "gitlabCaBundle", "'x'"),
    (
        "secret ref: with the namespace",
        _set("gitlabCaBundle", {"secret": "runner-fleet:gitlabCa"}),
        "gitlabCaBundle.secret",
        "without the 'runner-fleet:' prefix ('gitlabCa')",
    ),
    (
        "secret ref: a config.json as the name",
        _set("runners.tests.registryAuth", {"secret": '{"auths":{"r.corp.test":{"auth":"Ym9iOmh1bnRlcjI="}}}'}),
        "runners.tests.registryAuth.secret",
        "not a value",
    ),
    (
        "secret ref: a password as the name",
        _set("runners.tests.registryAuth", {"secret": "bob:hunter2"}),
        "runners.tests.registryAuth.secret",
        "not a value",
    ),
    ("mirror: port out of range", _set("registryMirror", "registry.corp.test:99999"), "registryMirror", "1-65535"),
    ("mirror: port 0", _set("registryMirror", "registry.corp.test:0/x"), "registryMirror", "not a TCP port"),
    (
        "proxy: a password with a slash",
        _set(f"{PROXY}.https", "http://svc:hunter2/x@proxy.corp.test:3128"),
        f"{PROXY}.https",
        "credential",  # the generic URL-password check (credential_shapes) may answer first
    ),
    (
        "proxy: percent-encoded credentials",
        _set(f"{PROXY}.https", "http://svc%3Ahunter2%40proxy.corp.test:3128"),
        f"{PROXY}.https",
        "percent-encoding",
    ),
    (
        "proxy: $(...) in the host",
        _set(f"{PROXY}.https", "http://proxy$(HOME).test:3128"),
        f"{PROXY}.https",
        "host name",
    ),
    (
        "proxy: a look-alike host",
        _set(f"{PROXY}.https", "http://pr\u043exy.corp.test:3128"),
        f"{PROXY}.https",
        "host name",
    ),
    ("proxy: a leading dash", _set(f"{PROXY}.https", "http://-proxy:3128"), f"{PROXY}.https", "host name"),
    ("proxy: an empty label", _set(f"{PROXY}.https", "http://a..b:3128"), f"{PROXY}.https", "host name"),
    ("proxy: a huge host", _set(f"{PROXY}.https", "http://" + "a." * 200 + "test:3128"), f"{PROXY}.https", "host name"),
    ("noProxy: an IPv6 zone", _set(f"{PROXY}.noProxy", ["fe80::1%x,*"]), f"{PROXY}.noProxy[0]", "no commas"),
    ("noProxy: every IPv4 address", _set(f"{PROXY}.noProxy", ["0.0.0.0/0"]), f"{PROXY}.noProxy[0]", "every address"),
    ("noProxy: every IPv6 address", _set(f"{PROXY}.noProxy", ["::/0"]), f"{PROXY}.noProxy[0]", "every address"),
    ("noProxy: an open bracket", _set(f"{PROXY}.noProxy", ["[::1"]), f"{PROXY}.noProxy[0]", "expected a host"),
    ("noProxy: $(...)", _set(f"{PROXY}.noProxy", ["$(HOME)"]), f"{PROXY}.noProxy[0]", "expected a host"),
    (
        "extraConfig: a volume over the CA (trailing slash)",
        _set("runners.tests.extraConfig", '[docker]\nvolumes = ["/etc/gitlab-runner/certs/"]'),
        "runners.tests.extraConfig.docker.volumes",
        "GitLab CA",
    ),
    (
        "extraConfig: a volume over the CA file",
        _set("runners.tests.extraConfig", '[docker]\nvolumes = ["/etc//gitlab-runner/./certs/ca.crt"]'),
        "runners.tests.extraConfig.docker.volumes",
        "GitLab CA",
    ),
    (
        "extraConfig: a tmpfs over the CA",
        _set("runners.tests.extraConfig", '[docker]\ntmpfs = {"/etc/gitlab-runner/certs" = "rw"}'),
        "runners.tests.extraConfig.docker.tmpfs",
        "GitLab CA",
    ),
    (
        "extraConfig: an emptyDir over the CA",
        _set(
            "runners.internal.extraConfig",
            '[[kubernetes.volumes.empty_dir]]\nname = "x"\nmount_path = "/etc/gitlab-runner/certs"',
        ),
        "runners.internal.extraConfig.kubernetes.volumes.empty_dir",
        "GitLab CA",
    ),
    (
        "extraConfig: TLS verification off",
        _set("runners.tests.extraConfig", 'environment = ["GIT_SSL_NO_VERIFY=1"]'),
        "runners.tests.extraConfig.environment",
        "TLS verification stays on",
    ),
    (
        "extraConfig: another CA variable",
        _set("runners.tests.extraConfig", 'environment = ["REQUESTS_CA_BUNDLE=/x.pem"]'),
        "runners.tests.extraConfig.environment",
        "gitlabCaBundle",
    ),
    (
        "extraConfig: an FTP proxy",
        _set("runners.tests.extraConfig", 'environment = ["FTP_PROXY=http://p.test:1"]'),
        "runners.tests.extraConfig.environment",
        "hosts.<h>.proxy",
    ),
    ("CA: huge", _set("gitlabCaBundle", GITLAB_CA * 2000), "gitlabCaBundle", "at most 262144 characters"),
    ("CA: a number", _set("gitlabCaBundle", 42), "gitlabCaBundle", "expected PEM certificates"),
    ("CA: a list", _set("gitlabCaBundle", [GITLAB_CA]), "gitlabCaBundle", "expected PEM certificates"),
    (
        "CA: a reference with more keys",
        _set("gitlabCaBundle", {"secret": "gitlabCa", "x": 1}),
        "gitlabCaBundle",
        "expected {secret",
    ),
    ("CA: unset secret", _set("gitlabCaBundle", {"secret": "nope"}), "gitlabCaBundle", "'nope' is not set"),
    ("mirror: a scheme", _set("registryMirror", "https://registry.corp.test"), "registryMirror", "without a scheme"),
    ("mirror: trailing slash", _set("registryMirror", "registry.corp.test/"), "registryMirror", "no trailing"),
    ("mirror: no registry host", _set("registryMirror", "mirror"), "registryMirror", "a '.' or a port"),
    ("mirror: Docker Hub user", _set("registryMirror", "someone/mirror"), "registryMirror", "a '.' or a port"),
    ("mirror: upper-case path", _set("registryMirror", "registry.corp.test/Mirror"), "registryMirror", "lower-case"),
    ("mirror: a tag", _set("registryMirror", "registry.corp.test/mirror:1"), "registryMirror", "no tag"),
    ("mirror: spaces", _set("registryMirror", "registry.corp.test /x"), "registryMirror", "expected a registry"),
    ("mirror: too long", _set("registryMirror", "r.corp.test/" + "a" * 250), "registryMirror", "at most"),
    ("mirror: a password", _set("registryMirror", "user:pw@registry.corp.test"), "registryMirror", ""),
    (
        "mirror: runnerImage without a release",
        _set("hosts.build.runnerImage", f"{MIRROR}/gitlab/gitlab-runner:latest"),
        "hosts.build.runnerImage",
        "the helper image of that release from registryMirror",
    ),
    (
        "mirror: BuildKit allow-list still on Docker Hub",
        _set("runners.images.allowedImages", ["moby/buildkit:*rootless"]),
        "runners.images.allowedImages[0]",
        f"{MIRROR}/ (the registryMirror)",
    ),
    (
        "mirror: BuildKit from a look-alike registry",
        _set("runners.images.allowedImages", [f"{MIRROR}x/moby/buildkit:*rootless"]),
        "runners.images.allowedImages[0]",
        "not moby's rootless BuildKit image",
    ),
    ("proxy: credentials", _set(f"{PROXY}.http", "http://user:pw@proxy.corp.test:3128"), f"{PROXY}.http", ""),
    (
        "proxy: a user name",
        _set(f"{PROXY}.http", "http://user@proxy.corp.test:3128"),
        f"{PROXY}.http",
        "with credentials",
    ),
    ("proxy: ftp", _set(f"{PROXY}.https", "ftp://proxy.corp.test"), f"{PROXY}.https", "expected http://host"),
    ("proxy: no scheme", _set(f"{PROXY}.https", "proxy.corp.test:3128"), f"{PROXY}.https", "expected http://host"),
    ("proxy: a path", _set(f"{PROXY}.https", "http://proxy.corp.test:3128/x"), f"{PROXY}.https", "no path"),
    ("proxy: port 0", _set(f"{PROXY}.https", "http://proxy.corp.test:0"), f"{PROXY}.https", "port 1-65535"),
    (
        "proxy: port too big",
        _set(f"{PROXY}.https", "http://proxy.corp.test:70000"),
        f"{PROXY}.https",
        "not a valid URL",
    ),
    ("proxy: a newline", _set(f"{PROXY}.https", "http://proxy.corp.test\nX: y"), f"{PROXY}.https", "control"),
    ("proxy: noProxy alone", _set(PROXY, {"noProxy": ["a.test"]}), PROXY, "noProxy alone proxies nothing"),
    ("proxy: unknown key", _set(PROXY, {"http": "http://p.test:1", "socks": "x"}), f"{PROXY}.socks", "unknown key"),
    ("proxy: a string", _set(PROXY, "http://proxy.corp.test:3128"), PROXY, "expected a map"),
    ("noProxy: commas", _set(f"{PROXY}.noProxy", ["a.test,b.test"]), f"{PROXY}.noProxy[0]", "no commas"),
    ("noProxy: a star", _set(f"{PROXY}.noProxy", ["*"]), f"{PROXY}.noProxy[0]", "leave proxy out"),
    ("noProxy: a URL", _set(f"{PROXY}.noProxy", ["https://a.test"]), f"{PROXY}.noProxy[0]", "expected a host name"),
    ("noProxy: a string", _set(f"{PROXY}.noProxy", ".corp.test"), f"{PROXY}.noProxy", "expected a list"),
    (
        "noProxy: too many",
        _set(f"{PROXY}.noProxy", [f"h{i}.test" for i in range(101)]),
        f"{PROXY}.noProxy",
        "at most 100",
    ),
    (
        "registryAuth: a config.json pasted",
        _set("runners.tests.registryAuth", '{"auths": {"r.test": {"auth": "dXNlcjpwYXNz"}}}'),
        "runners.tests.registryAuth",
        "in plain text is refused",
    ),
    (
        "registryAuth: a key name",
        _set("runners.tests.registryAuth", "registryAuth"),
        "runners.tests.registryAuth",
        "plain text",
    ),
    (
        "registryAuth: unset key",
        _set("runners.tests.registryAuth", {"secret": "missing"}),
        "runners.tests.registryAuth",
        "'missing' is not set",
    ),
    (
        "useHostProxy: text",
        _set("runners.tests.useHostProxy", "no"),
        "runners.tests.useHostProxy",
        "expected true or false",
    ),
    (
        "extraConfig: the proxy by hand",
        _set("runners.tests.extraConfig", 'environment = ["https_proxy=http://p.test:1"]'),
        "runners.tests.extraConfig.environment",
        "hosts.<h>.proxy",
    ),
    (
        "extraConfig: a CA file by hand",
        _set("runners.tests.extraConfig", 'environment = ["SSL_CERT_FILE=/etc/x.pem"]'),
        "runners.tests.extraConfig.environment",
        "gitlabCaBundle",
    ),
    (
        "extraConfig: tls-ca-file",
        _set("runners.tests.extraConfig", 'tls-ca-file = "/etc/gitlab-runner/certs/x.crt"'),
        "runners.tests.extraConfig.tls-ca-file",
        "it has a key of its own: gitlabCaBundle",
    ),
    (
        "extraConfig: a helper image",
        _set("runners.tests.extraConfig", '[docker]\nhelper_image = "evil.test/helper:1"'),
        "runners.tests.extraConfig.docker.helper_image",
        "registryMirror",
    ),
    (
        "hostDirectories over the CA",
        _set(
            "runners.tests.hostDirectories",
            [{"hostPath": "/srv/runner-fleet/ca", "mountPath": "/etc/gitlab-runner/certs/"}],
        ),
        "runners.tests.hostDirectories[0].mountPath",
        "GitLab CA",
    ),
]


@pytest.mark.parametrize(("case", "edit", "path", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_mistake_gets_one_precise_problem(case: str, edit: Edit, path: str, message: str) -> None:
    problems = [p for p in _problems(edit) if not p.startswith("gitlabCa: unknown key")]
    assert any(p.startswith(f"{path}: ") and message in p for p in problems), (case, problems)
    for problem in problems:
        for secret in ("dXNlcjpwYXNz", "MIGHAgEA", "user:pw", "hunter2", "Ym9i", KEY_BODY[:20]):
            assert secret not in problem, problem


def test_an_invalid_proxy_url_is_one_problem_not_two() -> None:
    problems = _problems(_set(PROXY, {"https": "http://u:p@proxy.corp.test:1"}))
    assert [p for p in problems if p.startswith(PROXY)] == [problems[0]] and "noProxy alone" not in problems[0]


def test_a_secret_reference_must_be_a_secret() -> None:
    problems = _problems(
        _set("gitlabCaBundle", {"secret": "gitlabCa"}), secrets=("cacheAccessKey", "cacheSecretKey", "registryAuth")
    )
    assert "gitlabCaBundle: config key 'gitlabCa' is not a secret; set it with pulumi config set --secret" in problems


def test_what_is_valid_becomes_the_model() -> None:
    values = _values(_set("gitlabCaBundle", {"secret": "gitlabCa"}))
    values["hosts"]["build"]["proxy"]["noProxy"] = [
        "a.test:8080",
        ".b.test",
        "10.0.0.1",
        "fd00::/8",
        "[::1]",
        "localhost",
    ]
    spec = parse_spec(values, stack="test", secret_keys=(*SECRETS, "gitlabCa"))
    assert spec.gitlab_ca == site.CaBundle(secret="gitlabCa")
    assert spec.registry_mirror == MIRROR
    build = next(h for h in spec.hosts if h.key == "build")
    assert build.runner_image == f"{MIRROR}/gitlab/gitlab-runner:alpine-v19.3.0"
    assert build.proxy is not None and build.proxy.no_proxy[0] == "a.test:8080"
    runners = {r.key: r for r in spec.runners}
    assert runners["tests"].registry_auth == "registryAuth" and runners["internal"].use_host_proxy is False
    assert spec.secret_keys >= {"gitlabCa", "registryAuth", "cacheAccessKey"}
    assert _parse(_values(_set("gitlabCaBundle", {}))).gitlab_ca is None
    assert _parse(_values(_set("registryMirror", ""))).registry_mirror is None


def _parse(values: dict[str, Any]) -> Any:
    values.pop("gitlabCa")
    return parse_spec(values, stack="t", secret_keys=SECRETS)


def test_a_mirror_with_a_port_and_no_path_serves_every_image() -> None:
    spec = _parse(_values(_set("registryMirror", "localhost:5000")))
    runners = {r.key: r for r in spec.runners}
    assert runners["images"].image == "localhost:5000/moby/buildkit:v0.32.2-rootless"
    assert runners["images"].allowed_images == ("localhost:5000/moby/buildkit:*rootless",)
    assert runners["tests"].image == "localhost:5000/library/alpine:3.22"


@pytest.mark.parametrize(
    ("host", "image", "message"),
    [
        (
            "cluster",
            "gitlab/gitlab-runner:alpine-v19.1.0",
            "v19.1.0 is older than gitlab-runner 19.2, which a kubernetes",
        ),
        ("build", "gitlab/gitlab-runner:alpine-v18.10.2", "v18.10.2 is older than gitlab-runner 18.11, which a docker"),
        ("build", "gitlab/gitlab-runner@sha256:" + "a" * 64, "the tag must name the exact gitlab-runner release"),
        ("cluster", "gitlab/gitlab-runner:latest", "the tag must name the exact gitlab-runner release"),
    ],
)
def test_a_runner_image_below_its_executors_floor_is_refused(host: str, image: str, message: str) -> None:
    values = _values(_set(f"hosts.{host}.runnerImage", image))
    values.pop("gitlabCa")
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test", secret_keys=SECRETS)
    assert any(p.startswith(f"hosts.{host}.runnerImage: ") and message in p for p in caught.value.problems)


def test_a_runner_image_at_or_above_the_floor_with_a_digest_passes() -> None:
    values = _values(
        _set("hosts.cluster.runnerImage", f"{MIRROR}/gitlab/gitlab-runner:alpine-v19.2.0@sha256:" + "b" * 64)
    )
    values.pop("gitlabCa")
    spec = parse_spec(values, stack="test", secret_keys=SECRETS)
    assert next(h for h in spec.hosts if h.key == "cluster").runner_image.endswith("b" * 64)
