"""Secret values in the declare layer: one helper to mark a value secret (typed as Output[Any]:
`pulumi.Output.secret` alone infers Output[Never] in conditional expressions), and a manager's config.toml
rendered from its tokens and secret config values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components.domain.model import OFFLINE_PLACEHOLDER, ManagerSpec
from components.domain.site import MAX_CA_BUNDLE, NotCertificates, canonical_certificates
from components.render import config_toml


def secret(value: pulumi.Input[Any]) -> pulumi.Output[Any]:
    """`value` as a secret Output: it shows as [secret] in previews, state and logs."""
    return pulumi.Output.secret(value)


def rendered_config(
    manager: ManagerSpec, tokens: Mapping[str, pulumi.Output[str]], secrets: Mapping[str, pulumi.Output[str]]
) -> pulumi.Output[str]:
    """A manager's config.toml once its runners' tokens and the secret config values it holds are known.

    Tokens and secrets reach the renderer only inside `apply`, so the text is a secret from the start; which
    keys it takes never depends on a secret value."""
    needed = {key: secrets[key] for key in config_toml.secret_keys(manager)}
    if manager.gitlab_ca is not None and manager.gitlab_ca.secret is not None:
        # The CA as delivered (checked, canonical): config.toml names its file by its digest.
        needed[manager.gitlab_ca.secret] = ca_bundle(manager, secrets) or needed[manager.gitlab_ca.secret]
    values = pulumi.Output.all(tokens=pulumi.Output.all(**tokens), secrets=pulumi.Output.all(**needed))
    return values.apply(lambda v: config_toml.render(manager, v["tokens"] or {}, v["secrets"] or {}))


def ca_bundle(manager: ManagerSpec, secrets: Mapping[str, pulumi.Output[str]]) -> pulumi.Output[str] | None:
    """The GitLab CA the manager and its jobs trust: as written in the stack file (public), or the value of the
    secret config key that holds it (a secret); None without one."""
    ca = manager.gitlab_ca
    if ca is None:
        return None
    if ca.secret is not None:
        key = ca.secret
        return secret(secrets[key].apply(lambda value: _checked_ca(key, value)))
    return pulumi.Output.from_input(ca.pem or "")


def _checked_ca(key: str, value: str) -> str:
    """A CA bundle from a secret config key, checked like a written one before it reaches any job (the spec never
    sees secret values); raises, without repeating the value, when it is not one."""
    if value.startswith(OFFLINE_PLACEHOLDER):
        return value  # the offline plan's stand-in: nothing to judge
    if len(value) > MAX_CA_BUNDLE:
        raise ValueError(f"gitlabCaBundle: secret config key {key!r} holds more than {MAX_CA_BUNDLE} characters")
    try:
        return canonical_certificates(value)
    except NotCertificates as exc:
        raise ValueError(f"gitlabCaBundle: secret config key {key!r} holds no CA bundle: {exc}") from None
