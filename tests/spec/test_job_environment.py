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


MEANINGS_IN_WORDS = (
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
)
"""Names whose meaning is in their words: refused with a tool's prefix too."""
BEHAVIOUR = _cases(*MEANINGS_IN_WORDS) + _cases(
    *MEANINGS_IN_WORDS,
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_KEY_0",
    "GIT_CONFIG_VALUE_0",
    "GIT_CONFIG_PARAMETERS",
    "GIT_SSL_CAINFO",
    "GIT_SSH_COMMAND",
    "GIT_ASKPASS",
    "GIT_EXEC_PATH",
    "HOSTALIASES",
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


# --- Review of issue 19 (F1): credential shapes, tool flags, package sources, and settings about secrets -------

MORE_SECRET_NAMES = _cases("DB_PW", "REDIS_PW", "PW", "SMTP_PASS", "DEPLOY_KEY", "GPG_KEY")


@pytest.mark.parametrize("name", MORE_SECRET_NAMES)
def test_pw_and_other_short_secret_words_are_refused_without_the_value(name: str) -> None:
    problems = _refused(f"{name}=hunter2")
    assert any(name in p for p in problems) and all("hunter2" not in p for p in problems), problems


# Credentials written as programs read them without a scheme (Go's MySQL driver DSN `user:password@tcp(host)/db`,
# ADO.NET/ODBC `Password=...;`, libpq `password=...`, JDBC query parameters, scheme-relative URLs).
SCHEMELESS = [
    "user:hunter2@tcp(db:3306)/app",
    "user:hunter2@/app",
    "app:hunter2@unix(/run/mysqld.sock)/app?parseTime=true",
    "//user:hunter2@host/x",
    "Server=db;User Id=sa;Password=hunter2;",
    "Data Source=db;Initial Catalog=app;User ID=sa;PWD=hunter2",
    "DRIVER={PostgreSQL};SERVER=db;UID=app;PASSWD=hunter2",
    "host=db user=app password=hunter2 dbname=app",
    "jdbc:postgresql://db/app?user=app&password=hunter2",
    "--password=hunter2",
]


@pytest.mark.parametrize("value", SCHEMELESS)
def test_credentials_without_a_scheme_are_refused_naming_the_variable(value: str) -> None:
    problems = _refused(f"CONN={value}")
    assert any("CONN" in p for p in problems) and all("hunter2" not in p for p in problems), problems


# Tool flags that change trust, code loading or package sources, inside *_OPTS and friends (JVM launchers read
# MAVEN_OPTS / GRADLE_OPTS / SBT_OPTS as command-line flags: `-javaagent` loads code into every build).
FLAGS = [
    f"{name}={flags}"
    for name in ("MAVEN_OPTS", "GRADLE_OPTS", "SBT_OPTS", "JAVA_OPTS", "ANT_OPTS", "my_tool_opts")
    for flags in (
        "-Xmx2g -Djavax.net.ssl.trustStore=/tmp/evil.jks",
        "-javaagent:/tmp/agent.jar",
        "-agentlib:jdwp=transport=dt_socket,server=y",
        "-Xbootclasspath/a:/tmp/x.jar",
        "-XX:OnOutOfMemoryError='sh /tmp/x'",
        "-Dhttps.proxyHost=evil.test",
        "-Dmaven.wagon.http.ssl.insecure=true",
        "-Dmaven.repo.remote=https://evil.test/m2",
        "-Dsigning.password=hunter2",
    )
] + ["JAVA_TOOL_OPTIONS=-javaagent:/x.jar", "_JAVA_OPTIONS=-Xmx1g", "PYTEST_ADDOPTS=--index-url=https://evil.test"]


@pytest.mark.parametrize("entry", FLAGS)
def test_tool_flags_that_change_trust_code_or_sources_are_refused(entry: str) -> None:
    name = entry.partition("=")[0]
    problems = _refused(entry)
    assert any(name in p for p in problems) and all("hunter2" not in p for p in problems), problems


# Package sources and their verification, the Go toolchain's module settings, runtime debug switches, an engine
# or a tool's password file: names tools read (pip, uv, npm, yarn, cargo, bundler, conda, go, libpq, buildkit).
SOURCES = _cases(
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "UV_INDEX_URL",
    "PIP_FIND_LINKS",
    "NPM_CONFIG_REGISTRY",
    "YARN_NPM_REGISTRY_SERVER",
    "PNPM_REGISTRY",
    "CARGO_REGISTRIES_ACME_INDEX",
    "CARGO_HTTP_CHECK_REVOKE",
    "BUNDLE_MIRROR__RUBYGEMS__ORG",
    "CONDA_CHANNEL_ALIAS",
    "POETRY_REPOSITORIES_ACME_URL",
    "RUSTUP_DIST_SERVER",
    "GOSUMDB",
    "GONOSUMDB",
    "GONOSUMCHECK",
    "GOPRIVATE",
    "GOTOOLCHAIN",
    "GOFLAGS",
    "GODEBUG",
    "GOCACHEPROG",
    "RUSTC_WRAPPER",
    "PYTHONUSERBASE",
    "PYTHONWARNINGS",
    "PGPASSFILE",
    "PGSERVICEFILE",
    "BUILDKIT_HOST",
    "BUILDX_BUILDER",
    "CONTAINER_HOST",
    "DOCKER_TLS",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_CONTEXT",
    "DOCKER_CONTENT_TRUST",
    "DOCKER_CUSTOM_HEADERS",
    prefixed=False,
)


@pytest.mark.parametrize("name", SOURCES)
def test_package_sources_engines_and_tool_identities_are_refused(name: str) -> None:
    problems = _refused(f"{name}=tcp://evil.test:1234")
    assert any(name in p for p in problems), problems


@pytest.mark.parametrize(
    "entry",
    [
        # The docker CLI and BuildKit's documented switches that only tune a build or the CLI's output
        # (docs.docker.com: "Environment variables" of the docker CLI; "Build with BuildKit").
        "DOCKER_BUILDKIT=1",
        "DOCKER_DRIVER=overlay2",
        "DOCKER_DEFAULT_PLATFORM=linux/amd64",
        "DOCKER_CLI_HINTS=false",
        # A secret word in a name that holds a setting about secrets, with that setting's shape of value.
        "PASSWORD_MIN_LENGTH=12",
        "MIN_PASSWORD_LENGTH=12",
        "PASSWORD_MAX_AGE_DAYS=90",
        "TOKEN_TTL=1h",
        "PASSWORD_POLICY=strict",
        "JWT_TOKEN_ALGORITHM=RS256",
        "SIGNING_PASSPHRASE_FILE=/run/secrets/gpg",
        "DB_PASSWORD_FILE=$CI_PROJECT_DIR/.db-password",
        # A lookup key (a trailing KEY word alone) with a value no cipher key can be.
        "CACHE_KEY=v2",
        "CACHE_KEY=${CI_COMMIT_REF_SLUG}-v2",
        "PARTITION_KEY=3",
        "FEATURE_KEY=true",
        # A secret name whose value is only another variable: nothing is written in plain text.
        "DB_PASSWORD=$DB_PASSWORD_FROM_CI",
        # JVM tuning and system properties that change neither trust nor sources; Maven's local repository.
        "MAVEN_OPTS=-Xmx2048m -XX:+UseG1GC -XX:MaxRAMPercentage=75.0 -Dmaven.repo.local=/cache/.m2",
        "JAVA_OPTS=-Djava.security.egd=file:/dev/./urandom -Dfile.encoding=UTF-8",
        "PYTEST_ADDOPTS=-x -q --maxfail=2",
        "GOOS=linux",
        "GOCACHE=/cache/go",
        "GOMAXPROCS=4",
        "PYTHONUNBUFFERED=1",
        "PYTHONDONTWRITEBYTECODE=1",
        "PIP_NO_CACHE_DIR=1",
        "CARGO_TERM_COLOR=always",
        "NPM_CONFIG_LOGLEVEL=warn",
        "PWM_CHANNEL=3",
        "IMAGE=alpine:3.19@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "CONTACT=mailto:ops@acme.test",
    ],
)
def test_settings_that_only_look_like_secrets_or_behaviour_are_accepted(entry: str) -> None:
    assert _problems([entry]) == []


SETTING_NAMES = ["DB_PASSWORD", "API_TOKEN", "GPG_PASSPHRASE", "CLIENT_SECRET"]
SETTING_CASES = [
    (f"{name}_{word}", good)
    for name in SETTING_NAMES
    for word, good in (("MIN_LENGTH", "12"), ("TTL", "30m"), ("POLICY", "strict"), ("FILE", "/run/secrets/x"))
]


@pytest.mark.parametrize(("name", "good"), SETTING_CASES)
def test_a_setting_about_a_secret_takes_only_that_settings_shape(name: str, good: str) -> None:
    """The same name is accepted with its setting's value and refused with a passphrase, never echoing it."""
    assert _problems([f"{name}={good}"]) == []
    problems = _refused(f"{name}=correct-horse-battery-staple")
    assert any(name in p for p in problems) and all("correct-horse" not in p for p in problems), problems


@pytest.mark.parametrize("value", ["hunter2", "correct-horse-battery-staple", "Zx9cV8bN", "s3cr3t-value"])
def test_a_lookup_key_with_a_password_like_value_is_still_refused(value: str) -> None:
    problems = _refused(f"CACHE_KEY={value}")
    assert all(value not in p for p in problems), problems
