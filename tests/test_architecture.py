"""Architecture meta tests: the layers the folder names promise, held by what Python actually imports and declares."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import pulumi
import pytest

from tests.conftest import ROOT, Plan
from tests.fleets import K8S_MIXED

COMPONENTS = ROOT / "components"
LAYERS = {"domain", "spec", "render", "policy", "plan", "ops"}
# The declare layer: one ComponentResource per module, named after what it declares.
COMPONENT_MODULES = {
    "fleet": "RunnerFleet",
    "registration": "RunnerRegistration",
    "docker_host": "DockerRunnerHost",
    "kubernetes_host": "KubernetesRunnerHost",
    "ci_variables": "CiVariables",
}
# Beside them, what the components share: the explicit providers and the secret helpers (both Pulumi code).
SUPPORT_MODULES = {"providers", "secrets"}
MAX_LINES = 400


def _modules_after_import(*modules: str) -> list[str]:
    """Every module a fresh interpreter has loaded after importing `modules`."""
    code = f"import json, sys\nimport {', '.join(modules)}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def _pulumi(loaded: list[str]) -> list[str]:
    return [m for m in loaded if m == "pulumi" or m.startswith(("pulumi.", "pulumi_"))]


def test_the_folders_are_the_layers() -> None:
    packages = {p.name for p in COMPONENTS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in COMPONENTS.glob("*.py")}
    assert packages == LAYERS
    assert modules == {"__init__"} | set(COMPONENT_MODULES) | SUPPORT_MODULES, (
        "a new top-level module belongs to a layer"
    )


def _imports_pulumi_itself(path: Path) -> bool:
    """The module's own import statements name pulumi or a provider SDK (pulumi_docker, ...), wherever they stand."""
    for node in ast.walk(_tree(path)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        if any(n.split(".")[0] == "pulumi" or n.startswith("pulumi_") for n in names):
            return True
    return False


def test_every_module_directly_in_components_declares_with_pulumi() -> None:
    """A newcomer finds each floor by folder: a module directly in components/ is Pulumi code (issue 21, part 8).

    The package marker is the one exception, and it stays a map: nothing but its docstring, so importing the
    package (which every import of a domain, spec or render module does) loads nothing."""
    marker = _tree(COMPONENTS / "__init__.py").body
    assert len(marker) == 1 and isinstance(marker[0], ast.Expr) and isinstance(marker[0].value, ast.Constant)
    modules = [p for p in sorted(COMPONENTS.glob("*.py")) if p.name != "__init__.py"]
    assert modules
    assert [p.name for p in modules if not _imports_pulumi_itself(p)] == []


def test_the_domain_imports_no_pulumi_and_nothing_above_it() -> None:
    """Every domain module, imported in a fresh interpreter, loads no pulumi and no other floor of components/."""
    domain = sorted(p.stem for p in (COMPONENTS / "domain").glob("*.py") if p.stem != "__init__")
    assert {"model", "targets", "rotation", "naming"} <= set(domain)
    loaded = _modules_after_import(*(f"components.domain.{m}" for m in domain))
    assert {f"components.domain.{m}" for m in domain} <= set(loaded)
    assert _pulumi(loaded) == []
    ours = [m for m in loaded if m.startswith("components.")]
    assert [m for m in ours if not m.startswith("components.domain")] == []
    assert [p.name for p in (COMPONENTS / "domain").glob("*.py") if _imports_pulumi_itself(p)] == []


# Runs in a fresh interpreter: import every module of the render layer, then render a Docker and a Kubernetes
# host for real (so a lazy import inside a function counts too), and print what got loaded.
RENDER_EVERYTHING = """
import json, pkgutil, sys, importlib
import components.render
for info in pkgutil.walk_packages(components.render.__path__, "components.render."):
    importlib.import_module(info.name)
from components.domain import model, targets
from components.render import config_toml, manifests, schema
docker = model.HostSpec(key="d", target=targets.DockerTarget(url="ssh://a@b"))
k8s = model.HostSpec(key="k", target=targets.KubernetesTarget(namespace="ci", job_namespace="ci-jobs"))
runners = (
    model.RunnerSpec(key="b", host="k", scope=model.Scope(model.ScopeKind.INSTANCE), tags=("t",), buildkit=True,
                     image=model.default_job_image(True), allowed_images=model.default_allowed_images(True)),
    model.RunnerSpec(key="p", host="d", scope=model.Scope(model.ScopeKind.GROUP, 7), tags=("t",),
                     image="alpine:3", allowed_images=()),
)
fleet = model.FleetSpec(stack="s", gitlab_url="https://g.test", hosts=(docker, k8s), runners=runners)
for manager in fleet.managers:
    document = config_toml.document(manager, config_toml.placeholder_tokens(manager))
    assert schema.errors(document) == [], schema.errors(document)
    config_toml.render(manager, config_toml.placeholder_tokens(manager))
    target = manager.host.target
    if isinstance(target, targets.KubernetesTarget):
        for part in ("manager_namespace", "job_namespace", "service_account", "role", "role_binding",
                     "config_secret_metadata", "deployment_metadata", "metrics_service"):
            getattr(manifests, part)(manager, target)
        manifests.deployment_spec(manager, config_toml.checksum("x"))
print(json.dumps(sorted(sys.modules)))
"""


def test_the_render_layer_imports_no_pulumi() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RENDER_EVERYTHING], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    render_modules = {
        f"components.render.{p.stem}" for p in (COMPONENTS / "render").glob("*.py") if p.stem != "__init__"
    }
    assert render_modules <= set(loaded)
    assert _pulumi(loaded) == []
    assert not [m for m in loaded if m.startswith(("components.spec", "components.plan", "components.fleet"))]


