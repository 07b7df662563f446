"""The key tables of `runners.<r>.autoscaler` (docker-autoscaler), apart from `keys.py` for length; read by
`autoscalers.py`. The config.toml keys they fill and their semantics: components/domain/autoscaler.py."""

from __future__ import annotations

from components.domain.autoscaler import InstanceArch, InstanceOs, Protocol
from components.spec.kinds import Choice, Duration, Flag, Nested, Number, Text, Texts, Whole
from components.spec.sections import SECRET_REF, Key, Section

AUTOSCALER_CONNECTOR = Section(
    keys=(
        Key("username", Text(), "the instance user the manager connects as (in the docker group)", "username"),
        Key("useExternalAddr", Flag(), "connect to the instance's external address", "use_external_addr"),
        Key("protocol", Choice(Protocol), "how the manager connects (ssh)", "protocol"),
        Key(
            "protocolPort", Whole(1, maximum=65535, why_maximum=" (a TCP port)"), "the protocol's port", "protocol_port"
        ),
        Key("os", Choice(InstanceOs), "the instances' operating system (linux)", "os"),
        Key("arch", Choice(InstanceArch), "the instances' architecture", "arch"),
        Key("timeout", Duration(1, 86400, " (a day)"), "how long a connection may take, e.g. 10m", "timeout"),
        Key("keepalive", Duration(1, 3600, " (an hour)"), "time between keepalives, e.g. 30s", "keepalive"),
        Key(
            "useStaticCredentials",
            Flag(),
            "connect with username and password, not provisioned keys",
            "use_static_credentials",
        ),
        Key("password", Nested(), f"{SECRET_REF}: the password (useStaticCredentials)", "password"),
    ),
    expected="a map of connection settings (username, useExternalAddr, ...)",
)
AUTOSCALER_POLICY = Section(
    keys=(
        Key("periods", Texts(), "5-field cron expressions of when it applies; default always", "periods"),
        Key("timezone", Text(), "IANA time zone of the periods, e.g. Europe/Berlin; default UTC", "timezone"),
        Key(
            "idleCount", Whole(0, maximum=10000, why_maximum=" (idle jobs)"), "idle job slots kept ready", "idle_count"
        ),
        Key(
            "idleTime", Duration(0, 30 * 86400, " (30 days)"), "how long an idle instance stays, e.g. 20m", "idle_time"
        ),
        Key(
            "scaleFactor",
            Number(0, 100),
            "idle capacity on top of idleCount, as a factor of the capacity in use",
            "scale_factor",
        ),
        Key(
            "scaleFactorLimit",
            Whole(0, maximum=10000, why_maximum=" (idle jobs)"),
            "the most idle capacity scaleFactor asks for",
            "scale_factor_limit",
        ),
        Key(
            "preemptiveMode",
            Flag(),
            "take jobs only when an instance is ready; default: when idleCount > 0",
            "preemptive_mode",
        ),
    ),
    expected="a map with periods, timezone, idleCount, idleTime, scaleFactor, scaleFactorLimit, preemptiveMode",
)
AUTOSCALER = Section(
    keys=(
        Key(
            "plugin",
            Text(),
            "fleeting plugin, pinned: aws:1.0.0 or <registry>/<repository>/<name>:1.0.0",
            "plugin",
            "is required",
        ),
        Key(
            "maxInstances",
            Whole(1, maximum=10000, why_maximum=" (instances)"),
            "the most instances of the group",
            "max_instances",
            "is required (the runner's 0 would mean no limit)",
        ),
        Key(
            "capacityPerInstance",
            Whole(1, maximum=1000, why_maximum=" (jobs on one instance)"),
            "jobs one instance runs at once; default 1",
            "capacity_per_instance",
        ),
        Key(
            "maxUseCount",
            Whole(0, maximum=1000000, why_maximum=" (jobs)"),
            "jobs per instance before it goes (0: no limit); default 1",
            "max_use_count",
        ),
        Key(
            "pluginConfig",
            Nested(),
            "the plugin's own settings; credentials as {secret: <configKey>}",
            "plugin_config",
            "is required: the plugin's settings, e.g. {name: <group>, region: <region>}",
        ),
        Key("connectorConfig", Nested(AUTOSCALER_CONNECTOR), "how the manager connects to instances", "connector"),
        Key("policies", Nested(AUTOSCALER_POLICY), "idle policies, the last matching one applies", "policies"),
    ),
    expected="a map with 'plugin', 'maxInstances' and 'pluginConfig'",
)
