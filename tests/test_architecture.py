"""Architecture meta tests: the layers the folder names promise, held by what Python actually imports and declares."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pulumi
import pytest

from components.plan import engine
from tests.conftest import ROOT, Plan
from tests.fleets import K8S_MIXED

COMPONENTS = ROOT / "components"
LAYERS = {"spec", "render", "plan"}
# The declare layer: one ComponentResource per module, named after what it declares.
COMPONENT_MODULES = {
    "fleet": "RunnerFleet",
    "registration": "RunnerRegistration",
    "docker_host": "DockerRunnerHost",
    "kubernetes_host": "KubernetesRunnerHost",
    "ci_variables": "CiVariables",
}
SUPPORT_MODULES = {"__init__", "model", "versions", "secrets", "providers"}
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
    assert modules == set(COMPONENT_MODULES) | SUPPORT_MODULES, "a new top-level module belongs to a layer"


def test_the_render_layer_imports_no_pulumi() -> None:
    loaded = _modules_after_import(
        "components.render.config_toml", "components.render.manifests", "components.render.schema", "components.model"
    )
    assert "components.render.config_toml" in loaded
    assert _pulumi(loaded) == []
    assert not [m for m in loaded if m.startswith(("components.spec", "components.plan", "components.fleet"))]


def test_the_spec_declares_nothing_and_the_program_leaves_the_tooling_out() -> None:
    spec = _modules_after_import("components.spec")
    assert not [m for m in spec if m.startswith(("pulumi_", "components.plan"))], "spec imports no provider SDK"
    declared = {f"components.{m}" for m in COMPONENT_MODULES}
    assert not declared & set(spec)
    program = _modules_after_import("components.spec", "components.fleet")
    assert not [m for m in program if m.startswith("components.plan")], "pulumi up never runs the offline tooling"


def test_each_component_module_declares_one_component_with_its_type_token(plan: Plan) -> None:
    expected = set()
    for module, noun in COMPONENT_MODULES.items():
        loaded = import_module(f"components.{module}")
        defined = [
            cls
            for _, cls in inspect.getmembers(loaded, inspect.isclass)
            if issubclass(cls, pulumi.ComponentResource) and cls.__module__ == loaded.__name__
        ]
        assert [cls.__name__ for cls in defined] == [noun], module
        expected.add(f"runner-fleet:{module}:{noun}")
    values = {**K8S_MIXED, "variables": [{"group": "acme", "key": "K", "value": "v"}]}
    registered = {r.type for r in plan(values).resources if r.type.startswith("runner-fleet:")}
    assert registered == expected


def test_no_module_is_too_long_to_read() -> None:
    for path in COMPONENTS.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def _production_files() -> list[Path]:
    """What `pulumi up` runs: everything under components/ but the offline tooling."""
    return [p for p in COMPONENTS.rglob("*.py") if "plan" not in p.relative_to(COMPONENTS).parts]


def test_only_spec_config_reads_the_configuration_or_the_environment() -> None:
    for path in _production_files():
        source = path.read_text()
        reads_config = "pulumi.Config(" in source or "runtime.config" in source
        if path != COMPONENTS / "spec" / "config.py":
            assert not reads_config, f"{path.relative_to(ROOT)} reads pulumi config"
        names = {n.attr for n in ast.walk(_tree(path)) if isinstance(n, ast.Attribute)}
        assert not names & {"environ", "getenv"}, f"{path.relative_to(ROOT)} reads the environment"


def test_the_secret_placeholder_is_defined_once() -> None:
    holders = [
        path.relative_to(ROOT).as_posix()
        for path in COMPONENTS.rglob("*.py")
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Constant) and node.value == "[secret]"
    ]
    assert holders == ["components/model.py"]


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


def test_the_harness_records_what_the_engine_receives(plan: Plan) -> None:
    """The mock engine is the engine for every test: resources arrive with parents, options and secrets wrapped."""
    result = plan(K8S_MIXED)
    urns = {r.urn for r in result.resources}
    (fleet,) = [r for r in result.resources if r.type == "runner-fleet:fleet:RunnerFleet"]
    assert all(r.parent in urns for r in result.resources if r is not fleet)
    secrets = [r for r in result.resources if r.type == "kubernetes:core/v1:Secret"]
    assert secrets and all(engine.is_secret(r.inputs["stringData"]) for r in secrets)
