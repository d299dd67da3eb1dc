"""Cancelling an invoice with a credit note (« avoir »): the invoice's lines negated.

A credit note repeats its invoice's buyer, language, currency and tax treatment, whatever the
account says today; it is numbered in the invoices' series and emailed like one
(documents.py), and its invoice becomes void (status.py).
"""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Organisation

from ..models import Invoice, InvoiceStatusEvent
from ..tax import TaxRule
from ..totals import LineSpec, compute
from .documents import _audit_after, _buyer_snapshot_of, _document_create, _document_send
from .history import credit_note_allowed, lifecycle_portal_event
from .status import _set_status


def _lock_invoice_to_credit(invoice: Invoice, organisation: Organisation) -> Invoice:
    """The invoice a credit note cancels, locked until commit: two support agents voiding it
    at once queue here, and the second finds the first one's credit note."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.organisation_id != organisation.pk:
        raise ValueError("A credit note corrects an invoice of the same account.")
    if locked.is_credit_note:
        raise ValidationError(
            _("%(number)s est un avoir : un avoir ne peut pas être annulé.")
            % {"number": locked.number}
        )
    existing = locked.corrections.filter(kind=Invoice.Kind.CREDIT_NOTE).first()
    if existing is not None:
        raise ValidationError(
            _("La facture %(number)s est déjà annulée par l'avoir %(credit_note)s.")
            % {"number": locked.number, "credit_note": existing.number}
        )
    if locked.status == Invoice.Status.PAID:
        raise ValidationError(
            _(
                "La facture %(number)s est payée : elle ne peut pas être annulée par un avoir "
                "(un remboursement se traite à part)."
            )
            % {"number": locked.number}
        )
    credit_note_allowed(locked)
    return locked


def _credit_note_create(
    *,
    organisation: Organisation,
    corrects: Invoice,
    lines: Sequence[LineSpec],
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
    reason: str = "",
) -> Invoice:
    """Write, audit and send the credit note of `corrects` made of `lines` (negative, at
    most the invoice). Inside credit_note_issue's transaction."""
    # The same lock order as an invoice's issue: the account, then the invoice, then the
    # counter (documents.py).
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    corrects = _lock_invoice_to_credit(corrects, organisation)
    # The invoice's treatment and rate, and its mention word for word: the credit note
    # reverses exactly the VAT that was invoiced.
    rule = TaxRule(corrects.tax_treatment, corrects.vat_rate, corrects.buyer_vat_number)
    totals = compute(lines, rule, corrects.currency, mention=corrects.tax_mention)
    if totals.total > 0 or -totals.total > corrects.total:
        raise ValueError("A credit note is negative and at most the invoice it corrects.")

    issue_date = timezone.localdate()
    credit_note = _document_create(
        organisation=organisation,
        kind=Invoice.Kind.CREDIT_NOTE,
        corrects=corrects,
        # A credit note cancels an unpaid invoice: nothing is left to pay or to refund, it
        # is settled when issued (and never listed among the invoices awaiting payment).
        status=Invoice.Status.PAID,
        issue_date=issue_date,
        due_date=issue_date,
        language=corrects.language,
        totals=totals,
        buyer=_buyer_snapshot_of(corrects),
        # The services it cancels were rendered when the invoice says.
        service_date=corrects.service_date,
    )
    audit_record(
        organisation=organisation,
        action="credit_note.issued",
        actor=actor,
        support=by_support,
        after={**_audit_after(credit_note), "corrects": corrects.number, "reason": reason},
        ip=ip,
    )
    lifecycle_portal_event(invoice=credit_note, code=InvoiceStatusEvent.Code.ISSUED, actor=actor)
    _document_send(credit_note, organisation)
    return credit_note


@transaction.atomic
def credit_note_issue(
    *, invoice: Invoice, actor, reason: str, ip: str | None = None, by_support: bool = False
) -> Invoice:
    """Cancel `invoice` with a credit note: the same lines negated, the same buyer and tax
    treatment as the invoice, numbered in the same series, emailed like an invoice; the
    invoice becomes void. Refused (ValidationError) without a reason, for a credit note, a
    paid invoice, or an invoice already cancelled."""
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise ValidationError({"reason": _("Indiquez la raison de l'annulation.")})
    if len(reason) > 500:
        raise ValidationError({"reason": _("500 caractères au maximum.")})
    lines = [
        LineSpec(
            description=line.description,
            quantity=line.quantity,
            unit_price=-line.unit_price,
            period_start=line.period_start,
            period_end=line.period_end,
        )
        for line in invoice.lines.order_by("position")
    ]
    credit_note = _credit_note_create(
        organisation=invoice.organisation,
        corrects=invoice,
        lines=lines,
        actor=actor,
        by_support=by_support,
        ip=ip,
        reason=reason,
    )
    # Line by line negation rounds symmetrically (half up is "away from zero"): the credit
    # note is the exact opposite of the invoice, or nothing is written.
    original = Invoice.objects.get(pk=invoice.pk)
    if (credit_note.subtotal, credit_note.vat_amount, credit_note.total) != (
        -original.subtotal,
        -original.vat_amount,
        -original.total,
    ):
        raise RuntimeError(f"Credit note {credit_note.number} does not cancel {original}.")
    _set_status(
        invoice=original,
        new=Invoice.Status.VOID,
        allowed_from={Invoice.Status.OPEN},
        action="invoice.voided",
        actor=actor,
        by_support=by_support,
        ip=ip,
        extra={"credit_note": credit_note.number, "reason": reason},
        events=(InvoiceStatusEvent.Code.VOID,),
    )
    return credit_note
