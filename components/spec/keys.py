"""Every key of the stack file, as data: its name, type, bound, message, the model field it fills, and a doc line.

One table per section (top level, host, docker, tls, kubernetes, runner, variable). `reader.read_section` reads
a section by its table; the section parsers (`hosts.py`, `runners.py`, `variables.py`, `parse.py`) only add the
rules that tie keys together. Defaults are not here: they are the model's field defaults (`components/domain/model.py`),
so a key that is absent simply leaves its field out. `Pulumi.yaml`'s config declarations and the README's key
reference are generated from, or tested against, these tables (`docs.py`).
"""

from __future__ import annotations

from components.domain.cache import CacheType, S3Authentication
from components.domain.model import LogFormat, LogLevel, PullPolicy, ScopeKind, Tier, VariableType
from components.spec.autoscaler_keys import AUTOSCALER
from components.spec.kinds import (
    Choice,
    Flag,
    Nested,
    Ref,
    Refused,
    Text,
    TextMap,
    Texts,
    Verbatim,
    Whole,
)
from components.spec.sections import SECRET_REF, Key, OneOf, Section

MIN_MAXIMUM_TIMEOUT = 600
"""Seconds: GitLab refuses a runner `maximum_timeout` below 10 minutes."""

ROTATION_MAX_DAYS = 3650
"""The longest token rotation period, in days."""

MAX_REPLICAS = 10
"""The most manager replicas of one Kubernetes host: each is a manager that polls GitLab for jobs."""

MAX_DEPTH = 32
"""Maps and lists nested deeper than this are refused; no stack key needs more than a handful of levels."""


TLS = Section(
    keys=(
        Key("ca", Text(), "secret config key holding the CA certificate (PEM)", field="ca", required="is required"),
        Key("cert", Text(), "secret config key holding the client certificate (PEM)", "cert", "is required"),
        Key("key", Text(), "secret config key holding the client key (PEM)", "key", "is required"),
    ),
    expected="a map of ca/cert/key secret config key names",
)

DOCKER = Section(
    keys=(
        Key(
            "host", Text(), "the Docker engine: ssh://user@h[:port], tcp://h:port or unix:///path", "url", "is required"
        ),
        Key("sshOpts", Texts(), "extra options for the local ssh client", "ssh_opts"),
        Key("certPath", Text(), "directory with ca.pem, cert.pem and key.pem (tcp:// only)", "cert_path"),
        Key("tls", Nested(TLS), "TLS material from secret config keys (tcp:// only)", "tls"),
        Key(
            "metricsPort",
            Refused(
                "no longer taken: a manager's successor starts before the old one drains, so Docker picks each "
                "manager's loopback port (127.0.0.1 only); remove this key and scrape with Prometheus "
                "docker_sd_configs filtered on the label runner-fleet.io/role=manager, or find the port with "
                "`docker port <manager container>`"
            ),
            "refused: Docker picks the manager's 127.0.0.1 port (find it with `docker port`)",
        ),
    ),
    expected="a map with 'host' (ssh://, tcp:// or unix:// URL)",
)

MONITORING = Section(
    keys=(
        Key("namespace", Text(), "where Prometheus runs (may reach the metrics port)", "namespace", "is required"),
        Key(
            "serviceMonitorLabels",
            TextMap(),
            "labels the Prometheus resource selects ServiceMonitors and rules by",
            "service_monitor_labels",
        ),
    ),
    expected="a map with 'namespace' (and serviceMonitorLabels)",
)

KUBERNETES = Section(
    keys=(
        Key("context", Text(), "kubeconfig context of the cluster", "context"),
        Key(
            "namespace",
            Text(),
            "the manager's namespace (created, Pod Security restricted)",
            "namespace",
            "is required",
        ),
        Key("jobNamespace", Text(), "where job pods run; default <namespace>-jobs", "job_namespace"),
        Key("kubeconfig", Text(), "secret config key holding kubeconfig contents", "kubeconfig"),
        Key("nodeSelector", TextMap(), "job pods' node selector", "node_selector"),
        Key("tolerations", TextMap(), "job pods' tolerations: 'key=value' -> effect", "tolerations"),
        Key("appArmorAnnotationFallback", Flag(), "clusters < 1.30: AppArmor by annotation", "apparmor_fallback"),
        Key("metricsFrom", Texts(), "namespaces whose pods may scrape the manager's metrics", "metrics_from"),
        Key("monitoring", Nested(MONITORING), "a ServiceMonitor and alert rules for Prometheus", "monitoring"),
        Key(
            "replicas",
            Whole(
                1,
                " (1 is one manager, as without the key)",
                maximum=MAX_REPLICAS,
                why_maximum=" (each replica is a manager polling GitLab; add hosts instead)",
            ),
            "managers of this host, each its own GitLab manager on its own node; each runs up to `concurrent` jobs",
            "replicas",
        ),
    ),
    expected="a map with 'namespace' (and optional context, jobNamespace)",
)

