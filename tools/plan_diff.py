"""Does a change keep the plan? Plan the same corpus of stack files with a base revision and with the work tree.

    .venv/bin/python tools/plan_diff.py --base a0b405f          # or: make plan-diff BASE=a0b405f

The corpus: the repository's own stack files, random *valid* fleets (every host kind and option, every runner
and variable option) and random mutations of a valid fleet (mostly invalid). Each is planned in-process by
`python -m components.plan`'s `main` of each tree, which writes plan.json and hosts/, and its stdout, stderr and
exit status are kept. Then:
- every stack the base plans (exit 0) must give byte-identical output, stdout and stderr (else exit 1);
- for stacks the base refuses, a problem line the base reports and the work tree does not is listed as lost
  (after ignoring an added ", found ..." tail); problems only the work tree reports are counted, not failed.
Nothing is committed or changed: the base is checked out with `git worktree` into a temporary directory.
"""

from __future__ import annotations

import argparse
import copy
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
# Secure values shaped as the Pulumi CLI writes them (v1:<base64 12-byte nonce>:<base64 ciphertext and 16-byte tag>),
# or the stack file is refused: tests.fleets.ciphertext("planDiffSecret") and ("planDiffVariable").
CIPHERTEXT = "v1:Q8B2nTs/B6KdnilU:planDiffSecretQ8B2nTs/B6"
VARIABLE_CIPHERTEXT = "v1:e6jDdsFy7ctD2X04:planDiffVariablee6jDdsFy"

# Runs inside each tree: plan every file of the corpus with that tree's CLI entry point.
CAPTURE = """
import contextlib, io, sys
from pathlib import Path
sys.path.insert(0, ".")
try:
    from components.plan.__main__ import main
except ImportError:  # layouts before components/plan/ was a package
    from components.plan import main
corpus, out = Path(sys.argv[1]), Path(sys.argv[2])
for f in sorted(corpus.glob("*.yaml")):
    d = out / f.stem
    d.mkdir(parents=True)
    so, se = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
        try:
            rc = main(["--stack-file", str(f), "--out", str(d / "plan")])
        except BaseException as exc:
            rc = f"raised {type(exc).__name__}: {exc}"
    (d / "rc").write_text(str(rc))
    (d / "stdout").write_text(so.getvalue().replace(str(d), "OUT"))
    (d / "stderr").write_text(se.getvalue())
"""

BASE_FLEET: dict[str, Any] = {
    "gitlabUrl": "https://gitlab.acme.test",
    "hosts": {
        "edge-1": {"docker": {"host": "ssh://ci@edge-1.acme.test"}, "concurrent": 6},
        "edge-2": {"docker": {"host": "tcp://edge-2.acme.test:2376", "certPath": "/certs"}},
        "kube": {"kubernetes": {"namespace": "ci", "context": "c", "tolerations": {"k=v": "NoSchedule"}}},
    },
    "runners": {
        "images": {"host": "edge-1", "scope": {"group": "acme/platform"}, "tags": ["bk"], "buildkit": True},
        "unit": {"host": "edge-1", "scope": {"project": 42}, "tags": ["unit"], "limit": 2},
        "shared": {"host": "edge-2", "scope": {"instance": True}, "runUntagged": True},
        "kube-build": {"host": "kube", "scope": {"group": 3}, "tags": ["k"], "buildkit": True},
    },
    "variables": [{"project": "a/b", "key": "K", "value": "v"}],
}
MUTATIONS: list[Any] = [None, 0, -1, 1, 7200, 1.5, "", " ", "x", "ssh://", "tcp://h:1", [], {}, ["a"], {"a": 1}]
MUTATIONS += [{"instance": True}, {"group": "g"}, True, False, "[docker]\nmemory = 1\n", "a = "]


def _option(rng: random.Random, target: dict[str, Any], choices: dict[str, list[Any]], p: float = 0.3) -> None:
    for key, values in choices.items():
        if rng.random() < p:
            target[key] = rng.choice(values)


def _host(rng: random.Random, key: str, extra: dict[str, Any]) -> dict[str, Any]:
    kind = rng.choice(["ssh", "tcp", "tls", "unix", "k8s", "k8s"])
    if kind == "k8s":
        k8s: dict[str, Any] = {"namespace": f"ns-{key.lower().replace('_', '-').replace('.', '-')}"}
        _option(rng, k8s, {"context": ["a", "b"], "jobNamespace": [k8s["namespace"] + "-j"]}, 0.5)
        _option(rng, k8s, {"nodeSelector": [{"pool": "p"}], "tolerations": [{"a=b": "NoExecute"}]})
        _option(rng, k8s, {"appArmorAnnotationFallback": [True]})
        if rng.random() < 0.2:
            k8s["kubeconfig"] = f"kc{key.replace('-', '').replace('.', '')}"
            extra[f"runner-fleet:{k8s['kubeconfig']}"] = {"secure": CIPHERTEXT}
        host: dict[str, Any] = {"kubernetes": k8s}
    elif kind == "tls":
        names = {k: f"{k}{key.replace('-', '').replace('.', '')}" for k in ("ca", "cert", "key")}
        extra.update({f"runner-fleet:{n}": {"secure": CIPHERTEXT} for n in names.values()})
        host = {"docker": {"host": f"tcp://{key}.t:2376", "tls": names}}
    else:
        url = {"ssh": f"ssh://ci@{key}.t", "tcp": f"tcp://{key}.t:2376", "unix": "unix:///var/run/docker.sock"}[kind]
        host = {"docker": {"host": url, **({"certPath": "/certs"} if kind == "tcp" else {})}}
    _option(rng, host, {"concurrent": [1, 8], "checkInterval": [1, 10], "shutdownTimeout": [5, 300]})
    _option(rng, host, {"logFormat": ["text", "runner"], "logLevel": ["debug", "warn"]})
    _option(rng, host, {"runnerImage": ["gitlab/gitlab-runner:alpine-v19.4.0"]})
    return host


