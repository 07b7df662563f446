"""The GitLab instance's URLs: `gitlabUrl` (written into every config.toml) and the GitLab provider's keys
(`gitlab:baseUrl` and friends: where the token with which `pulumi up` registers runners goes)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from components.model import REDACTED, Tier
from components.spec.problems import Problems


def parse_url(p: Problems, url: str | None, tier: Tier, key: str = "gitlabUrl") -> str | None:
    """A URL of the GitLab instance (`gitlabUrl`, or the API's `gitlab:baseUrl`), normalised without a trailing /."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        p.add(key, f"not a valid URL ({exc})")
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
    "gitlab:insecure": ("bool", r"true|false"),
    "gitlab:earlyAuthCheck": ("bool", r"true|false"),
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
            p.add(key, "holds the API token in plain text; set it with `pulumi config set --secret` (or GITLAB_TOKEN)")
        elif kind in ("bool", "int") and not re.fullmatch(expected, value):
            p.add(key, f"expected {'true or false' if kind == 'bool' else 'a whole number 0-999'}")
    base = parse_url(p, _plain_value(provider.get("gitlab:baseUrl")), tier, "gitlab:baseUrl")
    if base is not None and gitlab_url is not None and urlsplit(base).hostname != urlsplit(gitlab_url).hostname:
        _weaker(p, "gitlab:baseUrl", "is not on gitlabUrl's host: the provider's token would go elsewhere", production)
    if provider.get("gitlab:insecure") == "true":
        _weaker(p, "gitlab:insecure", "turns TLS verification off for the provider's token", production)


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
