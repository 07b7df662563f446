# runner-fleet: `make plan` (offline plan of the dev stack) and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
OUT ?= plan/$(STACK)

.PHONY: plan test test-engine lint format lock clean plan-diff policy bench

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

plan: $(BIN)/.installed
	$(BIN)/python -m components.plan --stack-file stacks/Pulumi.$(STACK).yaml --out $(OUT)

# The pack's virtualenv too: tests/policy/test_analyzer.py runs the pack in it through pulumi-policy's analyzer.
test: $(BIN)/.installed policy/venv/.installed
	$(BIN)/python -m pytest -n 2

# The real Docker engine lane (root; installs docker.io and busybox-static with apt when missing): a private dockerd,
# the plans' containers created as the docker provider creates them and read back as its Read does (tests/engine).
test-engine: $(BIN)/.installed
	$(BIN)/python -m pytest tests/engine

# The CrossGuard pack's own virtualenv (pulumi-policy pins another protobuf), then its smoke test.
policy/venv/.installed: policy/requirements.txt
	$(PYTHON) -m venv policy/venv
	policy/venv/bin/python -m pip install --quiet --disable-pip-version-check -r policy/requirements.txt
	touch $@

policy: policy/venv/.installed
	PYTHONPATH=policy:. policy/venv/bin/python policy/smoke_test.py

# The offline plan against its floor per fleet size (a benchmark, not a test): `make bench` or SIZES="100 1000".
SIZES ?=
bench: $(BIN)/.installed
	$(BIN)/python -m bench $(SIZES)

# Does the work tree plan like BASE? Random valid and broken stacks, planned by both (see tools/plan_diff.py).
BASE ?= HEAD
plan-diff: $(BIN)/.installed
	$(BIN)/python tools/plan_diff.py --base $(BASE)

lint: $(BIN)/.installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-resolve the locks from the exact pins in pyproject.toml (needs network access to the package index).
lock:
	rm -rf build/lock && $(PYTHON) -m venv build/lock
	build/lock/bin/pip install --quiet $$($(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(" ".join(p["dependencies"]))')
	build/lock/bin/pip freeze > build/runtime.txt
	build/lock/bin/pip install --quiet $$($(PYTHON) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(" ".join(p["optional-dependencies"]["dev"]))')
	build/lock/bin/pip freeze > build/all.txt
	{ echo "# Runtime lock (pip toolchain in Pulumi.yaml); regenerate with 'make lock'."; cat build/runtime.txt; } > requirements.txt
	{ echo "# Test and lint tools on top of the runtime lock; regenerate with 'make lock'."; echo "-r requirements.txt"; \
	  grep -vxFf build/runtime.txt build/all.txt; } > requirements-dev.txt

clean:
	rm -rf $(VENV) policy/venv plan build .pytest_cache .mypy_cache .ruff_cache
