"""extraConfig `environment`: a runner sets its jobs' own settings, never how git, TLS, proxies, code loading or
the runner behave for every job, and never a credential, whatever its name or shape.

Generated cases vary case, prefixes and suffixes of the names tools really read (git's GIT_CONFIG_COUNT /
GIT_CONFIG_KEY_<n> / GIT_CONFIG_VALUE_<n>, curl's and requests' CA variables, the *_proxy family in both cases)
and the shapes credentials take in a value (URL userinfo with '/', '@', spaces, percent-escapes; random keys).
"""

from __future__ import annotations

import copy
import random
import string

import pytest

from components.spec import SpecError, parse_spec
from tests.fleets import FLEET

PATH = "runners.unit.extraConfig.environment"


def _problems(entries: list[str]) -> list[str]:
    values = copy.deepcopy(FLEET)
    values["runners"]["unit"]["extraConfig"] = "environment = [" + ", ".join(_toml(e) for e in entries) + "]\n"
    try:
        parse_spec(values, stack="test")
    except SpecError as err:
        return list(err.problems)
    return []


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _refused(entry: str) -> list[str]:
    problems = _problems([entry])
    assert any(p.startswith(f"{PATH}: ") for p in problems), (entry, problems)
    return problems


def _cases(*names: str, prefixed: bool = True) -> list[str]:
    """Each name as written, lower-cased and (where the meaning is in the words, not the namespace) with a
    tool's prefix, as careless configs spell them."""
    prefixes = ("", "NPM_CONFIG_", "MY_TOOL_") if prefixed else ("",)
    return sorted({v for name in names for p in prefixes for v in (f"{p}{name}", f"{p}{name}".lower())})


BEHAVIOUR = _cases(
    "GIT_SSL_NO_VERIFY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "AWS_CA_BUNDLE",
    "PYTHONHTTPSVERIFY",
    "PIP_CERT",
    "PIP_TRUSTED_HOST",
    "GOINSECURE",
    "OPENSSL_CONF",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "GOPROXY",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
) + _cases(
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_KEY_0",
    "GIT_CONFIG_VALUE_0",
    "GIT_CONFIG_PARAMETERS",
    "GIT_SSL_NO_VERIFY",
    "GIT_SSL_CAINFO",
    "GIT_SSH_COMMAND",
    "GIT_ASKPASS",
    "GIT_EXEC_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "AWS_CA_BUNDLE",
    "PYTHONHTTPSVERIFY",
    "PIP_CERT",
    "PIP_TRUSTED_HOST",
    "GOINSECURE",
    "OPENSSL_CONF",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "GOPROXY",
    "HOSTALIASES",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "BASH_ENV",
    "NODE_OPTIONS",
    "JAVA_TOOL_OPTIONS",
    "PYTHONPATH",
    "PATH",
    "HOME",
    "KUBECONFIG",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "KUBERNETES_NODE_TOLERATIONS_1",
    "CI_SERVER_URL",
    "CI_REGISTRY",
    "GITLAB_CI",
    prefixed=False,
)


@pytest.mark.parametrize("name", BEHAVIOUR)
def test_variables_that_change_how_every_job_fetches_trusts_or_loads_code_are_refused(name: str) -> None:
    problems = _refused(f"{name}=1")
    assert any(name in p for p in problems), problems


SECRET_NAMES = _cases(
    "DB_PASSWORD",
    "SMTP_PWD",
    "GPG_PASSPHRASE",
    "SIGNING_PASSPHRASE_FILE",
    "MY_SECRET_VALUE",
    "CLIENT_SECRET",
    "API_TOKEN",
    "SONAR_TOKEN",
    "SSH_KEY",
    "DEPLOY_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "STRIPE_API_KEY_LIVE",
    "NPM_AUTH",
    "REGISTRY_CREDENTIALS",
)


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_names_that_say_they_hold_a_secret_are_refused_without_the_value(name: str) -> None:
    problems = _refused(f"{name}=correct-horse-battery-staple")
    assert all("correct-horse" not in p for p in problems), problems


RANDOM = random.Random(19)  # seeded: every test worker collects the same cases


def _random_key(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    while True:  # a generated key has all three classes, as issued keys do
        key = "".join(RANDOM.choice(alphabet) for _ in range(length))
        mixed = any(c.isdigit() for c in key) and any(c.islower() for c in key) and any(c.isupper() for c in key)
        if mixed and sum(1 for c in key if c.islower()) < length // 2:
            return key


CREDENTIAL_VALUES = [
    "https://deploy:hunter2@git.acme.test/x.git",
    "https://deploy:hun/ter2@git.acme.test",
    "https://deploy:hun ter2@git.acme.test",
    "https://deploy:p@ss@git.acme.test",
    "https://deploy%40acme:p%2Fw@git.acme.test",
    "postgres://app:s3cr3t@db.acme.test:5432/app",
    "https://Zx9cV8bN7mQ6wE5rT4yU@github.com/acme/x",
    "glpat-Zx9cV8bN7mQ6wE5rT4yU",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
] + [_random_key(n) for n in (24, 32, 40, 64)]


@pytest.mark.parametrize("value", CREDENTIAL_VALUES)
def test_a_credential_as_a_value_is_refused_naming_the_variable_never_the_value(value: str) -> None:
    problems = _refused(f"SETTING={value}")
    assert any("SETTING" in p for p in problems), problems
    for part in ("hunter2", "hun/ter2", "hun ter2", "p@ss", "s3cr3t", value):
        assert all(part not in p for p in problems), problems


@pytest.mark.parametrize(
    "entry",
    [
        "TZ=Europe/Berlin",
        "LANG=en_US.UTF-8",
        "GIT_DEPTH=20",
        "GIT_STRATEGY=fetch",
        "MAVEN_OPTS=-Xmx2048m",
        "GRADLE_OPTS=-Dorg.gradle.daemon=false",
        "TOKENIZERS_PARALLELISM=false",
        "APP_BUILD_PROFILE=ReleaseCandidateBuild2024",
        "IMAGE_DIGEST=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "PACKAGE_REGISTRY=https://registry.npmjs.org/@acme/",
        "CHECKOUT_SHA=0123456789abcdef0123456789abcdef01234567",
        "BUILD_ID=123e4567-e89b-12d3-a456-426614174000",
    ],
)
def test_a_jobs_own_settings_are_accepted(entry: str) -> None:
    assert _problems([entry]) == []
