from django.apps import AppConfig


class EvaluationsConfig(AppConfig):
    name = "evaluations"
    verbose_name = "Evaluations, runs and findings"

    def ready(self) -> None:
        from evaluations import (  # noqa: F401 - each module registers access rules
            rules,
            rules_registry,
            rules_runs,
        )
