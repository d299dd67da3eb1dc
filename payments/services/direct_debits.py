"""What the bank's statement says of an exported collection: booked (the invoice is paid,
`collection_confirm`), or returned or refused (`collection_return`: the payment is undone,
the invoice asks for its amount again, the owner is told why; too many returns suspend the
mandate). Both are called by statement_import for the entries carrying a collection's
end-to-end id.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from stdnum import iban as iban_number

from accounts.audit import audit_record
from accounts.guards import lock_account
from accounts.models import Membership
from emails.services import email_queue
from invoices import services as invoice_services
from invoices.models import Invoice

from ..models import (
    Allocation,
    AllocationReversal,
    BankEntry,
    Collection,
    Mandate,
    Payment,
    Refund,
)
from ..return_reasons import reason_text
from ..sepa import iban_masked
from . import _ledger
from .collections import collections_cancel
from .payments import payment_record


def _owner_emails(organisation) -> list[str]:
    return list(
        Membership.objects.filter(
            organisation=organisation, role=Membership.Role.OWNER
        ).values_list("user__email", flat=True)
    )


@transaction.atomic
def collection_confirm(
    *, collection: Collection, entry: BankEntry, actor=None, ip: str | None = None
) -> Payment:
    """The statement booked an exported collection: record the direct-debit payment for
    its invoice (receipt and allocation as any payment), and mark the collection paid."""
    collection = Collection.objects.select_related("mandate", "invoice__organisation").get(
        pk=collection.pk
    )
    organisation = lock_account(collection.invoice.organisation)
    collection = Collection.objects.select_for_update().get(pk=collection.pk)
    if collection.status != Collection.Status.EXPORTED:
        raise ValidationError(_("Ce prélèvement n'est pas en attente de la banque."))
    mandate = Mandate.objects.get(pk=collection.mandate_id)
    invoice = Invoice.objects.get(pk=collection.invoice_id)
    payment = payment_record(
        organisation=organisation,
        amount=entry.amount,
        currency=entry.currency,
        received_on=min(entry.booked_on, timezone.localdate()),
        method=Payment.Method.DIRECT_DEBIT,
        payer_name=mandate.holder_name or entry.payer_name,
        payer_iban=mandate.iban if iban_number.is_valid(mandate.iban) else "",
        bank_reference=entry.bank_reference or entry.end_to_end_id,
        note=_("Prélèvement SEPA %(reference)s, mandat %(mandate)s")
        % {"reference": collection.end_to_end_id, "mandate": mandate.reference},
        invoices=[invoice],
        bank_entry=entry,
        actor=actor,
        by_support=True,
        ip=ip,
    )
    collection.status, collection.payment = Collection.Status.PAID, payment
    collection.save(update_fields=["status", "payment"])
    audit_record(
        organisation=organisation,
        action="collection.paid",
        actor=actor,
        support=True,
        after={
            "invoice": invoice.number,
            "end_to_end_id": collection.end_to_end_id,
            "amount": str(entry.amount),
            "booked_on": entry.booked_on.isoformat(),
        },
        ip=ip,
    )
    return payment


@transaction.atomic
def collection_return(
    *, collection: Collection, entry: BankEntry, actor=None, ip: str | None = None
) -> Collection:
    """The bank returned or refused a collection (`entry`, a debit with its reason code).

    Booked as paid before: every allocation of its payment is undone (the invoices ask for
    the money again, a paid one reopens) and the money is recorded as gone back to the payer,
    a `Refund` taken from that payment, so the account's credit does not grow. Never booked
    (rejected before settlement): nothing to undo. Either way the collection is returned
    with the reason, the owner is told in plain words, and a mandate with
    DIRECT_DEBIT_MAX_RETURNS returns is suspended."""
    collection = Collection.objects.select_related("invoice__organisation").get(pk=collection.pk)
    organisation = lock_account(collection.invoice.organisation)
    collection = Collection.objects.select_for_update().get(pk=collection.pk)
    if collection.status not in (Collection.Status.EXPORTED, Collection.Status.PAID):
        raise ValidationError(_("Ce prélèvement n'est pas en cours : rien à rejeter."))
    mandate = Mandate.objects.select_for_update().get(pk=collection.mandate_id)
    code = entry.return_reason
    reason = _("Prélèvement rejeté par la banque (%(code)s) : %(text)s") % {
        "code": code or "—",
        "text": _reason_in(code, "fr"),
    }
    reopened, refund = [], None
    if collection.payment_id:
        reopened, refund = _undo_payment(
            collection.payment_id, entry, reason, mandate, actor=actor, ip=ip
        )
    collection.status = Collection.Status.RETURNED
    collection.return_reason, collection.returned_on = code, entry.booked_on
    collection.return_entry = entry
    collection.save(update_fields=["status", "return_reason", "returned_on", "return_entry"])
    invoice = Invoice.objects.get(pk=collection.invoice_id)
    audit_record(
        organisation=organisation,
        action="collection.returned",
        actor=actor,
        support=True,
        after={
            "invoice": invoice.number,
            "end_to_end_id": collection.end_to_end_id,
            "reason": code,
            "returned_on": entry.booked_on.isoformat(),
            "after_settlement": bool(collection.payment_id),
            "reopened": reopened,
            "refund": str(refund.amount) if refund else "",
        },
        ip=ip,
    )
    if owners := _owner_emails(organisation):
        email_queue(
            to=owners,
            template="direct_debit_returned",
            context={
                "organisation": organisation,
                "collection": collection,
                "invoice": invoice,
                "mandate": mandate,
                "iban": iban_masked(mandate.iban),
                "code": code,
                "reason": _reason_in(code, organisation.language or "fr"),
            },
            language=organisation.language or "fr",
            organisation=organisation,
        )
    returns = Collection.objects.filter(mandate=mandate, status=Collection.Status.RETURNED).count()
    if mandate.status == Mandate.Status.ACTIVE and returns >= settings.DIRECT_DEBIT_MAX_RETURNS:
        _mandate_suspend(mandate, organisation, returns, actor=actor, ip=ip)
    return collection


def _reason_in(code: str, language: str) -> str:
    with translation.override(language):
        return reason_text(code)


def _undo_payment(payment_id, entry, reason, mandate, *, actor, ip):
    """Undo what the returned payment paid, then record the money as gone back: returns
    the invoice numbers it reopened and the refund."""
    payment = Payment.objects.get(pk=payment_id)
    active = list(
        Allocation.objects.filter(payment=payment, invoice__isnull=False, reversal__isnull=True)
        .select_related("invoice")
        .order_by("pk")
    )
    reopened = []
    for allocation in active:
        AllocationReversal.objects.create(allocation=allocation, reason=reason, actor=actor)
        invoice = Invoice.objects.select_for_update().get(pk=allocation.invoice_id)
        after = invoice_services.invoice_payments_record(
            invoice=invoice,
            amount_paid=invoice.amount_paid - allocation.amount,
            paid_on=None,
            actor=actor,
            by_support=True,
            ip=ip,
        )
        if after.status == Invoice.Status.OPEN:
            reopened.append(invoice.number)
    # The money left the seller's account: taken from this payment first, then, if support
    # had refunded part of it already, from the account's other credit.
    sources = _ledger.remainders(payment.organisation, payment.currency)
    sources.sort(key=lambda source: source[0].pk != payment.pk)
    wanted = min(entry.amount, payment.amount)
    parts, still = [], wanted
    for source, left in sources:
        if still <= 0:
            break
        part = min(left, still)
        parts.append((source, part))
        still -= part
    taken = sum((part for _source, part in parts), Decimal(0))
    if taken <= 0:
        return reopened, None
    refund = Refund.objects.create(
        organisation=payment.organisation,
        amount=taken,
        currency=payment.currency,
        refunded_on=min(entry.booked_on, timezone.localdate()),
        payee_iban=iban_number.compact(mandate.iban) if iban_number.is_valid(mandate.iban) else "",
        reference=(entry.bank_reference or entry.end_to_end_id)[:140],
        reason=reason,
        actor=actor,
    )
    Allocation.objects.bulk_create(
        [
            Allocation(payment=source, refund=refund, amount=part, actor=actor)
            for source, part in parts
        ]
    )
    return reopened, refund


def _mandate_suspend(mandate: Mandate, organisation, returns: int, *, actor, ip) -> None:
    """Too many returns: the mandate is suspended and its collections not yet at the bank
    are cancelled (the invoices stay open, to be paid by transfer)."""
    mandate.status = Mandate.Status.SUSPENDED
    mandate.end_reason = _("%(count)d prélèvements rejetés par la banque.") % {"count": returns}
    mandate.save(update_fields=["status", "end_reason"])
    cancelled = collections_cancel(mandate=mandate, reason=mandate.end_reason, actor=actor)
    audit_record(
        organisation=organisation,
        action="mandate.suspended",
        actor=actor,
        support=True,
        before={"status": Mandate.Status.ACTIVE},
        after={
            "mandate": mandate.reference,
            "status": Mandate.Status.SUSPENDED,
            "returns": returns,
            "cancelled": [c.invoice.number for c in cancelled],
        },
        ip=ip,
    )
    if owners := _owner_emails(organisation):
        email_queue(
            to=owners,
            template="direct_debit_suspended",
            context={
                "organisation": organisation,
                "mandate": mandate,
                "iban": iban_masked(mandate.iban),
                "returns": returns,
                "cancelled": [c.invoice for c in cancelled],
            },
            language=organisation.language or "fr",
            organisation=organisation,
        )
