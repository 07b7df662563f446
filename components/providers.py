"""Explicit providers, one per place the fleet reaches: GitLab, each Docker engine, each cluster.

Built once by `RunnerFleet` and passed to the components (`opts.providers`), never created deep inside.
Explicit providers do not read `gitlab:*`/`docker:*` stack config on their own, so the values come from
`spec.load()`. Secret material (tokens, TLS keys, kubeconfig contents) is passed as secret Outputs.
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

from components.secrets import secret
from components.spec import GitlabConnection
from components.targets import DockerTarget, KubernetesTarget


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
        f"docker-{host_key}",
        host=target.url,
        ssh_opts=list(target.ssh_opts) or None,
        cert_path=target.cert_path,
        ca_material=secret(secrets[tls.ca]) if tls else None,
        cert_material=secret(secrets[tls.cert]) if tls else None,
        key_material=secret(secrets[tls.key]) if tls else None,
        opts=opts,
    )


def kubernetes_provider(
    host_key: str, target: KubernetesTarget, secrets: Mapping[str, pulumi.Output[str]], opts: pulumi.ResourceOptions
) -> kubernetes.Provider:
    kubeconfig = secret(secrets[target.kubeconfig]) if target.kubeconfig else None
    return kubernetes.Provider(
        f"k8s-{host_key}",
        context=target.context,
        kubeconfig=kubeconfig,
        # Objects this stack creates must not silently adopt (and later delete) someone else's.
        upsert_existing_objects=False,
        opts=opts,
    )
