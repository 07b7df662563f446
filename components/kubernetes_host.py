"""KubernetesRunnerHost: one gitlab-runner manager Deployment on a cluster, with the kubernetes executor.

Declares, through the host's `kubernetes.Provider` (passed in), the objects `render/manifests.py` describes:
the manager Namespace (Pod Security `restricted`), the job Namespace (`privileged` only when a BuildKit
runner builds there, else `baseline`) and its admission guard (render/admission.py, clusters >= 1.30),
ServiceAccount, Role + RoleBinding with the executor's documented
rules, a Secret with config.toml, the Deployment and the metrics Service. The Deployment's pod template
carries a checksum of config.toml, so any config change (token, runner, limit) rolls the manager: the new
pod starts first, the old one drains (SIGTERM rewritten to SIGQUIT) within the grace period.
With `kubernetes.replicas` >= 2: one Deployment per manager (each its own GitLab system id, all loading the
same config.toml), never two on one node, and a PodDisruptionBudget that lets evictions take one at a time.
One Deployment per identity rather than a StatefulSet: a StatefulSet rolls delete-first (no surge), so each
step would take a manager out for its whole drain, and its per-ordinal identity would need a start script.
Which objects exist never depends on a secret: only the Secret's data and the checksum come from the tokens.
https://docs.gitlab.com/runner/executors/kubernetes/ , https://www.pulumi.com/registry/packages/kubernetes/
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.domain import naming
from components.domain.lifecycle import manager_timeouts
from components.domain.model import ManagerSpec
from components.domain.targets import KubernetesTarget
from components.render import admission, config_toml, manifests, monitoring
from components.secrets import ca_bundle, rendered_config, secret


@dataclass(frozen=True)
class KubernetesRunnerHostArgs:
    """What one Kubernetes host's manager is made from."""

    manager: ManagerSpec
    """The host's view of the fleet: its settings, its runners, its drain period."""
    target: KubernetesTarget
    """The host's cluster namespace (the manager's `host.target`, typed)."""
    tokens: Mapping[str, pulumi.Output[str]]
    """Runner key -> glrt- token (secret), for every runner on the host."""
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """Secret config values by key; the host takes those its config.toml holds (cache credentials)."""

    def __post_init__(self) -> None:
        # `target` is there so that mypy knows the executor; it must be the manager's own.
        if self.target is not self.manager.host.target:
            raise ValueError(f"target of host {self.manager.host.key!r} is not the manager's host target")


def _deployment_spec(manager: ManagerSpec, replica: manifests.Replica, checksum: str) -> dict[str, Any]:
    return manifests.deployment_spec(manager, checksum, replica)


def _drain_timeouts(manager: ManagerSpec) -> pulumi.CustomTimeouts:
    """Timeouts of what waits for the manager's pod to drain when deleted (components/domain/lifecycle.py)."""
    return pulumi.CustomTimeouts(**dataclasses.asdict(manager_timeouts(manager.drain_seconds)))


