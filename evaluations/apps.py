from django.apps import AppConfig


class EvaluationsConfig(AppConfig):
    name = "evaluations"
    verbose_name = "Evaluations, runs and findings"

    def ready(self) -> None:
        from evaluations import (
            rules,  # noqa: F401  (registers the exercise access rule)
            rules_registry,  # noqa: F401 - registers the registry/catalogue access rules
        )
