"""Read the stack's Pulumi configuration: the only module that touches `pulumi.Config`.

`load()` reads every config key of the project namespace (secret values only as placeholders: their presence
is checked, their text never read into the spec), parses them with `parse_spec`, logs the warnings, and returns
the spec together with the secret values it references (still secret Outputs) and the GitLab connection.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pulumi
import pulumi.runtime.config as runtime_config

from components.domain import rotation
from components.domain.model import REDACTED, FleetSpec
from components.spec import credentials
from components.spec.parse import parse_spec
from components.spec.problems import SpecError, one_line

STACK_CONFIG_DIR = "stacks"  # Pulumi.yaml's stackConfigDir: where problems say the stack file is


@dataclass(frozen=True)
class GitlabConnection:
    """Arguments for the explicit gitlab.Provider, from the standard `gitlab:` stack keys.

    An explicit provider does not read `gitlab:*` config by itself, so the program passes it on.
    """

    base_url: str
    """The API root with a trailing slash; default `<gitlabUrl>/api/v4/`."""
    token: pulumi.Output[str] | None
    """`gitlab:token` (secret), passed to the provider explicitly, so that it ignores GITLAB_TOKEN (verify's read
    token); None: the provider falls back to GITLAB_TOKEN (README "Secrets": always set gitlab:token)."""
    insecure: bool | None = None
    """`gitlab:insecure`: skip TLS verification; unset by default."""
    cacert_file: str | None = None
    """`gitlab:cacertFile`: CA bundle path on the machine running pulumi; unset by default."""
    retries: int | None = None
    """`gitlab:retries`: retries on HTTP 429; the provider's default when unset."""
    early_auth_check: bool | None = None
    """`gitlab:earlyAuthCheck`: check the token at start; the provider's default when unset."""


@dataclass(frozen=True)
class FleetConfig:
    """Everything the program declares from: the spec, the GitLab connection, the referenced secrets."""

    spec: FleetSpec
    """The validated fleet."""
    gitlab: GitlabConnection
    """How the GitLab provider connects."""
    secrets: Mapping[str, pulumi.Output[str]]
    """Referenced secret config values by key, still secret Outputs."""


CLI_VARIABLES = frozenset(
    {"PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"}
)
"""PULUMI_CONFIG* variables that belong to the CLI: the language host sets the first two for the program (from
the stack file); the passphrase provider reads the others. Any other PULUMI_CONFIG_<KEY> is read by the Pulumi
SDK in place of the stack file's value of the key it names (pulumi/runtime/config.py `get_config`)."""


def requested_moment(environ: Mapping[str, str]) -> datetime | None:
    """The moment RUNNER_FLEET_NOW asks for, None when it is unset or empty; ValueError (rotation.NOW_EXPECTED,
    never the value) otherwise. The program and the offline plan read it through this one function, so both accept
    and refuse alike."""
    text = environ.get(rotation.NOW_ENV)
    return rotation.parse_now(text) if text else None


def environment_problems(environ: Mapping[str, str]) -> list[str]:
    """What in the environment of `pulumi up` the stack file does not say and the program would use: an
    unparsable RUNNER_FLEET_NOW, and PULUMI_CONFIG_<KEY> overrides of config keys. One line each, naming the
    variable, never its value."""
    problems = [
        f"{name} (environment): the Pulumi SDK reads it instead of the stack file's value of the config key it "
        "names, so the stack file (and the offline plan) would not say what `pulumi up` does; unset it and put "
        "the value in the stack file"
        for name in sorted(environ)
        if name.startswith("PULUMI_CONFIG_") and name not in CLI_VARIABLES
    ]
    try:
        requested_moment(environ)
    except ValueError as exc:
        problems.append(f"{rotation.NOW_ENV} (environment): {exc}")
    return [one_line(problem) for problem in problems]


def _config_keys() -> set[str]:
    """Every fully qualified config key: the engine passes config both ways, so look at both."""
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def _plain(key: str) -> str | None:
    namespace, name = key.split(":", 1)
    return pulumi.Config(namespace).get(name)


def load() -> FleetConfig:
    """Read and validate the whole stack configuration; raise SpecError before anything is declared."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    cfg = pulumi.Config()
    prefix = f"{project}:"
    everything = _config_keys()
    names = sorted(k.removeprefix(prefix) for k in everything if k.startswith(prefix))
    env_secrets = set(runtime_config.get_config_secret_keys_env())
    secret_keys = {k for k in names if runtime_config.is_config_secret(prefix + k) or prefix + k in env_secrets}
    # Secret values never reach the parser: only their presence is checked (and their fingerprints, below).
    values = {k: cfg.get(k) for k in names if k not in secret_keys}
    values.update({k: REDACTED for k in secret_keys})
    source = f"{STACK_CONFIG_DIR}/Pulumi.{stack}.yaml"
    # Other namespaces: a key that looks like ours has a wrong prefix; gitlab:* says where the provider's token goes.
    other = {
        k: REDACTED if runtime_config.is_config_secret(k) or k in env_secrets else _plain(k)
        for k in everything
        if ":" in k and not k.startswith(prefix)
    }
    environ = dict(os.environ)  # the one read of the environment: RUNNER_FLEET_NOW, and PULUMI_CONFIG_* refused
    if problems := environment_problems(environ):
        raise SpecError(source, problems)
    now = rotation.planned_moment(environ.get(rotation.NOW_ENV))
    # One credential, one role, by value too: each secret value is read only to be fingerprinted, never kept or shown.
    other_secrets = {k for k in other if runtime_config.is_config_secret(k) or k in env_secrets}
    marks = credentials.fingerprints(secret_keys | other_secrets, lambda k: _plain(k if ":" in k else prefix + k))
    spec = parse_spec(
        values,
        stack=stack,
        secret_keys=secret_keys,
        source=source,
        other_config=other,
        now=now,
        secret_fingerprints=marks,
    )
    for warning in spec.warnings:
        pulumi.log.warn(warning)
    secrets = {k: cfg.require_secret(k) for k in sorted(spec.secret_keys)}
    return FleetConfig(spec=spec, gitlab=_gitlab_connection(spec), secrets=secrets)


def _gitlab_connection(spec: FleetSpec) -> GitlabConnection:
    gl = pulumi.Config("gitlab")
    base_url = gl.get("baseUrl") or f"{spec.gitlab_url}/api/v4/"
    if not base_url.endswith("/"):
        base_url += "/"  # the provider requires the trailing slash
    return GitlabConnection(
        base_url=base_url,
        token=gl.get_secret("token"),
        insecure=gl.get_bool("insecure"),
        cacert_file=gl.get("cacertFile"),
        retries=gl.get_int("retries"),
        early_auth_check=gl.get_bool("earlyAuthCheck"),
    )