def _runner(rng: random.Random, host: str) -> dict[str, Any]:
    scopes = [{"instance": True}, {"group": "acme/p"}, {"group": 7}, {"project": "acme/x/y"}, {"project": "12"}]
    runner: dict[str, Any] = {"host": host, "scope": rng.choice(scopes), "tags": rng.sample(["a", "b", "c"], 2)}
    if rng.random() < 0.5:
        runner["buildkit"] = True
    _option(rng, runner, {"protectedOnly": [True], "locked": [True], "paused": [True], "runUntagged": [True]})
    _option(rng, runner, {"maximumTimeout": [600, 7200], "limit": [0, 5], "pullPolicy": ["if-not-present"]})
    if rng.random() < 0.25:
        runner["extraConfig"] = rng.choice(
            ["output_limit = 8192\n", 'environment = ["A=1"]\n', '[cache]\nType = "s3"\n']
        )
    return runner


def _valid_fleet(rng: random.Random) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    hosts = {f"{rng.choice(['edge', 'B_a', 'b.c'])}-{i}": {} for i in range(rng.randint(1, 4))}
    hosts = {key: _host(rng, key, extra) for key in hosts}
    runners = {f"{rng.choice(['img', 'R.x'])}{i}": _runner(rng, rng.choice(sorted(hosts))) for i in range(6)}
    variables = []
    for j in range(rng.randint(0, 3)):
        var: dict[str, Any] = {rng.choice(["project", "group"]): rng.choice(["acme/app", "7"]), "key": f"K_{j}"}
        if rng.random() < 0.3:
            var["secret"] = f"sv{j}"
            extra[f"runner-fleet:sv{j}"] = {"secure": VARIABLE_CIPHERTEXT}
        else:
            var["value"] = rng.choice(["plain", "s3cr3t-value_123"])
        _option(rng, var, {"protected": [True], "raw": [True], "environmentScope": ["production"], "type": ["file"]})
        variables.append(var)
    config = {
        "runner-fleet:gitlabUrl": "https://gitlab.t",
        "runner-fleet:hosts": hosts,
        "runner-fleet:runners": runners,
    }
    if variables:
        config["runner-fleet:variables"] = variables
    return {**config, **extra}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    return [path for k, v in items for path in [(*prefix, k), *_paths(v, (*prefix, k))]]


def _mutated_fleet(rng: random.Random) -> dict[str, Any]:
    data = copy.deepcopy(BASE_FLEET)
    for _ in range(rng.randint(1, 3)):
        *parents, last = rng.choice(_paths(data))
        node = data
        for part in parents:
            node = node[part]
        if rng.random() < 0.2 and isinstance(node, dict):
            del node[last]
        else:
            node[last] = copy.deepcopy(rng.choice(MUTATIONS))
    return {f"runner-fleet:{k}": v for k, v in data.items()}


def write_corpus(directory: Path, valid: int, mutations: int) -> None:
    directory.mkdir(parents=True)
    for stack in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        (directory / stack.name).write_text(stack.read_text())
    for i in range(valid):
        config = _valid_fleet(random.Random(i))
        (directory / f"Pulumi.valid{i:04d}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    for i in range(mutations):
        config = _mutated_fleet(random.Random(10_000 + i))
        (directory / f"Pulumi.mutated{i:04d}.yaml").write_text(yaml.safe_dump({"config": config}, sort_keys=False))


def _capture(tree: Path, corpus: Path, out: Path) -> None:
    subprocess.run([sys.executable, "-c", CAPTURE, str(corpus), str(out)], cwd=tree, check=True)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _problems(stderr: str) -> set[str]:
    return {re.sub(r", found (none|0 keys \(\)|\d+ keys \(.*\))$", "", line) for line in stderr.splitlines()[1:]}


def compare(base: Path, head: Path) -> int:
    planned = refused = 0
    differing, lost, gained = [], [], 0
    for case in sorted(p.name for p in base.iterdir()):
        before, after = base / case, head / case
        if (before / "rc").read_text() == "0":
            planned += 1
            if _files(before) != _files(after):
                differing.append(case)
            continue
        refused += 1
        old, new = _problems((before / "stderr").read_text()), _problems((after / "stderr").read_text())
        lost += [f"{case}: {line}" for line in sorted(old - new)]
        gained += len(new - old)
    print(f"{planned} stacks the base plans: {planned - len(differing)} identical, {len(differing)} differ")
    print(f"{refused} stacks the base refuses: {len(lost)} problem lines lost, {gained} added")
    for line in differing + lost:
        print(f"  {line}")
    return 1 if differing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against (e.g. origin/main)")
    parser.add_argument("--valid", type=int, default=150, help="random valid fleets (default 150)")
    parser.add_argument("--mutations", type=int, default=400, help="random mutations of a valid fleet (default 400)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_corpus(work / "corpus", args.valid, args.mutations)
        subprocess.run(["git", "worktree", "add", "--detach", str(work / "base"), args.base], cwd=ROOT, check=True)
        try:
            _capture(work / "base", work / "corpus", work / "out-base")
            _capture(ROOT, work / "corpus", work / "out-head")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(work / "base")], cwd=ROOT, check=True)
        return compare(work / "out-base", work / "out-head")


if __name__ == "__main__":
    sys.exit(main())
