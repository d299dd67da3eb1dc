"""Gapless, chronological invoice numbers: INV-<n>, from one locked counter row.

French law asks for a unique number "basé sur une séquence chronologique et continue,
sans rupture". Credit notes take their number from the same counter (one series for both
kinds of document; the document type tells them apart): see docs/invoices.md, Numbering.
The counter is incremented inside the transaction that issues the invoice:
if that transaction rolls back, so does the increment, and no number is ever skipped.
Concurrent issuers queue on the row lock (SELECT ... FOR UPDATE), one at a time.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from .models import Invoice, NumberSequence

SEQUENCE = "invoice"
PREFIX = "INV-"


def format_number(value: int) -> str:
    return f"{PREFIX}{value}"


def _locked_counter(name: str) -> NumberSequence:
    counter = NumberSequence.objects.select_for_update().filter(name=name).first()
    if counter is None:
        # The very first number: create the row. A concurrent creator waits on the unique
        # index, fails, and then locks the row the winner created.
        try:
            with transaction.atomic():
                NumberSequence.objects.create(name=name)
        except IntegrityError:
            pass
        counter = NumberSequence.objects.select_for_update().get(name=name)
    return counter


def next_number(*, issue_date: date, name: str = SEQUENCE) -> int:
    """Take the next number for a document dated `issue_date`. Call inside the transaction
    that saves the document; the counter row stays locked until it commits."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_number() must run inside the issuing transaction.")
    counter = _locked_counter(name)
    if counter.last_issue_date and issue_date < counter.last_issue_date:
        raise ValidationError(
            {
                "issue_date": _(
                    "La date d'émission ne peut pas précéder celle de la dernière facture "
                    "(%(date)s) : la numérotation suit l'ordre chronologique."
                )
                % {"date": date_format(counter.last_issue_date, "SHORT_DATE_FORMAT")}
            }
        )
    value = counter.next_value
    counter.next_value = value + 1
    counter.last_issue_date = max(issue_date, counter.last_issue_date or issue_date)
    counter.save(update_fields=["next_value", "last_issue_date"])
    return value


@transaction.atomic
def sequence_start(*, first: int, name: str = SEQUENCE) -> NumberSequence:
    """Start the numbering at `first` (continuing a previous system's numbering).

    Only before the first invoice: moving a sequence in use would break its continuity.
    """
    counter = _locked_counter(name)
    if Invoice.objects.exists() or counter.last_issue_date is not None:
        raise ValidationError(_("La numérotation a déjà commencé : elle ne peut plus changer."))
    counter.next_value = first
    counter.save(update_fields=["next_value"])
    return counter
