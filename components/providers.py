"""Explicit providers, one per place the fleet reaches: GitLab, each Docker engine, each cluster.

Built once by `RunnerFleet` and passed to the components (`opts.providers`), never created deep inside.
Explicit providers do not read `gitlab:*`/`docker:*` stack config on their own, so the values come from
`spec.load()`. Secret material (tokens, TLS keys, kubeconfig contents) is passed as secret Outputs.

The environment of the machine running `pulumi up` never chooses or alters a host: every Docker and Kubernetes
provider setting that the SDK or the provider would otherwise fill from an environment variable is given
explicitly, empty when unused (an explicit empty value is "set" for the bridge and the provider, so their
environment defaults are not consulted). `AMBIENT` below lists those variables; the plan command and doctor warn
when one is set.
Docs: https://www.pulumi.com/registry/packages/gitlab/api-docs/provider/ ,
https://www.pulumi.com/registry/packages/docker/api-docs/provider/ ,
https://www.pulumi.com/registry/packages/kubernetes/api-docs/provider/
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker
import pulumi_gitlab as gitlab
import pulumi_kubernetes as kubernetes

from components.domain import naming
from components.domain.targets import DockerTarget, KubernetesTarget
from components.secrets import secret
from components.spec import GitlabConnection


def gitlab_provider(name: str, conn: GitlabConnection, opts: pulumi.ResourceOptions) -> gitlab.Provider:
    return gitlab.Provider(
        name,
        base_url=conn.base_url,
        token=conn.token,
        insecure=conn.insecure,
        cacert_file=conn.cacert_file,
        retries=conn.retries,
        early_auth_check=conn.early_auth_check,
        opts=opts,
    )


def docker_provider(
    host_key: str, target: DockerTarget, secrets: Mapping[str, pulumi.Output[str]], opts: pulumi.ResourceOptions
) -> docker.Provider:
    tls = target.tls
    return docker.Provider(
        naming.docker_provider(host_key),
        host=target.url,
        # Unset, DOCKER_CONTEXT would name a context whose endpoint replaces `host` (terraform-provider-docker
        # v4.5.0 internal/provider/provider.go `configure`); "" means no context.
        context="",
        # Unset (or None), these default from DOCKER_SSH_OPTS, DOCKER_CERT_PATH and DOCKER_{CA,CERT,KEY}_MATERIAL,
        # which switch an ssh:// host to TLS or a tcp:// host to other certificates.
        ssh_opts=list(target.ssh_opts),
        cert_path=target.cert_path or "",
        ca_material=secret(secrets[tls.ca]) if tls else "",
        cert_material=secret(secrets[tls.cert]) if tls else "",
        key_material=secret(secrets[tls.key]) if tls else "",
        opts=opts,
    )


def kubernetes_provider(
    host_key: str, target: KubernetesTarget, secrets: Mapping[str, pulumi.Output[str]], opts: pulumi.ResourceOptions
) -> kubernetes.Provider:
    # Without a kubeconfig key the host uses the local kubeconfig: "" lets the provider load it as kubectl does
    # (client-go's rules, $KUBECONFIG included) instead of the SDK copying $KUBECONFIG's text into the inputs.
    kubeconfig = secret(secrets[target.kubeconfig]) if target.kubeconfig else ""
    return kubernetes.Provider(
        naming.kubernetes_provider(host_key),
        context=target.context,
        kubeconfig=kubeconfig,
        # Objects this stack creates must not silently adopt (and later delete) someone else's.
        upsert_existing_objects=False,
        # The provider's own defaults, given so that no PULUMI_K8S_* variable changes them: forgetting objects of
        # an unreachable cluster, force-taking fields, and updating the config Secret in place (the Deployment
        # rolls because the Secret is replaced) are not the fleet's to switch on from the environment.
        delete_unreachable=False,
        skip_update_unreachable=False,
        enable_server_side_apply=True,
        enable_patch_force=False,
        enable_config_map_mutable=False,
        enable_secret_mutable=False,
        opts=opts,
    )


AMBIENT: dict[str, str] = {
    "DOCKER_HOST": "would address Docker hosts of a provider without `host`",
    "DOCKER_CONTEXT": "would replace every Docker host's address with that context's endpoint",
    "DOCKER_SSH_OPTS": "would add ssh options to every ssh:// Docker host",
    "DOCKER_CERT_PATH": "would give every Docker host TLS certificates from that directory",
    "DOCKER_CA_MATERIAL": "would give every Docker host that TLS CA",
    "DOCKER_CERT_MATERIAL": "would give every Docker host that TLS client certificate",
    "DOCKER_KEY_MATERIAL": "would give every Docker host that TLS client key",
    "PULUMI_K8S_DELETE_UNREACHABLE": "would drop an unreachable cluster's objects from the state",
    "PULUMI_K8S_SKIP_UPDATE_UNREACHABLE": "would skip updates to an unreachable cluster",
    "PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY": "would switch server-side apply",
    "PULUMI_K8S_ENABLE_PATCH_FORCE": "would force-take fields other managers own",
    "PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE": "would update ConfigMaps in place instead of replacing them",
    "PULUMI_K8S_ENABLE_SECRET_MUTABLE": "would update the config Secret in place, so managers keep the old config",
    "PULUMI_K8S_UPSERT_EXISTING_OBJECTS": "would adopt existing objects of the same name",
}
"""Environment variables the Docker and Kubernetes providers (or their SDKs) read as defaults for a setting
runner-fleet gives explicitly, so they have no effect here; what each would have done otherwise. Sources:
terraform-provider-docker v4.5.0 `internal/provider/provider.go` (what pulumi-docker builds on), pulumi-docker
`provider/resources.go` (DOCKER_HOST) and pulumi-kubernetes `provider/pkg/provider/provider.go` `Configure`."""

HONOURED: dict[str, str] = {
    "KUBECONFIG": "Kubernetes hosts without `kubeconfig` read their clusters (and, without `context`, the current "
    "context) from the files it names",
    **{
        name: "tcp:// Docker engines and clusters are reached through that proxy (the providers' HTTP clients take "
        "proxies from the environment; no provider setting turns it off)"
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
    },
}
"""Environment variables that still decide something: the local kubeconfig is where a host without a `kubeconfig`
key is declared to find its cluster; the proxy variables route the providers' HTTP connections (with TLS, a proxy
sees only a tunnel; without, it sees the Docker API: the `tcp-without-tls` advisory)."""


def ambient_warnings(environ: Mapping[str, str]) -> list[str]:
    """One line per variable of `AMBIENT` (a warning) or `HONOURED` (a note) that is set (non-empty), naming it
    and its effect here; never its value (DOCKER_KEY_MATERIAL is a private key, DOCKER_HOST may name a user)."""
    ignored = [
        f"warning: {name} is set: runner-fleet gives every provider this setting explicitly, so it is ignored "
        f"(it {effect})"
        for name, effect in AMBIENT.items()
        if environ.get(name)
    ]
    return ignored + [f"note: {name} is set: {effect}" for name, effect in HONOURED.items() if environ.get(name)]