def test_the_policies_import_no_pulumi() -> None:
    """The CrossGuard pack runs them in its own environment, with another protobuf: they must stay pure."""
    loaded = _modules_after_import("components.policy.rules", "components.policy.resources")
    assert _pulumi(loaded) == []
    assert not [m for m in loaded if m.startswith(("components.spec", "components.plan", "components.fleet"))]


def test_the_spec_declares_nothing_and_the_program_leaves_the_tooling_out() -> None:
    spec = _modules_after_import("components.spec")
    assert not [m for m in spec if m.startswith(("pulumi_", "components.plan"))], "spec imports no provider SDK"
    declared = {f"components.{m}" for m in COMPONENT_MODULES}
    assert not declared & set(spec)
    program = _modules_after_import("components.spec", "components.fleet")
    assert not [m for m in program if m.startswith("components.plan")], "pulumi up never runs the offline tooling"
    assert not [m for m in program if m.startswith(("components.ops", "gitlab"))], "nor the live commands"


def test_each_component_module_declares_one_component_with_its_type_token(
    plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    classes = {}
    for module, noun in COMPONENT_MODULES.items():
        loaded = import_module(f"components.{module}")
        defined = [
            cls
            for _, cls in inspect.getmembers(loaded, inspect.isclass)
            if issubclass(cls, pulumi.ComponentResource) and cls.__module__ == loaded.__name__
        ]
        assert [cls.__name__ for cls in defined] == [noun], module
        classes[defined[0]] = f"runner-fleet:{module}:{noun}"
    registered: dict[type, set[str]] = {}
    original = pulumi.ComponentResource.__init__

    def spy(self: pulumi.ComponentResource, t: str, *args: Any, **kwargs: Any) -> None:
        registered.setdefault(type(self), set()).add(t)
        original(self, t, *args, **kwargs)

    monkeypatch.setattr(pulumi.ComponentResource, "__init__", spy)
    values = {**K8S_MIXED, "variables": [{"group": "acme", "key": "K", "value": "v"}]}
    plan(values, stack="architecture")
    ours = {cls: tokens for cls, tokens in registered.items() if cls.__module__.startswith("components.")}
    assert ours == {cls: {token} for cls, token in classes.items()}


def test_no_module_is_too_long_to_read() -> None:
    for path in COMPONENTS.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def _production_files() -> list[Path]:
    """What `pulumi up` runs: everything under components/ but the offline tooling and the live commands."""
    return [p for p in COMPONENTS.rglob("*.py") if not {"plan", "ops"} & set(p.relative_to(COMPONENTS).parts)]


def test_only_spec_config_reads_the_configuration_or_the_environment() -> None:
    for path in _production_files():
        source = path.read_text()
        reads_config = "pulumi.Config(" in source or "runtime.config" in source
        if path != COMPONENTS / "spec" / "config.py":
            assert not reads_config, f"{path.relative_to(ROOT)} reads pulumi config"
        names = {n.attr for n in ast.walk(_tree(path)) if isinstance(n, ast.Attribute)}
        if path == COMPONENTS / "spec" / "config.py":
            # One read, judged in one place: the moment a pipeline plans for (RUNNER_FLEET_NOW, named in the
            # README), and PULUMI_CONFIG_<KEY> overrides, refused (issue 19, part 8).
            assert "environment_problems(environ)" in source and source.count("os.environ") == 1
        else:
            assert not names & {"environ", "getenv"}, f"{path.relative_to(ROOT)} reads the environment"


def test_the_secret_placeholder_is_defined_once() -> None:
    holders = [
        path.relative_to(ROOT).as_posix()
        for path in COMPONENTS.rglob("*.py")
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Constant) and node.value == "[secret]"
    ]
    assert holders == ["components/domain/model.py"]


def _documented_dataclasses() -> list[tuple[str, ast.ClassDef]]:
    found = []
    for path in COMPONENTS.rglob("*.py"):
        for node in ast.walk(_tree(path)):
            is_dataclass = isinstance(node, ast.ClassDef) and any(
                "dataclass" in ast.unparse(d) for d in node.decorator_list
            )
            if is_dataclass and (path.name == "model.py" or node.name.endswith("Args") or path.parent.name == "spec"):
                found.append((path.relative_to(ROOT).as_posix(), node))
    return found


@pytest.mark.parametrize(("where", "cls"), _documented_dataclasses(), ids=lambda x: getattr(x, "name", x))
def test_every_model_and_args_field_has_a_docstring(where: str, cls: ast.ClassDef) -> None:
    body = cls.body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and "ClassVar" not in ast.unparse(node.annotation):
            following = body[i + 1] if i + 1 < len(body) else None
            documented = isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
            assert documented, f"{where}: {cls.name}.{ast.unparse(node.target)} has no docstring"
