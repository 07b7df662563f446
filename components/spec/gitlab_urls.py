"""The GitLab instance's URLs: `gitlabUrl` (written into every config.toml) and the GitLab provider's keys
(`gitlab:baseUrl` and friends: where the token with which `pulumi up` registers runners goes)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from urllib.parse import urlsplit

from components.domain.model import REDACTED, Tier
from components.spec.problems import Problems
from components.spec.safe_text import UNSAFE_CATEGORIES, url_error


def parse_url(p: Problems, url: str | None, tier: Tier, key: str = "gitlabUrl") -> str | None:
    """A URL of the GitLab instance (`gitlabUrl`, or the API's `gitlab:baseUrl`), normalised without a trailing /."""
    if url is None:
        return None
    if any(c.isspace() or unicodedata.category(c) in UNSAFE_CATEGORIES for c in url):
        # urllib silently drops tabs and line breaks (WHATWG does too); the provider and gitlab-runner would not.
        p.add(key, "holds whitespace or a control character; write the URL on one line, without spaces")
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        p.add(key, f"not a valid URL ({url_error(exc)})")
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or not url.isascii() or " " in url:
        p.add(key, f"expected an http(s):// URL of the GitLab instance (ASCII; punycode for IDNs), found {url!r}")
        return None
    if parts.username is not None or parts.query or parts.fragment:
        p.add(key, "a GitLab URL has no credentials, query or fragment (it is written into every config.toml)")
        return None
    plain = [
        why for cond, why in ((parts.scheme == "http", "plain http://"), (_is_ip(parts.hostname), "an IP")) if cond
    ]
    if plain and tier is Tier.PRODUCTION:
        p.add(key, f"{' and '.join(plain)}: refused for tier production (tokens travel over it)")
    elif plain:
        p.warn(key, f"{' and '.join(plain)}: tokens travel over it; fine for a lab, not for production")
    return url.rstrip("/")


PROVIDER_KEYS = {
    "gitlab:token": ("secret", ""),
    "gitlab:baseUrl": ("url", ""),
    "gitlab:insecure": ("bool", r"true|True|false|False"),
    "gitlab:earlyAuthCheck": ("bool", r"true|True|false|False"),
    "gitlab:cacertFile": ("path", r"[A-Za-z0-9_.][A-Za-z0-9_./-]*"),
    "gitlab:retries": ("int", r"[0-9]{1,3}"),
}
"""The GitLab provider's keys the program passes on, and what each must hold."""


def _plain_value(value: str | None) -> str | None:
    return None if value == REDACTED else value


def check_provider_config(p: Problems, provider: Mapping[str, str | None], gitlab_url: str | None, tier: Tier) -> None:
    """The GitLab provider's API URL and TLS setting: the token with which `pulumi up` registers runners goes
    there. Production refuses an API elsewhere than `gitlabUrl`'s host and TLS verification turned off."""
    production = tier is Tier.PRODUCTION
    for key, (kind, expected) in PROVIDER_KEYS.items():
        value = provider.get(key)
        if value is None:
            continue
        if value == REDACTED and kind != "secret":
            p.add(key, "must not be a secret: runner-fleet checks where the provider's token goes")
        elif kind == "secret" and value != REDACTED:
            p.add(
                key,
                "holds the API token in plain text; set it with `pulumi config set --secret gitlab:token` (it prompts)",
            )
        elif kind in ("bool", "int") and not re.fullmatch(expected, value):
            p.add(key, f"expected {'true or false' if kind == 'bool' else 'a whole number 0-999'}")
        elif kind == "path" and (not re.fullmatch(expected, value) or ".." in value.split("/")):
            # The CA the provider trusts decides who can read its token: a file of the repository, reviewed
            # with the change, never a path elsewhere on the machine that runs pulumi.
            _weaker(
                p,
                key,
                "is not a relative path inside the project: the CA the provider trusts is reviewed with the stack",
                production,
            )
    base = parse_url(p, _plain_value(provider.get("gitlab:baseUrl")), tier, "gitlab:baseUrl")
    if base is not None and gitlab_url is not None and _origin(base) != _origin(gitlab_url):
        _weaker(
            p,
            "gitlab:baseUrl",
            "is not on gitlabUrl's host and port: the provider's token would go elsewhere",
            production,
        )
    if provider.get("gitlab:insecure") in ("true", "True"):
        _weaker(p, "gitlab:insecure", "turns TLS verification off for the provider's token", production)


def _origin(url: str) -> tuple[str | None, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _weaker(p: Problems, key: str, message: str, production: bool) -> None:
    """A setting that weakens how the token travels: refused for production, a warning elsewhere."""
    if production:
        p.add(key, f"{message} (refused for tier production)")
    else:
        p.warn(key, message)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
