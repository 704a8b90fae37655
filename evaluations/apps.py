from django.apps import AppConfig


class EvaluationsConfig(AppConfig):
    name = "evaluations"
    verbose_name = "Evaluations, runs and findings"

    def ready(self) -> None:
        from evaluations import rules  # noqa: F401 - the package imports every module that registers access rules
