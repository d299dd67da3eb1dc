from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction

# Each app seeds its own demo data, in this order (later ones build on earlier ones).
DEMO_MODULES = ["accounts.demo", "subscriptions.demo", "invoices.demo"]


class Command(BaseCommand):
    help = "Load the demo accounts, users, plans and invoices (safe to run twice)."

    @transaction.atomic
    def handle(self, *args, **options):
        for name in DEMO_MODULES:
            try:
                module = import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise
                continue
            module.seed()
        self.stdout.write(self.style.SUCCESS("Demo data ready (password: billing-demo)."))
