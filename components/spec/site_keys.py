"""Read the company-network keys: `gitlabCaBundle`, `registryMirror`, `hosts.<h>.proxy`, and secret references.

Each is a positive model. A CA bundle is PEM certificates and nothing else (a private key pasted there is named
and refused, never repeated), or `{secret: <configKey>}`; never a file path (it is delivered with the config,
not read from a host). A mirror is a registry host with an optional path (`images.mirror_problem`). A proxy is
an http(s)://host[:port] URL without credentials (they would reach every job's environment), and `noProxy`
lists host names, `.domains`, IP addresses and CIDR ranges. The keys are in `keys.PROXY` and the top level.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from urllib.parse import urlsplit

from components.site import CaBundle, Proxy
from components.spec import keys
from components.spec.problems import Problems, describe
from components.spec.reader import read_section

MAX_CA_BUNDLE = 256 * 1024
"""Characters of PEM a CA bundle may have (a Kubernetes Secret holds at most 1 MiB, config.toml included)."""
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n([A-Za-z0-9+/=\r\n]{1,65536}?)-----END \1-----")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
PROXY_SCHEMES = ("http", "https")
_NO_PROXY_HOST = re.compile(r"\.?(?P<host>[^:]{1,253})(?::(?P<port>[0-9]{1,5}))?")
MAX_NO_PROXY = 100


def read_secret_ref(p: Problems, raw: object, path: str, what: str = "a credential") -> str | None:
    """`{secret: <configKey>}` -> the config key; plain text is refused without being repeated."""
    if isinstance(raw, dict) and set(raw) == {"secret"} and isinstance(raw["secret"], str) and raw["secret"].strip():
        return str(raw["secret"]).strip()
    if isinstance(raw, str):
        p.add(path, f"{what} in plain text is refused; write {{secret: <configKey>}} and set that key as a secret")
    else:
        p.add(path, f"expected {{secret: <configKey>}}, found {describe(raw)}")
    return None


def _certificates_problem(text: str) -> str | None:
    """Why `text` is not a bundle of PEM certificates, or None."""
    blocks = list(_PEM_BLOCK.finditer(text))
    if any(m.group(1) != "CERTIFICATE" for m in blocks) or "PRIVATE KEY" in text:
        return "holds something other than certificates (a private key?): a CA bundle is public certificates only"
    if not blocks or _PEM_BLOCK.sub("", text).strip():
        return (
            "expected PEM certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----) and nothing "
            "else, or {secret: <configKey>}; a file path is not read (the CA travels with the config)"
        )
    for i, block in enumerate(blocks):
        try:
            der = base64.b64decode("".join(block.group(2).split()), validate=True)
        except binascii.Error:
            return f"certificate {i + 1} is not valid base64"
        if not der.startswith(b"\x30"):
            return f"certificate {i + 1} is not a DER certificate"
    return None


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
    problem = _certificates_problem(raw)
    if problem is not None:
        p.add(path, problem)
        return None
    return CaBundle(pem=raw.strip() + "\n")


def _proxy_url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        return "expected http://host[:port] or https://host[:port]"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return (
            "a proxy URL with credentials is refused: it would reach every job's environment in plain text; "
            "let the proxy admit the hosts by network"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or port == 0:
        return "a proxy URL is scheme://host[:port] only (no path, query or fragment; port 1-65535)"
    return None


def _no_proxy_problem(entry: str) -> str | None:
    if entry == "*":
        return "'*' would send nothing through the proxy; leave proxy out instead"
    try:
        ipaddress.ip_network(entry.strip("[]"), strict=False)
        return None
    except ValueError:
        pass
    named = _NO_PROXY_HOST.fullmatch(entry)
    if named and _HOST_NAME.fullmatch(named["host"]) and 0 < int(named["port"] or 1) < 65536:
        return None
    return "expected a host name, a .domain, an IP address or a CIDR range (one per item, no commas or spaces)"


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
    if "http" not in values and "https" not in values:
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
