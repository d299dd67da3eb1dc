"""Crediting an invoice with a credit note (« avoir »): the whole invoice, chosen lines (a
quantity of each) or an amount excl. VAT; never more than what is left to credit on it.

A credit note repeats its invoice's buyer, language, currency and tax treatment, whatever the
account says today; it is numbered in the invoices' series and emailed like one
(documents.py). A credit note first takes off what is still due on the invoice; what it
credits beyond, money the customer already paid, goes back to the account's credit balance
(`returned_to_credit`; the payments app moves it, through invoices.hooks.invoice_credited).
An open invoice credited in full becomes void (status.py); one whose payments now settle what
is left becomes paid; a paid one stays paid.
"""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Organisation
from billing_portal.formatting import money

from .. import exchange_rates, hooks
from ..models import Invoice, InvoiceLine, InvoiceStatusEvent
from ..selectors import CreditRemaining, LineRemaining, invoice_credit_remaining
from ..tax import TaxRule
from ..templatetags.invoice_tags import quantity as quantity_text
from ..totals import CreditSpec, LineSpec, Totals, compute_credit
from .documents import _audit_after, _buyer_snapshot_of, _document_create, _document_send
from .history import credit_note_allowed, lifecycle_portal_event
from .status import _set_status, invoice_mark_paid

ZERO = Decimal("0.00")