PROXY = Section(
    keys=(
        Key("http", Text(), "proxy URL for http:// (http://host:port, no credentials)", "http"),
        Key("https", Text(), "proxy URL for https:// (http://host:port, no credentials)", "https"),
        Key("noProxy", Texts(), "hosts, .domains, IPs and CIDR ranges reached directly", "no_proxy"),
    ),
    expected="a map with http and/or https proxy URLs (and optional noProxy)",
)

HOST = Section(
    keys=(
        Key("docker", Nested(DOCKER), "the manager runs as a container on this Docker engine", "target"),
        Key("kubernetes", Nested(KUBERNETES), "the manager runs as a Deployment in this namespace", "target"),
        Key("concurrent", Whole(1, " (0 makes gitlab-runner exit)"), "the manager's global job limit", "concurrent"),
        Key("checkInterval", Whole(1), "seconds between the manager's job requests", "check_interval"),
        Key("shutdownTimeout", Whole(1), "seconds gitlab-runner waits for a forced shutdown", "shutdown_timeout"),
        Key("logFormat", Choice(LogFormat), "gitlab-runner's log format", "log_format"),
        Key("logLevel", Choice(LogLevel), "gitlab-runner's log level", "log_level"),
        Key("runnerImage", Text(), "the manager's image", "runner_image"),
        Key("proxy", Nested(PROXY), "outbound proxy of the manager and its jobs", "proxy"),
    ),
    expected="a map with 'docker' or 'kubernetes'",
    one_of=(
        OneOf(
            ("docker", "kubernetes"),
            "expected exactly one of 'docker' or 'kubernetes' (where this host's manager runs)",
            field="executor",
        ),
    ),
)

SCOPE = OneOf(
    tuple(kind.value for kind in ScopeKind),
    "expected exactly one of {instance: true}, {group: <path or id>}, {project: <path or id>}",
    field="kind",
)
"""A runner's scope: a map with exactly one of these keys (instance: true, or a group or project path or id)."""

CACHE_S3 = Section(
    keys=(
        Key("bucketName", Text(), "the bucket", "bucket_name", "is required"),
        Key("serverAddress", Text(), "endpoint host[:port]; unset: AWS S3", "server_address"),
        Key("bucketLocation", Text(), "the bucket's region", "bucket_location"),
        Key("authenticationType", Choice(S3Authentication), "iam (default) or access-key", "authentication_type"),
        Key("insecure", Flag(), "plain HTTP to the endpoint", "insecure"),
        Key("accessKey", Nested(), SECRET_REF, "access_key"),
        Key("secretKey", Nested(), SECRET_REF, "secret_key"),
    ),
    expected="a map with 'bucketName'",
)
CACHE_GCS = Section(
    keys=(
        Key("bucketName", Text(), "the bucket", "bucket_name", "is required"),
        Key("credentialsFile", Text(), "service account key file in the manager", "credentials_file"),
        Key("accessId", Text(), "the service account's e-mail (with privateKey)", "access_id"),
        Key("privateKey", Nested(), SECRET_REF, "private_key"),
    ),
    expected="a map with 'bucketName'",
)
CACHE_AZURE = Section(
    keys=(
        Key("containerName", Text(), "the blob container", "container_name", "is required"),
        Key("accountName", Text(), "the storage account", "account_name", "is required"),
        Key("storageDomain", Text(), "the storage domain", "storage_domain"),
        Key("accountKey", Nested(), SECRET_REF, "account_key"),
    ),
    expected="a map with 'containerName' and 'accountName'",
)
CACHE = Section(
    keys=(
        Key("type", Choice(CacheType), "the backend", "type", "is required"),
        Key("shared", Flag(), "runners share cache entries", "shared"),
        Key("path", Text(), "a prefix inside the bucket", "path"),
        Key("s3", Nested(CACHE_S3), "the S3 backend (type s3)", "s3"),
        Key("gcs", Nested(CACHE_GCS), "the GCS backend (type gcs)", "gcs"),
        Key("azure", Nested(CACHE_AZURE), "the Azure backend (type azure)", "azure"),
    ),
    expected="a map with 'type' and its backend's section (or {} for none)",
)

HOST_DIRECTORY = Section(
    keys=(
        Key(
            "hostPath",
            Text(),
            "absolute directory on the Docker host (never a system path)",
            "host_path",
            "is required",
        ),
        Key("mountPath", Text(), "where the job container sees it", "mount_path", "is required"),
        Key("readOnly", Flag(), "mounted read-only", "read_only"),
    ),
    expected="a map with 'hostPath' and 'mountPath'",
)

