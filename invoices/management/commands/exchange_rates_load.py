"""Load a CSV file of ECB reference rates: `manage.py exchange_rates_load eurofxref-hist.csv`.

Meant to run every working day after the ECB publishes (around 16:00 Paris time), on the
day's `eurofxref.csv`, or once on the whole history. The portal fetches nothing itself: the
file comes from wherever the deployment gets it (docs/invoices.md, VAT in euros).
"""

import sys
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from invoices.services import exchange_rates_import


class Command(BaseCommand):
    help = "Load ECB reference rates (eurofxref-hist.csv or eurofxref.csv) for the VAT in euros."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the CSV file, or - for standard input")
        parser.add_argument(
            "--currency",
            action="append",
            dest="currencies",
            help="only this currency (repeat, or USD,GBP); all the file's by default",
        )
        parser.add_argument(
            "--since", type=date.fromisoformat, help="only the days from this date (YYYY-MM-DD)"
        )

    def handle(self, *args, path, currencies, since, **options):
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        wanted = {
            code.strip() for value in currencies or () for code in value.split(",") if code.strip()
        }
        try:
            result = exchange_rates_import(data=data, currencies=wanted or None, since=since)
        except ValidationError as exc:
            raise CommandError("Nothing saved:\n" + "\n".join(exc.messages)) from None
        self.stdout.write(
            f"{result.saved} rates saved ({', '.join(result.currencies)}), "
            f"{result.first.isoformat()} to {result.last.isoformat()}."
        )
