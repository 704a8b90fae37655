"""Access rules of the evaluations app, one module per domain (registered with ``accounts.access.register``);
``common`` holds the facts every rule shares ("takes part" & co.). Imported from EvaluationsConfig.ready()."""

from evaluations.rules import audit, catalogue, exercises, findings, registry, runs, trends  # noqa: F401 - each module registers rules
