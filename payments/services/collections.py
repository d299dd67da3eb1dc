"""Planning the direct debits of invoices: one Collection per invoice to collect under the
account's active mandate, and cancelling those not yet sent to the bank.

The rule: an invoice in euros with something left to pay is collected for what is left,
on its due date, but never before the pre-notification notice has run
(collect_on = max(due date, today + DIRECT_DEBIT_NOTICE_DAYS)). SEPA debits are in euros
only: invoices in other currencies stay paid by transfer. What follows a planned
collection (pre-notification, pain.008 export, the statement that confirms or returns it)
belongs to the collection side of the payments app.
"""

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import User
from invoices.models import Invoice

from ..models import Collection, Mandate

CURRENCY = "EUR"


def collect_on_for(invoice: Invoice, today: date) -> date:
    return max(invoice.due_date, today + timedelta(days=settings.DIRECT_DEBIT_NOTICE_DAYS))


def _end_to_end_id(invoice: Invoice) -> str:
    """The invoice number and its collection counter (INV-10682-1, then -2 after a return):
    unique, readable in the bank's statements, in the SEPA character set."""
    count = Collection.objects.filter(invoice=invoice).count()
    while True:
        count += 1
        candidate = f"{invoice.number}-{count}"[:35]
        if not Collection.objects.filter(end_to_end_id=candidate).exists():
            return candidate


def is_collectable(invoice: Invoice) -> bool:
    return (
        not invoice.is_credit_note
        and invoice.status == Invoice.Status.OPEN
        and invoice.currency == CURRENCY
        and invoice.amount_due > 0
    )


def collection_plan(
    *, invoice: Invoice, mandate: Mandate, today: date | None = None, actor: User | None = None
) -> Collection | None:
    """Plan the collection of what is left to pay on `invoice` under `mandate`; None when
    there is nothing to collect (not in euros, nothing due, already being collected, the
    mandate not active). The caller holds the account lock."""
    if mandate.status != Mandate.Status.ACTIVE or not is_collectable(invoice):
        return None
    if Collection.objects.filter(invoice=invoice, status__in=Collection.OPEN).exists():
        return None
    today = today or timezone.localdate()
    collection = Collection.objects.create(
        invoice=invoice,
        mandate=mandate,
        amount=invoice.amount_due,
        currency=CURRENCY,
        collect_on=collect_on_for(invoice, today),
        end_to_end_id=_end_to_end_id(invoice),
        status=Collection.Status.PLANNED,
    )
    audit_record(
        organisation=invoice.organisation,
        action="collection.planned",
        actor=actor,
        after={
            "invoice": invoice.number,
            "amount": str(collection.amount),
            "currency": CURRENCY,
            "collect_on": collection.collect_on.isoformat(),
            "mandate": mandate.reference,
            "end_to_end_id": collection.end_to_end_id,
        },
    )
    return collection


def collection_plan_for_new_invoice(*, invoice: Invoice, actor=None) -> None:
    """invoices.hooks.invoice_issued: an invoice issued to an account with an active mandate
    is planned for collection (after the credit balance took its part: registered after
    credit_apply_to_new_invoice). Inside invoice_issue's transaction, the account locked."""
    if invoice.is_credit_note or invoice.currency != CURRENCY:
        return
    mandate = Mandate.objects.filter(
        organisation_id=invoice.organisation_id, status=Mandate.Status.ACTIVE
    ).first()
    if mandate is not None:
        invoice = Invoice.objects.get(pk=invoice.pk)  # amount_paid as the credit left it
        collection_plan(invoice=invoice, mandate=mandate, actor=actor)


def collections_plan_for_mandate(*, mandate: Mandate, today: date | None = None) -> list:
    """A mandate just became active: plan its account's open invoices in euros that no
    collection covers yet, oldest first."""
    invoices = Invoice.objects.filter(
        organisation_id=mandate.organisation_id,
        kind=Invoice.Kind.INVOICE,
        status=Invoice.Status.OPEN,
        currency=CURRENCY,
    ).order_by("due_date", "sequence")
    planned = []
    for invoice in invoices:
        collection = collection_plan(
            invoice=invoice, mandate=mandate, today=today, actor=mandate.signed_by
        )
        if collection is not None:
            planned.append(collection)
    return planned


@transaction.atomic
def collections_cancel(*, mandate: Mandate, reason: str, actor: User | None = None) -> list:
    """Cancel the collections of `mandate` not yet sent to the bank (planned or notified),
    with a reason recorded in the audit trail: the mandate was revoked, replaced or
    suspended. Those already exported are the bank's now: the statement will tell."""
    open_ = list(
        Collection.objects.select_for_update()
        .select_related("invoice")
        .filter(mandate=mandate, status__in=[Collection.Status.PLANNED, Collection.Status.NOTIFIED])
    )
    for collection in open_:
        collection.status = Collection.Status.CANCELLED
        collection.save(update_fields=["status"])
    if open_:
        audit_record(
            organisation=mandate.organisation,
            action="collection.cancelled",
            actor=actor,
            after={
                "mandate": mandate.reference,
                "reason": reason,
                "collections": [c.end_to_end_id for c in open_],
                "invoices": [c.invoice.number for c in open_],
            },
        )
    return open_
