from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Max

from emails.models import Email

# Each app seeds its own demo data, in this order (later ones build on earlier ones).
DEMO_MODULES = ["accounts.demo", "subscriptions.demo", "invoices.demo"]


class Command(BaseCommand):
    help = "Load the demo accounts, users, plans and invoices (safe to run twice)."

    def handle(self, *args, **options):
        with transaction.atomic():
            last_email = Email.objects.aggregate(last=Max("pk"))["last"] or 0
            for name in DEMO_MODULES:
                try:
                    module = import_module(name)
                except ModuleNotFoundError as exc:
                    if exc.name != name:
                        raise
                    continue
                module.seed()
            # The demo's invoices are history: their emails are not delivered. Removing
            # the outbox rows in the same transaction means the queued sends find nothing.
            skipped, _ = Email.objects.filter(pk__gt=last_email).delete()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready (password: billing-demo); {skipped} historical emails skipped."
            )
        )
