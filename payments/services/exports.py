"""The pain.008 file support sends the seller's bank: the collections pre-notified for one
date and scheme (notified → exported), first and recurring sequence types, amendments. What
the statement says of them next is direct_debits.py's.
"""

import secrets
from collections import defaultdict
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from invoices.models import Invoice
from invoices.references import rf_reference
from invoices.selectors import with_credit_sums

from .. import pain008
from ..models import Collection, DirectDebitExport, Mandate
from .prenotifications import notice_days


def exportable(*, scheme: str, collect_on: date):
    """The collections a file for `collect_on` and `scheme` takes: notified at least the
    notice period before that date, of an active mandate, their invoice still open."""
    latest_notice = collect_on - timedelta(days=notice_days())
    return Collection.objects.filter(
        status=Collection.Status.NOTIFIED,
        collect_on=collect_on,
        mandate__scheme=scheme,
        mandate__status=Mandate.Status.ACTIVE,
        notified_at__date__lte=latest_notice,
        invoice__status=Invoice.Status.OPEN,
    )


def _sequence_types(collections: list[Collection]) -> dict[int, str]:
    """FRST for a mandate none of whose collections reached the bank and was settled (a
    first collection rejected before settlement leaves the next one first), RCUR after;
    FRST again when the debtor's bank changed (amendment to another agent, SMNDA)."""
    mandate_ids = {c.mandate_id for c in collections}
    # At the bank or settled (the file's own collections are still notified, not counted).
    used = set(
        Collection.objects.filter(
            mandate_id__in=mandate_ids,
            status__in=[Collection.Status.EXPORTED, Collection.Status.PAID],
        ).values_list("mandate_id", flat=True)
    ) | set(
        Collection.objects.filter(
            mandate_id__in=mandate_ids,
            status=Collection.Status.RETURNED,
            payment__isnull=False,  # returned after settlement: the mandate was used
        ).values_list("mandate_id", flat=True)
    )
    return {
        c.mandate_id: Collection.Sequence.RECURRING
        if c.mandate_id in used and not _other_bank(c.mandate)
        else Collection.Sequence.FIRST
        for c in collections
    }


def _other_bank(mandate: Mandate) -> bool:
    return bool(
        mandate.amended_from_iban
        and mandate.amended_from_bic
        and mandate.amended_from_bic[:8] != (mandate.bic or "")[:8]
    )


def _creditor() -> pain008.Creditor:
    seller = settings.SELLER
    return pain008.Creditor(
        name=seller["legal_name"],
        iban=seller["iban"].replace(" ", ""),
        bic=seller["bic"],
        creditor_id=seller["creditor_id"],
    )


def _transaction(collection: Collection, sequence: str) -> pain008.Transaction:
    mandate, number = collection.mandate, collection.invoice.number
    return pain008.Transaction(
        end_to_end_id=collection.end_to_end_id,
        amount=collection.amount,
        sequence_type=sequence,
        mandate_reference=mandate.reference,
        signed_on=mandate.signed_on or timezone.localdate(mandate.created_at),
        debtor_name=mandate.holder_name,
        debtor_iban=mandate.iban.replace(" ", ""),
        debtor_bic=mandate.bic,
        remittance=f"{number} {rf_reference(number)}",
        original_iban=mandate.amended_from_iban.replace(" ", ""),
        other_bank=_other_bank(mandate),
    )


def _message_id(scheme: str, collect_on: date) -> str:
    return f"PAL-{scheme}-{collect_on:%Y%m%d}-{secrets.token_hex(6).upper()}"


@transaction.atomic
def direct_debit_export(
    *, scheme: str, collect_on: date, actor, ip: str | None = None
) -> DirectDebitExport:
    """The pain.008 file of the collections due on `collect_on` under `scheme`, for the
    seller's bank; they become exported (never in two files: their rows are locked, and an
    export running at the same moment waits, then finds them taken). A mandate's amended
    account goes to the bank with its first collection, and is then cleared.

    A collection whose invoice now asks less than its pre-notified amount (paid in part or
    credited since) stays out of the file, named in the audit event (`skipped`).

    ValidationError for an unknown scheme, a date not after today (the bank needs the file
    at least a business day before), nothing to collect, or a file the XSD refuses."""
    if scheme not in Mandate.Scheme.values:
        raise ValidationError({"scheme": _("Schéma de prélèvement inconnu.")})
    if collect_on <= timezone.localdate():
        raise ValidationError(
            {
                "collect_on": _(
                    "La date de prélèvement doit être après aujourd'hui : la banque reçoit le "
                    "fichier au moins un jour ouvré avant."
                )
            }
        )
    collections = list(
        exportable(scheme=scheme, collect_on=collect_on)
        .select_for_update(of=("self",))
        .select_related("mandate", "invoice")
        .order_by("pk")
    )
    # An invoice paid in part, or credited, since its pre-notification asks less than was
    # announced: collecting it would take money not owed. Left for support to look at.
    due = {
        invoice.pk: invoice.amount_due
        for invoice in with_credit_sums(
            Invoice.objects.filter(pk__in=[c.invoice_id for c in collections])
        )
    }
    skipped = [c for c in collections if due[c.invoice_id] < c.amount]
    collections = [c for c in collections if due[c.invoice_id] >= c.amount]
    if not collections:
        raise ValidationError(
            _("Aucun prélèvement à transmettre pour le %(date)s (%(scheme)s).")
            % {"date": collect_on.strftime("%d/%m/%Y"), "scheme": scheme}
        )
    sequences = _sequence_types(collections)
    transactions = [_transaction(c, sequences[c.mandate_id]) for c in collections]
    message_id = _message_id(scheme, collect_on)
    data = pain008.build(
        message_id=message_id,
        created_at=timezone.localtime(),
        scheme=scheme,
        collect_on=collect_on,
        creditor=_creditor(),
        transactions=transactions,
    )
    if problems := pain008.errors(data):
        raise ValidationError(
            _("Le fichier ne respecte pas le schéma pain.008.001.02 : %(errors)s")
            % {"errors": "; ".join(problems[:3])}
        )
    export = DirectDebitExport.objects.create(
        message_id=message_id,
        scheme=scheme,
        collect_on=collect_on,
        count=len(collections),
        total=sum(t.amount for t in transactions),
        xml=data.decode(),
        created_by=actor,
    )
    by_sequence = defaultdict(list)
    for collection in collections:
        collection.status, collection.export = Collection.Status.EXPORTED, export
        collection.sequence_type = sequences[collection.mandate_id]
        by_sequence[collection.sequence_type].append(collection.end_to_end_id)
    Collection.objects.bulk_update(collections, ["status", "export", "sequence_type"])
    amended = {c.mandate_id for c in collections if c.mandate.amended_from_iban}
    Mandate.objects.filter(pk__in=amended).update(amended_from_iban="", amended_from_bic="")
    audit_record(
        organisation=None,
        action="direct_debit.exported",
        actor=actor,
        support=True,
        after={
            "message_id": message_id,
            "scheme": scheme,
            "collect_on": collect_on.isoformat(),
            "count": export.count,
            "total": str(export.total),
            "collections": dict(by_sequence),
            "skipped": [c.invoice.number for c in skipped],
            "amendments": sorted(
                c.mandate.reference for c in collections if c.mandate_id in amended
            ),
        },
        ip=ip,
    )
    export.skipped = [c.invoice.number for c in skipped]  # for the page's message
    return export
