"""The pre-notification: each planned collection is announced to the owner and the billing
contacts at least DIRECT_DEBIT_NOTICE_DAYS before it (planned → notified), by the daily
task (payments.tasks). The pain.008 file that follows is exports.py's; what the statement
says of a collection, direct_debits.py's.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.guards import lock_account
from accounts.models import Organisation
from accounts.selectors import invoice_recipients
from emails.services import email_queue
from invoices.models import Invoice

from ..models import Collection, Mandate
from ..sepa import iban_masked


def notice_days() -> int:
    return settings.DIRECT_DEBIT_NOTICE_DAYS


@transaction.atomic
def collections_prenotify(*, organisation: Organisation, today: date | None = None) -> int:
    """Email the pre-notification of each of the account's planned collections due within
    the notice period (DIRECT_DEBIT_NOTICE_DAYS), and mark them notified: amount, date,
    invoice, masked IBAN, mandate reference and creditor identifier. A collection whose date
    is now closer than the notice period (the run was missed) is moved to today + the notice
    period first: the owner is always told that many days ahead. Idempotent: the account is
    locked and only planned collections are read, so a second run sends nothing. Returns
    the number notified."""
    today = today or timezone.localdate()
    earliest = today + timedelta(days=notice_days())
    organisation = lock_account(organisation)
    collections = list(
        Collection.objects.select_for_update(of=("self",))
        .filter(
            mandate__organisation=organisation,
            mandate__status=Mandate.Status.ACTIVE,
            status=Collection.Status.PLANNED,
            collect_on__lte=earliest,
            invoice__status=Invoice.Status.OPEN,
        )
        .select_related("mandate", "invoice")
        .order_by("collect_on", "pk")
    )
    recipients = invoice_recipients(organisation=organisation)
    if not collections or not recipients:
        # Nobody told, nothing notified: without its pre-notification a collection is
        # never exported, and a later run moves its date when someone can be told.
        return 0
    now = timezone.now()
    for collection in collections:
        planned_on = collection.collect_on
        collection.collect_on = max(planned_on, earliest)
        collection.status, collection.notified_at = Collection.Status.NOTIFIED, now
        collection.save(update_fields=["collect_on", "status", "notified_at"])
        email_queue(
            to=recipients,
            template="direct_debit_notice",
            context=_notice_context(collection, organisation),
            language=organisation.language or "fr",
            organisation=organisation,
        )
        audit_record(
            organisation=organisation,
            action="collection.notified",
            before={"collect_on": planned_on.isoformat()},
            after={
                "invoice": collection.invoice.number,
                "amount": str(collection.amount),
                "currency": collection.currency,
                "collect_on": collection.collect_on.isoformat(),
                "mandate": collection.mandate.reference,
                "to": recipients,
            },
        )
    return len(collections)


def _notice_context(collection: Collection, organisation: Organisation) -> dict:
    return {
        "organisation": organisation,
        "collection": collection,
        "invoice": collection.invoice,
        "mandate": collection.mandate,
        "iban": iban_masked(collection.mandate.iban),
        "creditor_id": settings.SELLER["creditor_id"],
        "creditor_name": settings.SELLER["legal_name"],
    }
