"""The CrossGuard pack fed through pulumi-policy's own analyzer, as the engine feeds it (the policy-venv half).

Run by tests/policy/test_analyzer.py in the pack's virtualenv (pulumi-policy pins another protobuf than the
project): `PYTHONPATH=policy:. policy/venv/bin/python tests/policy/crossguard_analyzer.py MATERIAL.json`.
MATERIAL.json (written by tests/policy/analyzer.py from a mock-engine plan) lists every resource the program
registered: type, name, URN, properties with secrets in the engine's wire wrapper, options, provider, parent and
dependencies. This half builds the protobufs the engine sends (pulumi/pulumi pkg/resource/plugin/analyzer_plugin.go:
properties marshalled with KeepSecrets and KeepUnknowns, internal `__` keys skipped; options with protect and
additionalSecretOutputs; the resource's provider with its inputs), serves them to `_PolicyAnalyzerServicer`
(what `PolicyPack` serves: constructed here the way `PolicyPack` constructs it, since `PolicyPack` itself serves
forever) with one `Analyze` per resource, providers included, and one `AnalyzeStack`, and prints as JSON what
the analyzer answered: the policies it carries (`GetAnalyzerInfo`) and every diagnostic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from runner_fleet_pack import policies

LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}


def _struct(properties: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(properties, struct_pb2.Struct())


def _options(options: dict[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    timeouts = options.get("customTimeouts") or {}
    replace = options.get("deleteBeforeReplace")
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(options.get("protect")),
        ignoreChanges=options.get("ignoreChanges") or [],
        deleteBeforeReplace=bool(replace),
        deleteBeforeReplaceDefined=replace is not None,
        additionalSecretOutputs=options.get("additionalSecretOutputs") or [],
        aliases=options.get("aliases") or [],
        # The engine always sends them (seconds; 0 where none is set).
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=timeouts.get("create", 0.0), update=timeouts.get("update", 0.0), delete=timeouts.get("delete", 0.0)
        ),
        parent=options.get("parent") or "",
    )


def _provider(provider: dict[str, Any] | None) -> analyzer_pb2.AnalyzerProviderResource | None:
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        urn=provider["urn"], type=provider["type"], name=provider["name"], properties=_struct(provider["properties"])
    )


def _diagnostics(response: analyzer_pb2.AnalyzeResponse, call: str) -> list[dict[str, str]]:
    return [
        {
            "call": call,
            "policy": d.policyName,
            "level": LEVELS[d.enforcementLevel],
            "urn": d.urn,
            "message": d.message,
        }
        for d in response.diagnostics
    ]


def analyze(material: dict[str, Any]) -> dict[str, Any]:
    """What pulumi-policy's analyzer answers for the resources of `material`, as the engine would ask it."""
    servicer = _PolicyAnalyzerServicer("runner-fleet", "0.0.1", policies(), EnforcementLevel.ADVISORY)
    info = servicer.GetAnalyzerInfo(empty_pb2.Empty(), None)
    found: list[dict[str, str]] = []
    for res in material["resources"]:
        request = analyzer_pb2.AnalyzeRequest(
            type=res["type"],
            properties=_struct(res["properties"]),
            urn=res["urn"],
            name=res["name"],
            options=_options(res["options"]),
            provider=_provider(res["provider"]),
        )
        found += _diagnostics(servicer.Analyze(request, None), "Analyze")
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=res["type"],
                properties=_struct(res["outputs"]),
                urn=res["urn"],
                name=res["name"],
                options=_options(res["options"]),
                provider=_provider(res["provider"]),
                parent=res["parent"],
                dependencies=res["dependencies"],
            )
            for res in material["resources"]
        ]
    )
    found += _diagnostics(servicer.AnalyzeStack(stack, None), "AnalyzeStack")
    return {
        "policies": {p.name: LEVELS[p.enforcementLevel] for p in info.policies},
        "diagnostics": found,
    }


if __name__ == "__main__":
    print(json.dumps(analyze(json.loads(Path(sys.argv[1]).read_text()))))
