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
    def secret_keys(self) -> tuple[str, ...]:
        """The secret config keys its credentials come from."""
        refs = (
            (self.s3.access_key, self.s3.secret_key) if self.s3 else (),
            (self.gcs.private_key,) if self.gcs else (),
            (self.azure.account_key,) if self.azure else (),
        )
        return tuple(key for group in refs for key in group if key is not None)


def _present(table: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if v is not None}


def table(cache: CacheSpec, secrets: Mapping[str, str]) -> dict[str, Any]:
    """The `[runners.cache]` table; credential fields take their value from `secrets` (config key -> value)."""
    out: dict[str, Any] = _present({"Type": cache.type.value, "Path": cache.path, "Shared": cache.shared})
    if cache.s3 is not None:
        s3 = cache.s3
        out["s3"] = _present(
            {
                "ServerAddress": s3.server_address,
                "BucketName": s3.bucket_name,
                "BucketLocation": s3.bucket_location,
                "Insecure": s3.insecure,
                "AuthenticationType": s3.authentication_type.value,
                "AccessKey": secrets[s3.access_key] if s3.access_key else None,
                "SecretKey": secrets[s3.secret_key] if s3.secret_key else None,
            }
        )
    if cache.gcs is not None:
        gcs = cache.gcs
        out["gcs"] = _present(
            {
                "BucketName": gcs.bucket_name,
                "CredentialsFile": gcs.credentials_file,
                "AccessID": gcs.access_id,
                "PrivateKey": secrets[gcs.private_key] if gcs.private_key else None,
            }
        )
    if cache.azure is not None:
        azure = cache.azure
        out["azure"] = _present(
            {
                "AccountName": azure.account_name,
                "ContainerName": azure.container_name,
                "StorageDomain": azure.storage_domain,
                "AccountKey": secrets[azure.account_key] if azure.account_key else None,
            }
        )
    return out
