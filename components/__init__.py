"""runner-fleet, in three layers that data flows through one way, on one domain, plus the tooling beside them.

- `domain/`  PURE: the frozen, typed fleet every layer reads (`domain.model`, with every default of the stack file),
  and the facts it is made of (targets, images, versions, host paths, site, cache, rotation, lifecycle, naming);
- `spec/`    READ AND JUDGE: the stack configuration, read once (`spec.load`), checked whole, into `domain.model`;
- `render/`  PURE: one manager's config.toml and Kubernetes manifests, checked against gitlab-runner's schema;
- the modules here DECLARE Pulumi resources, one component each: `fleet` (RunnerFleet) wires `registration`
  (RunnerRegistration), `docker_host` (DockerRunnerHost), `kubernetes_host` (KubernetesRunnerHost) and
  `ci_variables` (CiVariables), with the explicit providers from `providers` and the secrets from `secrets`;
  every module directly here imports pulumi (tests/test_architecture.py); this file is only the package's map;
- `policy/`  the rules shared by the offline gate and the CrossGuard pack (pure);
- `plan/`    OFFLINE TOOLING: the mock-engine harness and the plan report (`python -m components.plan`);
- `ops/`     LIVE TOOLING: commands that talk to GitLab or the hosts.
Design notes: docs/design.md; the contract: README.md.
"""
