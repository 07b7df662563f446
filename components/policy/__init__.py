"""POLICY: the rules every stack's declared resources must follow, as plain functions over what was declared.

- `resources`: `Declared`, the resource view both runners of the rules convert to (secrets and unknowns marked);
- `rules`: the rules, which block on which tier, and `evaluate`.
Applied in two places: the offline plan (`components/plan/gate.py`: exit 3 on a mandatory violation) and the
CrossGuard pack in `policy/` (`pulumi preview --policy-pack policy`), which leaves out the `gate_only` rules
(pulumi-policy shows a policy every secret unwrapped). Pure: no Pulumi, no I/O.
"""