RUNNER = Section(
    keys=(
        Key("host", Text(), "key of the host whose manager runs it", "host", "is required"),
        Key(
            "scope",
            Nested(),
            "{instance: true} | {group: path-or-id} | {project: path-or-id}",
            "scope",
            "is required: one of {instance: true}, {group: <path or id>}, {project: <path or id>}",
        ),
        Key("tags", Texts(), "job tags it takes", "tags"),
        Key("buildkit", Flag(), "rootless BuildKit profile", "buildkit"),
        Key("protectedOnly", Flag(), "takes jobs of protected branches and tags only", "protected_only"),
        Key("runUntagged", Flag(), "takes untagged jobs", "run_untagged"),
        Key("locked", Flag(), "locked to its project (project runners only)", "locked"),
        Key("paused", Flag(), "registered but takes no jobs", "paused"),
        Key(
            "maximumTimeout",
            Whole(MIN_MAXIMUM_TIMEOUT, " seconds (GitLab's minimum)"),
            "seconds a job may run at most; also sizes the manager's drain",
            "maximum_timeout",
        ),
        Key("limit", Whole(0), "concurrent jobs of this runner (0: no limit)", "limit"),
        Key("image", Text(), "default job image", "image"),
        Key("pullPolicy", Choice(PullPolicy), "image pull policy (also the only one jobs may ask for)", "pull_policy"),
        Key("allowedImages", Texts(), "image globs jobs may use", "allowed_images"),
        Key(
            "extraConfig",
            Verbatim("TOML text (a YAML block string)"),
            "TOML merged into the runner's [[runners]] entry",
            "extra_config",
        ),
        Key("cache", Nested(CACHE), "distributed cache; default: the fleet's `cache`; {} for none", "cache"),
        Key(
            "hostDirectories",
            Nested(HOST_DIRECTORY),
            "list of host directories jobs see (Docker, not BuildKit)",
            "host_directories",
        ),
        Key("registryAuth", Nested(), f"{SECRET_REF}: a Docker config.json for jobs' image pulls", "registry_auth"),
        Key("useHostProxy", Flag(), "its jobs get the host's proxy (default true)", "use_host_proxy"),
        Key(
            "autoscaler",
            Nested(AUTOSCALER),
            "docker-autoscaler: jobs on a cloud instance group (Docker hosts)",
            "autoscaler",
        ),
        Key(
            "tokenRotationDays",
            Whole(0, maximum=ROTATION_MAX_DAYS, why_maximum=" (ten years)"),
            "days between token rotations; default: the fleet's; 0: never",
            "token_rotation_days",
        ),
    ),
    expected="a map with at least 'host' and 'scope'",
)

VARIABLE = Section(
    keys=(
        Key("project", Ref(), "the project that owns it: numeric id or full path", "owner"),
        Key("group", Ref(), "the group that owns it: numeric id or full path", "owner"),
        Key("key", Text(), "the variable's name", "key", "is required"),
        Key("value", Verbatim("a string (quote numbers)"), "the plain value", "value"),
        Key("secret", Text(), "name of a secret config key holding the value", "secret"),
        Key("masked", Flag(), "masked in job logs", "masked"),
        Key("protected", Flag(), "only for protected branches and tags", "protected"),
        Key("environmentScope", Text(), "environments it applies to", "environment_scope"),
        Key("raw", Flag(), "no $VAR expansion", "raw"),
        Key("type", Choice(VariableType), "an environment variable or a file", "variable_type"),
        Key("hidden", Flag(), "masked and hidden (GitLab >= 17.4; a change recreates the variable)", "hidden"),
    ),
    expected="a map with project or group, key, and value or secret",
    one_of=(
        OneOf(("project", "group"), "expected exactly one of 'project' or 'group'", field="owner_kind"),
        OneOf(
            ("value", "secret"),
            "expected exactly one of 'value' (plain text) or 'secret' (name of a secret config key)",
            field="source",
        ),
    ),
)

TOP_LEVEL = Section(
    keys=(
        Key(
            "gitlabUrl",
            Text(),
            "URL of the GitLab instance the runners connect to, e.g. https://gitlab.example.com",
            "gitlab_url",
            "is required",
        ),
        Key(
            "hosts",
            Nested(HOST),
            "Where runner managers run: map host-key -> host",
            "hosts",
            "is required: a map of host-key -> host",
        ),
        Key(
            "runners",
            Nested(RUNNER),
            "GitLab runner registrations: map runner-key -> runner",
            "runners",
            "is required: a map of runner-key -> runner",
        ),
        Key("variables", Nested(VARIABLE), "CI/CD variables of projects and groups: a list", "variables"),
        Key("tier", Choice(Tier), "What the stack is for: one of GitLab's deployment tiers", "tier"),
        Key(
            "cache", Nested(CACHE), "The runners' distributed cache unless a runner sets its own; {} for none", "cache"
        ),
        Key(
            "gitlabCaBundle",
            Nested(),
            f"PEM certificates of the CA that signs GitLab, or {SECRET_REF}; trusted by managers and jobs",
            "gitlab_ca",
        ),
        Key(
            "registryMirror",
            Text(),
            "registry.example.com[/path] that serves every image runner-fleet chooses, under its upstream path",
            "registry_mirror",
        ),
        Key(
            "tokenRotationDays",
            Whole(0, maximum=ROTATION_MAX_DAYS, why_maximum=" (ten years)"),
            "Days between scheduled token rotations of every runner; 0 (default): off",
            "token_rotation_days",
        ),
        Key(
            "protect",
            Flag(),
            "Protect runner registrations and CI/CD variables against deletion; default: true for production",
            "protect",
        ),
    ),
    expected="the project's config keys",
)