class KubernetesRunnerHost(pulumi.ComponentResource):
    manager_name: pulumi.Output[str]

    def __init__(self, name: str, args: KubernetesRunnerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("runner-fleet:kubernetes_host:KubernetesRunnerHost", name, None, opts)
        manager, target = args.manager, args.target
        config = secret(rendered_config(manager, args.tokens, args.secrets))
        ca = ca_bundle(manager, args.secrets)
        files = pulumi.Output.all(config, ca)
        # A digest of the text is not the text: keep it plain so the pod template stays reviewable.
        checksum = pulumi.Output.unsecret(files.apply(lambda f: config_toml.checksum(f[0], f[1])))
        # Typed as Any: the SDK wants its own Args types; these plain dicts are what it serialises them to.
        secret_metadata: Any = manifests.config_secret_metadata(manager, target)
        identity: str | dict[str, str] = manifests.identities(manager)
        if len(identity) == 1:
            identity = manifests.system_id(manager)  # one manager: the Secret as it was before replicas existed
        secret_data: pulumi.Output[Any] = secret(
            files.apply(lambda f: manifests.config_secret_data(f[0], f[1], identity))
        )

        namespaces = self._namespaces(name, manager, target)
        guard = self._admission(name, manager, target)
        # Everything else lives in those namespaces; the Deployment waits for its identity, RBAC and config.
        in_namespaces = pulumi.ResourceOptions(parent=self, depends_on=namespaces)
        account = manifests.service_account(manager, target)
        role = manifests.role(manager, target)
        binding = manifests.role_binding(manager, target)
        service = manifests.metrics_service(manager, target)
        fence = manifests.metrics_network_policy(manager, target)
        ready: list[pulumi.Resource] = [
            *namespaces,
            *guard,
            k8s.core.v1.ServiceAccount(
                naming.child(name, naming.K8S_SERVICE_ACCOUNT),
                metadata=account["metadata"],
                automount_service_account_token=account["automountServiceAccountToken"],
                opts=in_namespaces,
            ),
            k8s.rbac.v1.Role(
                naming.child(name, naming.K8S_ROLE), metadata=role["metadata"], rules=role["rules"], opts=in_namespaces
            ),
            k8s.rbac.v1.RoleBinding(
                naming.child(name, naming.K8S_ROLE_BINDING),
                metadata=binding["metadata"],
                role_ref=binding["roleRef"],
                subjects=binding["subjects"],
                opts=in_namespaces,
            ),
            k8s.core.v1.Secret(
                naming.child(name, naming.K8S_CONFIG),
                metadata=secret_metadata,
                type=manifests.SECRET_TYPE,
                string_data=secret_data,
                opts=in_namespaces,
            ),
            *self._job_ca(name, manager, target, ca, in_namespaces),
            # The metrics and debug listener is fenced off before the manager (and so any job) starts.
            k8s.networking.v1.NetworkPolicy(
                naming.child(name, naming.K8S_METRICS_POLICY),
                metadata=fence["metadata"],
                spec=fence["spec"],
                opts=in_namespaces,
            ),
        ]
        deployments = self._managers(name, manager, target, checksum, ready)
        budget = manifests.disruption_budget(manager, target)
        if budget is not None:
            # After the managers: a budget over pods that do not exist yet would only report them missing.
            k8s.policy.v1.PodDisruptionBudget(
                naming.child(name, naming.K8S_DISRUPTION_BUDGET),
                metadata=budget["metadata"],
                spec=budget["spec"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=deployments),
            )
        k8s.core.v1.Service(
            naming.child(name, naming.K8S_METRICS),
            metadata=service["metadata"],
            spec=service["spec"],
            opts=in_namespaces,
        )
        if target.monitoring is not None:
            # The Prometheus Operator's kinds: the cluster must have its CRDs (kube-prometheus-stack installs them).
            for suffix, obj in (
                (naming.K8S_SERVICE_MONITOR, monitoring.service_monitor(manager, target)),
                (naming.K8S_ALERT_RULES, monitoring.prometheus_rule(manager, target)),
            ):
                k8s.apiextensions.CustomResource(
                    naming.child(name, suffix),
                    api_version=obj["apiVersion"],
                    kind=obj["kind"],
                    metadata=obj["metadata"],
                    spec=obj["spec"],
                    opts=in_namespaces,
                )
        self.manager_name = pulumi.Output.from_input(manifests.object_name(manager.host.key))
        self.register_outputs({"managerName": self.manager_name})

    def _managers(
        self,
        name: str,
        manager: ManagerSpec,
        target: KubernetesTarget,
        checksum: pulumi.Output[str],
        ready: list[pulumi.Resource],
    ) -> list[pulumi.Resource]:
        """One Deployment per manager (manifests.replicas). They depend on nothing of each other, so one
        `pulumi up` rolls them side by side, each starting its successor before its old pod drains."""
        declared: list[pulumi.Resource] = []
        for replica in manifests.replicas(manager):
            metadata: Any = manifests.deployment_metadata(manager, target, replica)
            spec: pulumi.Output[Any] = checksum.apply(functools.partial(_deployment_spec, manager, replica))
            # Deleting the Deployment (foreground) waits for its pod, whose grace period is the drain.
            declared.append(
                k8s.apps.v1.Deployment(
                    naming.child(name, naming.k8s_manager(replica.index)),
                    metadata=metadata,
                    spec=spec,
                    opts=pulumi.ResourceOptions(
                        parent=self, depends_on=ready, custom_timeouts=_drain_timeouts(manager)
                    ),
                )
            )
        return declared

    def _job_ca(
        self,
        name: str,
        manager: ManagerSpec,
        target: KubernetesTarget,
        ca: pulumi.Output[str] | None,
        opts: pulumi.ResourceOptions,
    ) -> list[pulumi.Resource]:
        """The job namespace's Secret holding the GitLab CA alone (job pods mount it); none without a CA."""
        if ca is None:
            return []
        data: pulumi.Output[Any] = ca.apply(manifests.ca_secret_data)
        metadata: Any = manifests.ca_secret_metadata(manager, target)
        return [
            k8s.core.v1.Secret(
                naming.child(name, naming.K8S_JOB_CA),
                metadata=metadata,
                type=manifests.SECRET_TYPE,
                string_data=data,
                opts=opts,
            )
        ]

    def _admission(self, name: str, manager: ManagerSpec, target: KubernetesTarget) -> list[pulumi.Resource]:
        """The job namespace's admission guard (render/admission.py); the manager starts only once it is bound.
        None on clusters older than 1.30 (`appArmorAnnotationFallback`)."""
        if not admission.applies(target):
            return []
        labels = manifests.labels(manager)
        policy = admission.policy(manager, target, labels)
        binding = admission.binding(target, labels)
        declared = k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            naming.child(name, naming.K8S_ADMISSION),
            metadata=policy["metadata"],
            spec=policy["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        bound = k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            naming.child(name, naming.K8S_ADMISSION_BINDING),
            metadata=binding["metadata"],
            spec=binding["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[declared]),
        )
        return [declared, bound]

    def _namespaces(self, name: str, manager: ManagerSpec, target: KubernetesTarget) -> list[pulumi.Resource]:
        """The manager's namespace and the job namespace; they depend on nothing."""
        # Deleting a namespace waits for every pod in it: the manager's, and jobs that drain with it.
        first = pulumi.ResourceOptions(parent=self, custom_timeouts=_drain_timeouts(manager))
        return [
            k8s.core.v1.Namespace(
                naming.child(name, naming.K8S_NAMESPACE),
                metadata=manifests.manager_namespace(manager, target)["metadata"],
                opts=first,
            ),
            k8s.core.v1.Namespace(
                naming.child(name, naming.K8S_JOB_NAMESPACE),
                metadata=manifests.job_namespace(manager, target)["metadata"],
                opts=first,
            ),
        ]
