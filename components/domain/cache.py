"""The distributed cache a runner's jobs share (`cache`, `runners.<r>.cache`): model and config.toml table.

Part of the model (frozen, every default here), kept apart from `model.py` because it is a world of its own:
three backends, each with its own settings. Credentials are never values: each credential field holds the name
of a secret config key (`{secret: <configKey>}` in the stack file), and its value reaches config.toml only
inside the secret the manager's config is rendered into. IAM or workload identity needs no credential.
https://docs.gitlab.com/runner/configuration/advanced-configuration/#the-runnerscache-section
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class CacheType(enum.StrEnum):
    """The cache backends gitlab-runner supports (`[runners.cache] Type`)."""

    S3 = "s3"
    GCS = "gcs"
    AZURE = "azure"


class S3Authentication(enum.StrEnum):
    """How the manager authenticates to S3: the instance's IAM role, or an access key pair."""

    IAM = "iam"
    ACCESS_KEY = "access-key"


@dataclass(frozen=True)
class S3Cache:
    """`[runners.cache.s3]`."""

    bucket_name: str
    """The bucket."""
    server_address: str | None = None
    """The endpoint host[:port]; unset: AWS S3."""
    bucket_location: str | None = None
    """The bucket's region; unset by default."""
    authentication_type: S3Authentication = S3Authentication.IAM
    """IAM by default; access-key when accessKey and secretKey are given."""
    insecure: bool = False
    """Plain HTTP to the endpoint; off by default."""
    access_key: str | None = None
    """Secret config key holding the access key id."""
    secret_key: str | None = None
    """Secret config key holding the secret access key."""


@dataclass(frozen=True)
class GcsCache:
    """`[runners.cache.gcs]`."""

    bucket_name: str
    """The bucket."""
    credentials_file: str | None = None
    """Path of a service account key file in the manager; unset: workload identity."""
    access_id: str | None = None
    """The service account's e-mail, with privateKey; unset by default."""
    private_key: str | None = None
    """Secret config key holding the service account's private key."""


@dataclass(frozen=True)
class AzureCache:
    """`[runners.cache.azure]`."""

    container_name: str
    """The blob container."""
    account_name: str
    """The storage account."""
    storage_domain: str | None = None
    """The storage domain; unset: blob.core.windows.net."""
    account_key: str | None = None
    """Secret config key holding the account key; unset: workload identity."""


@dataclass(frozen=True)
class CacheSpec:
    """A runner's distributed cache."""

    type: CacheType
    """The backend; its section (`s3`, `gcs` or `azure`) is set, the others are not."""
    shared: bool = False
    """Whether runners share cache entries; off by default."""
    path: str | None = None
    """A prefix inside the bucket; unset by default."""
    s3: S3Cache | None = None
    """The S3 settings (type s3)."""
    gcs: GcsCache | None = None
    """The GCS settings (type gcs)."""
    azure: AzureCache | None = None
    """The Azure settings (type azure)."""

    @property
    def backend(self) -> S3Cache | GcsCache | AzureCache | None:
        """The settings of its backend."""
        return self.s3 or self.gcs or self.azure

    @property
    def credentials(self) -> tuple[tuple[str, str], ...]:
        """(stack key, secret config key) of every credential it names, e.g. ("accessKey", "cacheAccessKey")."""
        backend = self.backend
        named = ((key, getattr(backend, field, None)) for field, (key, _) in CREDENTIALS.items())
        return tuple((key, ref) for key, ref in named if ref is not None)

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The secret config keys its credentials come from."""
        return tuple(ref for _, ref in self.credentials)


def _present(table: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if v is not None}


CREDENTIALS = {
    "access_key": ("accessKey", "AccessKey"),
    "secret_key": ("secretKey", "SecretKey"),
    "private_key": ("privateKey", "PrivateKey"),
    "account_key": ("accountKey", "AccountKey"),
}
"""Credential fields of the backends: model field -> (stack key, config.toml key)."""
SETTINGS = {
    "server_address": "ServerAddress",
    "bucket_name": "BucketName",
    "bucket_location": "BucketLocation",
    "insecure": "Insecure",
    "authentication_type": "AuthenticationType",
    "credentials_file": "CredentialsFile",
    "access_id": "AccessID",
    "account_name": "AccountName",
    "container_name": "ContainerName",
    "storage_domain": "StorageDomain",
}
"""The other backend fields: model field -> config.toml key."""


def table(cache: CacheSpec, secrets: Mapping[str, str]) -> dict[str, Any]:
    """The `[runners.cache]` table; credential fields take their value from `secrets` (config key -> value)."""
    out: dict[str, Any] = _present({"Type": cache.type.value, "Path": cache.path, "Shared": cache.shared})
    backend = cache.backend
    if backend is not None:
        fields = {name: getattr(backend, name) for name in backend.__dataclass_fields__}
        section = {SETTINGS[name]: value for name, value in fields.items() if name in SETTINGS}
        section |= {CREDENTIALS[name][1]: secrets[ref] for name, ref in fields.items() if name in CREDENTIALS and ref}
        out[cache.type.value] = _present({k: v.value if isinstance(v, enum.Enum) else v for k, v in section.items()})
    return out
