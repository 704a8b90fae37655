from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo organisations, accounts and exercise (idempotent). Filled in by the accounts issue."

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        self.stdout.write("seed_demo: nothing to seed yet.")
