"""Forms of the evaluations app, one module per domain (exercises, registry, catalogue, runs)."""