def _lock_invoice_to_credit(invoice: Invoice) -> Invoice:
    """The invoice a credit note credits, locked until commit (after its account): two
    support agents crediting it at once queue here, and the second one sees the first one's
    credit note."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.is_credit_note:
        raise ValidationError(
            _("%(number)s est un avoir : un avoir ne peut pas être annulé.")
            % {"number": locked.number}
        )
    credit_note_allowed(locked)
    return locked


def _already_credited(invoice: Invoice, credit_notes: list[Invoice]) -> ValidationError:
    numbers = ", ".join(note.number for note in credit_notes)
    if len(credit_notes) == 1:
        message = _("La facture %(number)s est déjà annulée par l'avoir %(credit_note)s.")
        return ValidationError(message % {"number": invoice.number, "credit_note": numbers})
    message = _("La facture %(number)s est déjà entièrement créditée par les avoirs %(numbers)s.")
    return ValidationError(message % {"number": invoice.number, "numbers": numbers})


def _line_credit(left: LineRemaining, quantity: Decimal) -> tuple[CreditSpec, InvoiceLine]:
    """`quantity` of an invoice line, negated, knowing what was credited of it before."""
    line = left.line
    spec = LineSpec(
        description=line.description,
        quantity=quantity,
        unit_price=-line.unit_price,
        period_start=line.period_start,
        period_end=line.period_end,
    )
    return CreditSpec(spec, left.credited_quantity, left.credited_amount), line


def _chosen_lines(
    remaining: CreditRemaining, lines: Mapping[int, Decimal]
) -> list[tuple[CreditSpec, InvoiceLine]]:
    """The chosen lines (position → quantity, a zero skips the line), each quantity at most
    what is left to credit of its line; every refusal at once."""
    number = remaining.invoice.number
    credits, errors, seen = [], [], set()
    for position, asked in lines.items():
        try:
            line_left = remaining.lines.get(int(position))
        except (TypeError, ValueError):
            line_left = None
        if line_left is None or line_left.line.position in seen:
            errors.append(
                _("La facture %(number)s n'a pas de ligne %(position)s.")
                % {"number": number, "position": position}
                if line_left is None
                else _("Ligne %(position)s indiquée deux fois.") % {"position": position}
            )
            continue
        seen.add(line_left.line.position)
        quantity = _decimal(asked)
        if quantity is None or quantity < 0 or quantity.as_tuple().exponent < -3:
            errors.append(
                _("Ligne %(position)s : indiquez une quantité positive, 3 décimales au plus.")
                % {"position": position}
            )
        elif quantity > line_left.quantity:
            errors.append(
                _("Ligne %(position)s : %(left)s au plus reste à créditer (%(asked)s demandé).")
                % {
                    "position": position,
                    "left": quantity_text(line_left.quantity),
                    "asked": quantity_text(quantity),
                }
            )
        elif quantity > 0:
            credits.append((line_left.line.position, _line_credit(line_left, quantity)))
    if errors:
        raise ValidationError({"lines": errors})
    if not credits:
        raise ValidationError({"lines": _("Indiquez la quantité à créditer d'au moins une ligne.")})
    return [credit for _position, credit in sorted(credits, key=lambda item: item[0])]


def _what_is_left(remaining: CreditRemaining) -> list[tuple[CreditSpec, InvoiceLine | None]]:
    """Everything left to credit: what is left of each line when the lines make it up (only
    lines were credited so far), else one line of the balance excl. VAT."""
    lines = [left for left in remaining.lines.values() if left.quantity > 0]
    if lines and sum((left.amount for left in lines), ZERO) == remaining.subtotal:
        return [_line_credit(left, left.quantity) for left in lines]
    return [_amount_credit(remaining.invoice, remaining.subtotal, balance=True)]


def _amount_credit(invoice: Invoice, amount: Decimal, *, balance: bool = False):
    """One line crediting `amount` excl. VAT of `invoice`, over its period, worded in its
    language. It credits no line in particular."""
    with translation.override(invoice.language):
        if balance:
            description = _("Solde de la facture %(number)s") % {"number": invoice.number}
        else:
            description = _("Avoir partiel sur la facture %(number)s") % {"number": invoice.number}
    spec = LineSpec(
        description=description,
        quantity=Decimal(1),
        unit_price=-amount,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
    )
    return CreditSpec(spec), None


def _decimal(value) -> Decimal | None:
    """A finite Decimal from a Decimal, an int or a string, else None (floats included)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _chosen_amount(remaining: CreditRemaining, amount) -> list[tuple[CreditSpec, None]]:
    invoice = remaining.invoice
    value = _decimal(amount)
    if value is None or value <= 0 or value.as_tuple().exponent < -2:
        raise ValidationError({"amount": _("Indiquez un montant HT positif, au centime près.")})
    if value > remaining.subtotal:
        raise ValidationError(
            {
                "amount": _("Au plus %(remaining)s HT reste à créditer sur la facture %(number)s.")
                % {
                    "remaining": money(remaining.subtotal, invoice.currency),
                    "number": invoice.number,
                }
            }
        )
    return [_amount_credit(invoice, value)]


def _credit_totals(
    remaining: CreditRemaining, credits: list[tuple[CreditSpec, InvoiceLine | None]]
) -> Totals:
    # The invoice's treatment and rate, and its mention word for word: the credit note
    # reverses exactly the VAT that was invoiced, rounded as the invoice was.
    invoice = remaining.invoice
    return compute_credit(
        [spec for spec, _line in credits],
        TaxRule(invoice.tax_treatment, invoice.vat_rate, invoice.buyer_vat_number),
        invoice.currency,
        mention=invoice.tax_mention,
        subtotal_before=remaining.credited_subtotal,
        vat_before=remaining.credited_vat,
    )


