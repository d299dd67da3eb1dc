"""Issuing invoices and credit notes and changing their status: the only writes to invoices.

`invoice_issue` is the one way an invoice or a credit note comes to exist (renewals,
upgrades, support and the demo all call it); `credit_note_issue` cancels an invoice through
it. The amounts come from invoices.totals, which previews them without writing.
"""

from collections.abc import Sequence
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.addresses import country_name
from accounts.audit import audit_record
from accounts.models import Organisation
from accounts.selectors import invoice_recipients
from accounts.vat import vat_territory
from billing_portal.queue import enqueue_on_commit
from emails.services import email_queue

from . import numbering
from .models import Invoice, InvoiceLine
from .tax import TaxRule
from .totals import (
    ComputedLine,
    LineSpec,
    compute,
    invoice_currency,
    organisation_tax_rule,
)

PAYMENT_TERM = timedelta(days=30)


def buyer_address_lines(organisation: Organisation, language: str) -> list[str]:
    """The address as printed, country name in the invoice's language."""
    if organisation.country in {"GB", "US", "CA", "AU", "IE", "NZ"}:
        town = f"{organisation.city} {organisation.postal_code}"
    else:
        town = f"{organisation.postal_code} {organisation.city}"
    lines = [organisation.address_line1, organisation.address_line2, town.strip()]
    lines.append(country_name(organisation.country, language))
    return [line for line in lines if line]


def buyer_street_lines(organisation: Organisation) -> list[str]:
    return [line for line in (organisation.address_line1, organisation.address_line2) if line]


def buyer_siren(organisation: Organisation) -> str:
    """A French business's SIREN, read from its VAT number (FR + 2-character key + SIREN).

    Printed since the 2026 e-invoicing reform; the account has no separate SIREN field.
    """
    number = organisation.vat_number
    if (
        vat_territory(organisation.country) == "FR"
        and number.startswith("FR")
        and len(number) == 13
    ):
        return number[4:]
    return ""


def _period(lines: list[ComputedLine]) -> tuple[date | None, date | None]:
    starts = [line.period_start for line in lines if line.period_start]
    ends = [line.period_end for line in lines if line.period_end]
    return (min(starts), max(ends)) if starts else (None, None)


def _buyer_snapshot(organisation: Organisation, language: str) -> dict:
    return {
        "buyer_legal_name": organisation.name,
        "buyer_address_lines": buyer_address_lines(organisation, language),
        "buyer_country": organisation.country,
        "buyer_vat_number": organisation.vat_number,
        "buyer_siren": buyer_siren(organisation),
        "buyer_street_lines": buyer_street_lines(organisation),
        "buyer_postal_code": organisation.postal_code,
        "buyer_city": organisation.city,
    }


BUYER_FIELDS = [
    "buyer_legal_name",
    "buyer_address_lines",
    "buyer_country",
    "buyer_vat_number",
    "buyer_siren",
    "buyer_street_lines",
    "buyer_postal_code",
    "buyer_city",
]


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
    return locked


