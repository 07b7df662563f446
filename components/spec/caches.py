"""Read `cache` and `runners.<r>.cache`: the distributed cache (components/domain/cache.py), credentials by reference.

The keys are in `keys.CACHE`, `CACHE_S3`, `CACHE_GCS`, `CACHE_AZURE`. A credential is `{secret: <configKey>}`,
never a value: plain text is refused without being repeated. `{}` means no distributed cache (for a runner: not
even the fleet's). Whether each referenced key is set, and set as a secret, is checked with the fleet's other
secret references (fleet_checks.referenced_secrets).
"""

from __future__ import annotations

from components.domain.cache import CREDENTIALS as CREDENTIAL_FIELDS
from components.domain.cache import AzureCache, CacheSpec, CacheType, GcsCache, S3Authentication, S3Cache
from components.spec import keys
from components.spec.problems import Problems
from components.spec.reader import read_section
from components.spec.site_keys import read_secret_ref

NO_CACHE = "none"


CREDENTIALS = {key: read_secret_ref for key, _ in CREDENTIAL_FIELDS.values()}


def _s3(p: Problems, raw: object, path: str) -> S3Cache | None:
    values = read_section(p, raw, path, keys.CACHE_S3, CREDENTIALS)
    if values is None or "bucket_name" not in values:
        return None
    written = raw if isinstance(raw, dict) else {}
    pair = ("accessKey" in written) + ("secretKey" in written)  # written, even if refused (said once, there)
    auth = values.setdefault("authentication_type", S3Authentication.ACCESS_KEY if pair else S3Authentication.IAM)
    if auth is S3Authentication.ACCESS_KEY and pair != 2:
        p.add(path, "authenticationType access-key needs accessKey and secretKey, each {secret: <configKey>}")
    elif auth is S3Authentication.IAM and pair:
        p.add(path, "authenticationType iam takes no accessKey or secretKey")
    return S3Cache(**values)


def _gcs(p: Problems, raw: object, path: str) -> GcsCache | None:
    values = read_section(p, raw, path, keys.CACHE_GCS, CREDENTIALS)
    if values is None or "bucket_name" not in values:
        return None
    if ("private_key" in values) != ("access_id" in values):
        p.add(path, "accessId and privateKey go together")
    if "credentials_file" in values and "private_key" in values:
        p.add(path, "set either credentialsFile or accessId/privateKey, not both")
    return GcsCache(**values)


def _azure(p: Problems, raw: object, path: str) -> AzureCache | None:
    values = read_section(p, raw, path, keys.CACHE_AZURE, CREDENTIALS)
    if values is None or "container_name" not in values or "account_name" not in values:
        return None
    return AzureCache(**values)


def parse_cache(p: Problems, raw: object, path: str) -> CacheSpec | str | None:
    """A CacheSpec; NO_CACHE for `{}`; None when it is invalid (with problems)."""
    if raw == {}:
        return NO_CACHE
    values = read_section(p, raw, path, keys.CACHE, {"s3": _s3, "gcs": _gcs, "azure": _azure})
    if values is None or "type" not in values:
        return None
    kind: CacheType = values["type"]
    for other in CacheType:
        if other is not kind and other.value in values:
            p.add(f"{path}.{other.value}", f"a {kind.value} cache has no {other.value} section")
    if kind.value not in values:
        if isinstance(raw, dict) and kind.value not in raw:
            p.add(f"{path}.{kind.value}", f"is required for type {kind.value}")
        return None
    return CacheSpec(**values)


def secret_refs(cache: CacheSpec, path: str) -> list[tuple[str, str]]:
    """(key path, config key) of every credential the cache names."""
    return [(f"{path}.{cache.type.value}.{key}", ref) for key, ref in cache.credentials]
