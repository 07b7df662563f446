"""`hosts.<h>.kubernetes.tolerations`: which taints job pods tolerate, never more than the stack names.

The stack writes gitlab-runner's `node_tolerations` table, `"key=value": effect` or `"key": effect`, and
gitlab-runner v19.3.0 (common/config.go GetNodeTolerations) turns each entry into a toleration: with '=' the
operator is Equal, the key is what stands before the first '=' and the value what stands after it up to the next
'=' (anything after a second '=' is dropped); without '=' the operator is Exists and the whole text is the key.
A toleration with an empty key and operator Exists matches every taint (Kubernetes API, Toleration.key); an
empty key with Equal is refused by the API server. So the text before '=' must be a taint key (a qualified name,
as `kubectl taint` writes it), the text after it a label value, and the effect one of the three.

A catch-all toleration has no opt-in: it would put jobs, BuildKit's unconfined build containers included, on
every node, control-plane and cordoned nodes too, and the admission guard runner-fleet installs for job pods
refuses such pods anyway (components/render/admission.py). Naming each taint key always works. Taints the
cluster sets itself (the kubernetes.io and k8s.io domains: node-role.kubernetes.io/control-plane,
node.kubernetes.io/unschedulable, not-ready, ...) are refused for the same reason.
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
"""

from __future__ import annotations

import re

from components.spec.problems import Problems

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TAINT_KEY = re.compile(r"([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?")
TAINT_VALUE = re.compile(r"([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?")
CLUSTER_DOMAINS = ("kubernetes.io", "k8s.io")
CATCH_ALL = (
    "a toleration with an empty key matches every taint: job pods would run on every node, control-plane and "
    "cordoned ones included, and runner-fleet's admission guard refuses such pods; name the taint's key "
    "('dedicated=ci-builds': NoSchedule)"
)


def _key_problem(key: str) -> str | None:
    if not key.strip() or key.strip() == "*":
        return CATCH_ALL
    if not TAINT_KEY.fullmatch(key):
        return (
            f"expected 'key=value' or 'key' with a taint key ([prefix/]name, as `kubectl taint` writes it) before "
            f"'=', found {key!r}; '*' is no wildcard in Kubernetes"
        )
    # A key without a prefix that spells a cluster domain (`kubernetes.io`) is refused too: nothing but a typo
    # of a cluster taint looks like that.
    domain = key.rpartition("/")[0] or key
    if any(domain == d or domain.endswith(f".{d}") for d in CLUSTER_DOMAINS):
        return (
            f"{domain}/ taints are set by the cluster itself (control plane, cordoned, not-ready or unreachable "
            "nodes): tolerating them puts jobs where the cluster keeps workloads away"
        )
    return None


def toleration_problem(entry: str, effect: str) -> str | None:
    """What is wrong with one `"key[=value]": effect` entry, or None."""
    key, equals, rest = entry.partition("=")
    if (problem := _key_problem(key)) is not None:
        return problem
    if equals and "=" in rest:
        return "expected one '=' at most: gitlab-runner drops everything after a second '='"
    if equals and not TAINT_VALUE.fullmatch(rest):
        return "expected a taint value after '=' (at most 63 letters, digits, '-', '_', '.')"
    if effect not in EFFECTS:
        shown = effect if isinstance(effect, str) and len(effect) <= 40 else "another value"
        return f"expected one of {', '.join(EFFECTS)} as the effect, found {shown!r}"
    return None


def check(p: Problems, path: str, entries: tuple[tuple[str, str], ...]) -> bool:
    """Each toleration of `path` (…kubernetes.tolerations); True when all are fine."""
    valid = True
    for key, effect in entries:
        if (problem := toleration_problem(key, effect)) is not None:
            shown = key if TAINT_KEY.fullmatch(key.partition("=")[0]) else repr(key)
            p.add(f"{path}.{shown}", problem)
            valid = False
    return valid