@transaction.atomic
def invoice_issue(
    *,
    organisation: Organisation,
    lines: Sequence[LineSpec],
    currency: str | None = None,
    issue_date: date | None = None,
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
    kind: str = "invoice",
    corrects=None,
    reason: str = "",
) -> Invoice:
    """Issue an invoice (or a credit note) to `organisation`, numbered, snapshotted, final.

    After commit its PDF is rendered (invoices.tasks) and it is emailed, PDF attached, to
    the account owner and billing contacts. Raises ValidationError for a date before the
    last issued invoice or in the future, ValueError for malformed lines.

    A credit note (kind "credit_note", `corrects` the invoice it cancels; normally through
    `credit_note_issue`) repeats its invoice's buyer, language, currency and tax treatment,
    whatever the account says today, and is refused for a credit note, a paid invoice or
    an invoice that already has one.
    """
    # Lock the account: the snapshot must not interleave with an address or VAT change.
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    today = timezone.localdate()
    issue_date = issue_date or today
    if issue_date > today:
        raise ValidationError({"issue_date": _("Une facture ne peut pas être datée du futur.")})
    if kind not in Invoice.Kind.values:
        raise ValueError(f"Unknown kind {kind!r}")
    credit_note = kind == Invoice.Kind.CREDIT_NOTE
    if credit_note != (corrects is not None):
        raise ValueError("A credit note corrects exactly one invoice; an invoice corrects none.")
    if credit_note:
        corrects = _lock_invoice_to_credit(corrects, organisation)
        if currency and currency.upper() != corrects.currency:
            raise ValueError("A credit note is in the currency of the invoice it corrects.")
        currency, language = corrects.currency, corrects.language
        # The invoice's treatment and rate, and its mention word for word: the credit note
        # reverses exactly the VAT that was invoiced.
        rule = TaxRule(corrects.tax_treatment, corrects.vat_rate, corrects.buyer_vat_number)
        totals = compute(lines, rule, currency, mention=corrects.tax_mention)
        buyer = {name: getattr(corrects, name) for name in BUYER_FIELDS}
        if totals.total > 0 or -totals.total > corrects.total:
            raise ValueError("A credit note is negative and at most the invoice it corrects.")
    else:
        currency = invoice_currency(organisation, currency)
        language = organisation.language or settings.LANGUAGE_CODE
        with translation.override(language):
            totals = compute(lines, organisation_tax_rule(organisation), currency)
            buyer = _buyer_snapshot(organisation, language)
        if totals.total < 0:
            raise ValueError("An invoice total cannot be negative: issue a credit note.")
    period_start, period_end = _period(totals.lines)
    seller = settings.SELLER

    # From here to commit the counter row is locked: keep this part short.
    # Invoices and credit notes share the one gapless series (docs/invoices.md, Numbering).
    sequence = numbering.next_number(issue_date=issue_date)
    invoice = Invoice(
        number=numbering.format_number(sequence),
        sequence=sequence,
        organisation=organisation,
        kind=kind,
        corrects=corrects,
        # A credit note cancels an unpaid invoice: nothing is left to pay or to refund, it
        # is settled when issued (and never listed among the invoices awaiting payment).
        status=Invoice.Status.PAID if credit_note else Invoice.Status.OPEN,
        issue_date=issue_date,
        due_date=issue_date if credit_note else issue_date + PAYMENT_TERM,
        period_start=period_start,
        period_end=period_end,
        currency=currency,
        language=language,
        subtotal=totals.subtotal,
        vat_rate=totals.vat_rate,
        vat_amount=totals.vat_amount,
        total=totals.total,
        tax_treatment=totals.treatment,
        tax_mention=totals.mention,
        seller_legal_name=seller["legal_name"],
        seller_legal_form=seller.get("legal_form", ""),
        seller_address_lines=list(seller["address_lines"]),
        seller_country=seller["country"],
        seller_siren=seller.get("siren", ""),
        seller_rcs=seller.get("rcs", ""),
        seller_vat_number=seller.get("vat_number", ""),
        seller_iban=seller.get("iban", ""),
        seller_bic=seller.get("bic", ""),
        seller_vat_on_debits=bool(seller.get("vat_on_debits", False)),
        **buyer,
    )
    invoice.save()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            description=line.description,
            period_start=line.period_start,
            period_end=line.period_end,
            quantity=line.quantity,
            unit_price=line.unit_price,
            vat_rate=line.vat_rate,
            amount=line.amount,
        )
        for position, line in enumerate(totals.lines, start=1)
    )
    after = {
        "number": invoice.number,
        "kind": kind,
        "issue_date": issue_date.isoformat(),
        "total": str(invoice.total),
        "currency": currency,
    }
    if credit_note:
        after.update(corrects=corrects.number, reason=reason)
    audit_record(
        organisation=organisation,
        action="credit_note.issued" if credit_note else "invoice.issued",
        actor=actor,
        support=by_support,
        after=after,
        ip=ip,
    )

    from .tasks import invoice_pdf_render_task

    # A broker outage must not fail the issue: the PDF is then rendered by its first reader.
    enqueue_on_commit(invoice_pdf_render_task, invoice.pk)
    _email_document(invoice, organisation, invoice_recipients(organisation=organisation))
    return invoice


def _email_document(invoice: Invoice, organisation: Organisation, recipients: list[str]):
    """Queue the invoice's (or credit note's) email, its PDF attached when it is sent."""
    return email_queue(
        to=recipients,
        template="credit_note_issued" if invoice.is_credit_note else "invoice_issued",
        context={"invoice": invoice, "organisation": organisation},
        language=invoice.language,
        organisation=organisation,
        attachments=[
            {
                "invoice_id": invoice.pk,
                "filename": invoice.pdf_filename,
                "mimetype": "application/pdf",
            }
        ],
    )


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
    credit_note = invoice_issue(
        organisation=invoice.organisation,
        lines=lines,
        kind=Invoice.Kind.CREDIT_NOTE,
        corrects=invoice,
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
    )
    return credit_note


@transaction.atomic
def invoice_email_resend(
    *, invoice: Invoice, actor, by_support: bool = False, ip: str | None = None
) -> list:
    """Email an invoice (or credit note) again, PDF attached, to today's recipients: the
    account owner and billing contacts as they are now, not as they were at issue."""
    invoice = Invoice.objects.select_related("organisation", "corrects").get(pk=invoice.pk)
    organisation = invoice.organisation
    recipients = invoice_recipients(organisation=organisation)
    if not recipients:
        raise ValidationError(
            _("Le compte n'a ni propriétaire ni contact de facturation : personne à qui écrire.")
        )
    rows = _email_document(invoice, organisation, recipients)
    audit_record(
        organisation=organisation,
        action="invoice.emailed",
        actor=actor,
        support=by_support,
        after={"number": invoice.number, "to": recipients},
        ip=ip,
    )
    return rows


def _set_status(
    *, invoice, new: str, allowed_from: set[str], action: str, actor, by_support, ip, extra=None
):
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status == new:
        return locked
    if locked.status not in allowed_from:
        raise ValidationError(
            _("Une facture « %(status)s » ne peut pas passer à « %(new)s ».")
            % {"status": locked.get_status_display(), "new": Invoice.Status(new).label}
        )
    # The immutability guard lets exactly this column change.
    Invoice.objects.filter(pk=locked.pk).update(status=new)
    audit_record(
        organisation=locked.organisation,
        action=action,
        actor=actor,
        support=by_support,
        before={"number": locked.number, "status": locked.status},
        after={"number": locked.number, "status": new, **(extra or {})},
        ip=ip,
    )
    return Invoice.objects.get(pk=locked.pk)


@transaction.atomic
def invoice_mark_paid(
    *, invoice: Invoice, actor=None, by_support: bool = False, ip: str | None = None
) -> Invoice:
    """Record that an open invoice was paid (the bank transfer arrived)."""
    return _set_status(
        invoice=invoice,
        new=Invoice.Status.PAID,
        allowed_from={Invoice.Status.OPEN},
        action="invoice.paid",
        actor=actor,
        by_support=by_support,
        ip=ip,
    )
