from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and organisations"

    def ready(self) -> None:
        from accounts import rules, schema, signals  # noqa: F401  (access rules, API schema, allauth receivers)
