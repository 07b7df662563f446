"""Read `variables[i]`: project and group CI/CD variables, and the rules GitLab applies to them.

The keys and their types are in `keys.VARIABLE`; this module adds GitLab's rules (key names, what can be
masked), where a secret value comes from, and that no two variables share an identity.
https://docs.gitlab.com/ci/variables/ ; masking: gitlabhq app/models/concerns/ci/maskable.rb
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from components.domain.model import ScopeKind, VariableSpec, VariableType
from components.spec import keys
from components.spec.credential_shapes import holds_secret
from components.spec.fleet_checks import check_secret_ref
from components.spec.problems import Problems, credential_shape, describe
from components.spec.reader import read_section

VARIABLE_KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,255}\Z")
# The check GitLab runs on masked values (gitlabhq app/models/concerns/ci/maskable.rb).
MAX_ARG_STRLEN = 131072 - 1  # one environment string, NUL included, on 4 KiB pages (x86_64, most arm64)
MASKABLE_RE = re.compile(r"^[a-zA-Z0-9_+=/@:.~-]{8,}\Z")


_SECURE_INSTEAD = (
    "a plain `value` is committed to the stack file in plain text, masked or not; put it in a secure config key "
    "(`pulumi config set --secret <configKey>`) and write `secret: <configKey>` instead of `value`"
)


def plain_value_problem(key: str, value: str) -> str | None:
    """Why a plain `value` must be a `secret:` instead (never repeating it): its key says it holds a secret
    (credential_shapes.holds_secret: `PASSWORD_MIN_LENGTH: 12` is a setting, `CACHE_KEY: v2` no key), or it has a
    credential's shape. Masking does not help: GitLab masks the job log, the stack file still holds the value."""
    if holds_secret(key, value):
        return f"{key} says it holds a secret: {_SECURE_INSTEAD}"
    if credential_shape(value):
        return f"looks like a credential (a token, a key, a password or a URL with one; not shown): {_SECURE_INSTEAD}"
    return None


def parse_variable(
    p: Problems, i: int, raw: object, secrets: frozenset[str], config_keys: frozenset[str]
) -> VariableSpec | None:
    """`secrets` are the secret config keys, `config_keys` every config key that is set."""
    path = f"variables[{i}]"
    values = read_section(p, raw, path, keys.VARIABLE)
    if values is None:
        return None
    key = values.get("key")
    if key is not None and not VARIABLE_KEY_RE.match(key):
        p.add(f"{path}.key", f"GitLab variable keys are letters, digits and '_' (at most 255), found {key!r}")
    if "secret" in values:
        check_secret_ref(p, f"{path}.secret", values["secret"], config_keys, secrets)
    if values.get("hidden"):
        if values.get("masked") is False:
            p.add(f"{path}.masked", "a hidden variable is masked (GitLab's 'masked and hidden'); drop masked: false")
        values["masked"] = True
    value = values.get("value")
    if isinstance(value, str) and (problem := plain_value_problem(key if isinstance(key, str) else "", value)):
        p.add(f"{path}.value", problem)
    kind = values.get("variable_type", VariableType.ENV_VAR)
    if value is not None and kind is VariableType.ENV_VAR and len(f"{key}={value}".encode()) > MAX_ARG_STRLEN:
        p.add(
            f"{path}.value",
            f"{len(value.encode())} bytes: an environment variable holds at most {MAX_ARG_STRLEN} bytes with its "
            "name (Linux's MAX_ARG_STRLEN; the job would fail with 'argument list too long'); use type: file",
        )
    if values.get("masked") and value is not None and not MASKABLE_RE.match(value):
        p.add(
            f"{path}.value",
            "GitLab refuses to mask this value: it must be at least 8 characters of "
            "letters, digits and _+=/@:.~- (one line, no spaces)",
        )
    source, owner_kind = values.pop("source", None), values.pop("owner_kind", None)
    if source not in values or owner_kind is None or "owner" not in values or key is None:
        return None
    return VariableSpec(owner_kind=ScopeKind(owner_kind), **values)


def parse_variables(
    p: Problems, raw: object, path: str, *, secrets: frozenset[str], config_keys: frozenset[str]
) -> list[VariableSpec | None]:
    """Every entry of `variables`, None where one is invalid; then no two may share an identity."""
    if not isinstance(raw, list):
        p.add(path, f"expected a list of variables, found {describe(raw)}")
        return []
    variables = [parse_variable(p, i, v, secrets, config_keys) for i, v in enumerate(raw)]
    _check_identities(p, variables)
    return variables


def _check_identities(p: Problems, variables: Sequence[VariableSpec | None]) -> None:
    """No two variables with one identity; GitLab resolves paths without regard to case."""
    seen: dict[tuple[str, str, str, str], int] = {}
    for i, var in enumerate(variables):
        if var is None:
            continue
        kind, owner, key, scope = var.identity
        identity = (kind, owner.casefold(), key, scope)
        if identity in seen:
            p.add(
                f"variables[{i}]",
                f"duplicates variables[{seen[identity]}] ({var.owner_kind.value} {var.owner}, key {var.key}, "
                f"environmentScope {var.environment_scope})",
            )
        else:
            seen[identity] = i
