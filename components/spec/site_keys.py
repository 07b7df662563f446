"""Read the company-network keys: `gitlabCaBundle`, `registryMirror`, `hosts.<h>.proxy`, and secret references.

Each is a positive model. A CA bundle is PEM certificates and nothing else (a private key pasted there is named
and refused, never repeated), or `{secret: <configKey>}`; never a file path (it is delivered with the config,
not read from a host). A mirror is a registry host with an optional path (`images.mirror_problem`). A proxy is
an http(s)://host[:port] URL without credentials (they would reach every job's environment), and `noProxy`
lists host names, `.domains`, IP addresses and CIDR ranges. The keys are in `keys.PROXY` and the top level.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from components.domain.model import PROJECT
from components.domain.site import MAX_CA_BUNDLE, CaBundle, NotCertificates, Proxy, canonical_certificates
from components.spec import keys
from components.spec.problems import Problems, describe
from components.spec.reader import read_section

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
PROXY_SCHEMES = ("http", "https")
_NO_PROXY_HOST = re.compile(r"\.?(?P<host>[^:]{1,253})(?::(?P<port>[0-9]{1,5}))?")
NO_PROXY_CHARACTERS = re.compile(r"[A-Za-z0-9.:/\[\]-]{1,260}")
MAX_HOST = 253
MAX_NO_PROXY = 100


CONFIG_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")
"""A config key's name, as a secret reference names it: no namespace, no value."""


def read_secret_ref(p: Problems, raw: object, path: str, what: str = "a credential") -> str | None:
    """`{secret: <configKey>}` -> the config key; plain text is refused without being repeated."""
    if isinstance(raw, str):
        p.add(path, f"{what} in plain text is refused; write {{secret: <configKey>}} and set that key as a secret")
        return None
    if not isinstance(raw, dict) or set(raw) != {"secret"}:
        extra = sorted(str(k) for k in raw if k != "secret")[:3] if isinstance(raw, dict) else []
        found = f"a map with {', '.join(map(repr, extra))}" if extra else describe(raw)
        p.add(path, f"expected {{secret: <configKey>}} (the one key 'secret'), found {found}")
        return None
    name = raw["secret"]
    if not isinstance(name, str) or not name.strip():
        p.add(f"{path}.secret", f"expected the name of a secret config key, found {describe(name)}")
        return None
    name = name.strip()
    if name.startswith(f"{PROJECT}:") and CONFIG_KEY.fullmatch(name.removeprefix(f"{PROJECT}:")):
        p.add(f"{path}.secret", f"write the key without the '{PROJECT}:' prefix ({name.removeprefix(PROJECT + ':')!r})")
        return None
    if not CONFIG_KEY.fullmatch(name):
        p.add(
            f"{path}.secret",
            "expected the name of a config key (a letter, then letters, digits, '_', '.', '-'; at most 100), not a "
            "value: the value goes into that key with pulumi config set --secret (not repeated here)",
        )
        return None
    return name


def parse_ca_bundle(p: Problems, raw: object, path: str) -> CaBundle | None:
    """`gitlabCaBundle`: PEM certificates, or a secret reference; `{}` (the default Pulumi.yaml declares) is none."""
    if raw == {}:
        return None
    if isinstance(raw, dict):
        key = read_secret_ref(p, raw, path)
        return CaBundle(secret=key) if key is not None else None
    if not isinstance(raw, str) or not raw.strip():
        p.add(path, f"expected PEM certificates or {{secret: <configKey>}}, found {describe(raw)}")
        return None
    if len(raw) > MAX_CA_BUNDLE:
        p.add(path, f"a CA bundle has at most {MAX_CA_BUNDLE} characters, found {len(raw)}")
        return None
    try:
        return CaBundle(pem=canonical_certificates(raw))
    except NotCertificates as exc:
        p.add(path, str(exc))
        return None


def _host_problem(host: str) -> str | None:
    """A host name (RFC 1123 labels) or an IP address literal; nothing else (no '%', no '$(...)', no spaces)."""
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None if len(host) <= MAX_HOST and _HOST_NAME.fullmatch(host) else "expected a host name or IP address"
    return "an IPv6 zone is not a proxy host" if "%" in str(address) else None


def _proxy_url_problem(url: str) -> str | None:
    if "@" in url or "%" in url:
        return (
            "a proxy URL with credentials (or percent-encoding) is refused: it would reach every job's environment "
            "in plain text; let the proxy admit the hosts by network"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL: expected http://host[:port] with a port of 1-65535"
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        return "expected http://host[:port] or https://host[:port]"
    if parts.path not in ("", "/") or parts.query or parts.fragment or port == 0:
        return "a proxy URL is scheme://host[:port] only (no path, query or fragment; port 1-65535)"
    host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    problem = _host_problem(host)
    return f"{problem} in the proxy URL" if problem else None


def _no_proxy_problem(entry: str) -> str | None:
    """A host name (optionally .domain, optionally :port), an IP address or a CIDR range other than everything."""
    if entry == "*":
        return "'*' would send nothing through the proxy; leave proxy out instead"
    if not NO_PROXY_CHARACTERS.fullmatch(entry) or entry.startswith("[") != entry.endswith("]"):
        return "expected a host name, a .domain, an IP address or a CIDR range (one per item, no commas or spaces)"
    try:
        network = ipaddress.ip_network(entry.removeprefix("[").removesuffix("]"), strict=False)
    except ValueError:
        named = _NO_PROXY_HOST.fullmatch(entry)
        if named and _HOST_NAME.fullmatch(named["host"]) and 0 < int(named["port"] or 1) < 65536:
            return None
        return "expected a host name, a .domain, an IP address or a CIDR range (one per item, no commas or spaces)"
    if network.prefixlen == 0:
        return f"{entry} is every address: it would send nothing through the proxy; leave proxy out instead"
    return None


def parse_proxy(p: Problems, raw: object, path: str) -> Proxy | None:
    """`hosts.<h>.proxy`: at least one of http and https; noProxy entries checked one by one."""
    values = read_section(p, raw, path, keys.PROXY)
    if values is None:
        return None
    valid = True
    for key, field in (("http", "http"), ("https", "https")):
        if field in values and (problem := _proxy_url_problem(values[field])) is not None:
            p.add(f"{path}.{key}", problem)
            valid = False
    written = raw if isinstance(raw, dict) else {}
    if "http" not in written and "https" not in written:
        p.add(path, "expected http and/or https (proxy URLs); noProxy alone proxies nothing")
        valid = False
    no_proxy = values.get("no_proxy", ())
    if len(no_proxy) > MAX_NO_PROXY:
        p.add(f"{path}.noProxy", f"at most {MAX_NO_PROXY} entries")
        valid = False
    for i, entry in enumerate(no_proxy[:MAX_NO_PROXY]):
        if (problem := _no_proxy_problem(entry)) is not None:
            p.add(f"{path}.noProxy[{i}]", problem)
            valid = False
    return Proxy(**values) if valid else None