def _credit_plan(remaining: CreditRemaining, *, lines, amount):
    """What the credit note credits (`scope`, its lines with the invoice lines they credit)
    and its amounts; ValidationError when that is no credit or more than is left."""
    invoice = remaining.invoice
    if lines is None and amount is None:
        scope, credits = "whole", _what_is_left(remaining)
    elif lines is not None:
        scope, credits = "lines", _chosen_lines(remaining, lines)
    else:
        scope, credits = "amount", _chosen_amount(remaining, amount)
    totals = _credit_totals(remaining, credits)
    if totals.subtotal >= 0 and not (scope == "whole" and not remaining.credit_notes):
        # (A whole invoice of zero is cancelled by a credit note of zero.)
        raise ValidationError(
            {
                "lines": _(
                    "Les lignes choisies ne font pas un avoir : leur total est positif ou nul "
                    "(une ligne de crédit ne se crédite qu'avec la ligne qu'elle réduit)."
                )
            }
        )
    if -totals.subtotal > remaining.subtotal:
        raise ValidationError(
            {
                "lines": _(
                    "L'avoir (%(amount)s HT) dépasse ce qui reste à créditer sur la facture "
                    "%(number)s : %(remaining)s HT (%(remaining_total)s TTC)."
                )
                % {
                    "amount": money(-totals.subtotal, invoice.currency),
                    "number": invoice.number,
                    "remaining": money(remaining.subtotal, invoice.currency),
                    "remaining_total": money(remaining.total, invoice.currency),
                }
            }
        )
    # compute_credit never lets the VAT credited pass the invoice's, nor leaves VAT behind
    # once the subtotal is credited; nothing is written if it did.
    vat_left = remaining.vat_amount + totals.vat_amount
    if vat_left < 0 or (remaining.subtotal + totals.subtotal == 0 and vat_left != 0):
        raise RuntimeError(f"A credit note of {invoice} would not add up to it.")
    return scope, credits, totals


def _returned_to_credit(locked: Invoice, remaining: CreditRemaining, totals: Totals) -> Decimal:
    """What of this credit note is money already paid on the invoice, so goes back to the
    account's credit balance: all of it on a paid invoice, what passes the amount still due
    on an open one (its total less its credit notes and payments), none on a void one.
    Never more than was paid: a credit note credits at most what is left of the invoice."""
    credited = max(-totals.total, ZERO)  # (the whole of a negative invoice credits nothing)
    if locked.status == Invoice.Status.PAID:
        return credited
    if locked.status == Invoice.Status.OPEN:
        due = max(remaining.total - locked.amount_paid, ZERO)
        return max(credited - due, ZERO)
    return ZERO


def _amounts(document: Invoice) -> tuple[Decimal, Decimal, Decimal]:
    return document.subtotal, document.vat_amount, document.total


