from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import demo


class Command(BaseCommand):
    help = "Load the demo accounts, users, plans and invoices (safe to run twice)."

    @transaction.atomic
    def handle(self, *args, **options):
        demo.seed()
        self.stdout.write(self.style.SUCCESS("Demo data ready (password: billing-demo)."))
