"""runner-fleet, in three layers that data flows through one way, plus the offline tooling beside them.

- `spec/`    READ AND JUDGE: the stack configuration, read once (`spec.load`), checked whole, into `model`;
- `model.py` the frozen, typed fleet every other layer reads (and every default of the stack file);
- `render/`  PURE: one manager's config.toml and Kubernetes manifests, checked against gitlab-runner's schema;
- the modules here DECLARE Pulumi resources, one component each: `fleet` (RunnerFleet) wires `registration`
  (RunnerRegistration), `docker_host` (DockerRunnerHost), `kubernetes_host` (KubernetesRunnerHost) and
  `ci_variables` (CiVariables), with the explicit providers from `providers`;
- `plan/`    OFFLINE TOOLING: the mock-engine harness and the plan report (`python -m components.plan`).
Design notes: docs/design.md; the contract: README.md.
"""
