from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Max

from accounts import demo as accounts_demo
from emails.models import Email
from subscriptions import demo as subscriptions_demo
from subscriptions import demo_invoices

# Each app seeds its own demo data, in this order (later ones build on earlier ones). The
# command lives in support, the top layer, which may import every app below it.
DEMO_MODULES = [accounts_demo, subscriptions_demo, demo_invoices]


class Command(BaseCommand):
    help = "Load the demo accounts, users, plans and invoices (safe to run twice)."

    def handle(self, *args, **options):
        with transaction.atomic():
            last_email = Email.objects.aggregate(last=Max("pk"))["last"] or 0
            for module in DEMO_MODULES:
                module.seed()
            # The demo's invoices are history: their emails are not delivered. Removing
            # the outbox rows in the same transaction means the queued sends find nothing.
            skipped, _ = Email.objects.filter(pk__gt=last_email).delete()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready (password: billing-demo); {skipped} historical emails skipped."
            )
        )
