"""The domain: PURE (no pulumi import), what every other layer reads and nothing here declares or renders.

- `model`            the frozen, typed fleet (FleetSpec, HostSpec, RunnerSpec, ...) and every stack-file default;
- `targets`, `engine_identity`  where managers run (Docker engine, Kubernetes namespace), judged by identity;
- `images`, `versions`, `host_paths`, `site`, `cache`  image references and pins, host directories, the company
  network (CA, proxy), the distributed cache;
- `rotation`, `lifecycle`  token rotation's generations; the timeouts that cover a manager's drain;
- `naming`           the Pulumi resource names derived from stable keys.
"""