@transaction.atomic
def credit_note_issue(
    *,
    invoice: Invoice,
    actor,
    reason: str,
    ip: str | None = None,
    by_support: bool = False,
    lines: Mapping[int, Decimal] | None = None,
    amount: Decimal | None = None,
) -> Invoice:
    """Credit `invoice` with a credit note: the same buyer and tax treatment as the invoice,
    numbered in the same series, emailed like an invoice to the owner and billing contacts.

    Without `lines` or `amount`: everything left to credit (the whole invoice, its lines
    negated, when it has no credit note yet). `lines` maps line positions to the quantity
    to credit, at most what is left of each; `amount` credits an amount excl. VAT at the
    invoice's rate. Either way at most what is left of the invoice.

    It first takes off what is still due; the rest, money already paid on the invoice
    (`returned_to_credit`), goes back to the account's credit balance through
    `hooks.invoice_credited` (the payments app undoes that much of the invoice's payments).
    An open invoice credited in full becomes void, one whose payments now settle what is
    left becomes paid (today); a paid invoice stays paid.

    Refused (ValidationError, nothing written, no number taken) without a reason, for a
    credit note, a rejected invoice, an invoice credited in full, beyond what is left, or
    for part of an invoice voided without a credit note."""
    if lines is not None and amount is not None:
        raise ValueError("Credit chosen lines or an amount, not both.")
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise ValidationError({"reason": _("Indiquez la raison de l'avoir.")})
    if len(reason) > 500:
        raise ValidationError({"reason": _("500 caractères au maximum.")})

    # The lock order of every issue: the account, then the invoice, then the counter.
    organisation = Organisation.objects.select_for_update().get(pk=invoice.organisation_id)
    locked = _lock_invoice_to_credit(invoice)
    remaining = invoice_credit_remaining(locked)
    earlier = remaining.credit_notes
    if earlier and remaining.subtotal <= 0:
        raise _already_credited(locked, earlier)
    if locked.status == Invoice.Status.VOID and (
        earlier or lines is not None or amount is not None
    ):
        # Void without a credit note: voided before credit notes existed, or rejected (which
        # credit_note_allowed refused); only the whole invoice can get its correction.
        raise ValidationError(
            _("La facture %(number)s est annulée : seul un avoir de la totalité est possible.")
            % {"number": locked.number}
        )

    scope, credits, totals = _credit_plan(remaining, lines=lines, amount=amount)
    returned = _returned_to_credit(locked, remaining, totals)

    issue_date = timezone.localdate()
    euro_vat = exchange_rates.euro_vat_of_credit(
        invoice=locked, vat_amount=totals.vat_amount, earlier=earlier, day=issue_date
    )
    credit_note = _document_create(
        organisation=organisation,
        kind=Invoice.Kind.CREDIT_NOTE,
        corrects=locked,
        # Settled when issued: it is taken off what is left to pay, or gives money already
        # paid back to the account's credit; it never awaits a payment.
        status=Invoice.Status.PAID,
        returned_to_credit=returned,
        issue_date=issue_date,
        due_date=issue_date,
        language=locked.language,
        totals=totals,
        buyer=_buyer_snapshot_of(locked),
        credited_lines=[line for _spec, line in credits],
        # The services it credits were rendered when the invoice says.
        service_date=locked.service_date,
        euro_vat=euro_vat,
    )
    negated = (-locked.subtotal, -locked.vat_amount, -locked.total)
    if scope == "whole" and not earlier and _amounts(credit_note) != negated:
        raise RuntimeError(f"Credit note {credit_note.number} does not cancel {locked}.")
    audit_record(
        organisation=organisation,
        action="credit_note.issued",
        actor=actor,
        support=by_support,
        after={
            **_audit_after(credit_note),
            "corrects": locked.number,
            "reason": reason,
            "scope": scope,
            "lines": {
                str(line.position): str(spec.line.quantity)
                for spec, line in credits
                if line is not None
            },
            "returned_to_credit": str(returned),
        },
        ip=ip,
    )
    lifecycle_portal_event(invoice=credit_note, code=InvoiceStatusEvent.Code.ISSUED, actor=actor)
    if returned:
        # After the credit note is written, so that what the invoice asks is already less it:
        # the payments that stay on it settle it, and a paid invoice stays paid.
        hooks.invoice_credited(
            invoice=locked,
            credit_note=credit_note,
            amount=returned,
            reason=reason,
            actor=actor,
            by_support=by_support,
            ip=ip,
        )
        locked = Invoice.objects.get(pk=locked.pk)
    if locked.status == Invoice.Status.OPEN:
        fully_credited = remaining.subtotal + totals.subtotal == 0
        if fully_credited and locked.amount_paid == 0:
            # Nothing left to pay and nothing paid kept on it: the invoice is void.
            locked = _set_status(
                invoice=locked,
                new=Invoice.Status.VOID,
                allowed_from={Invoice.Status.OPEN},
                action="invoice.voided",
                actor=actor,
                by_support=by_support,
                ip=ip,
                extra={"credit_note": credit_note.number, "reason": reason},
                events=(InvoiceStatusEvent.Code.VOID,),
            )
        elif locked.amount_paid > 0 and locked.amount_due == 0:
            # Payments settled the rest: the invoice is paid, today, the credit note's day.
            locked = invoice_mark_paid(
                invoice=locked, paid_on=issue_date, actor=actor, by_support=by_support, ip=ip
            )
    # The email says what is left to pay on the invoice, as it is now.
    credit_note.corrects = locked
    _document_send(credit_note, organisation)
    return credit_note
