"""The money of an invoice: line specs, their rounding, the VAT and the totals.

One computation for everything that shows or issues an amount: `invoice_issue` writes what
`compute` returns, `credit_note_issue` what `compute_credit` returns, and `invoice_preview`
returns it without writing (the renewal estimate, the upgrade quote). Amounts are Decimals,
rounded half up to the cent line by line; VAT on the sum, as EN 16931 computes it.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from accounts.models import Organisation

from .tax import TaxRule, tax_rule

CENT = Decimal("0.01")
MAX_LINES = 200
# What a DecimalField(max_digits=14, decimal_places=2) holds.
MAX_AMOUNT = Decimal("999999999999.99")


@dataclass(frozen=True)
class LineSpec:
    description: str
    quantity: Decimal
    unit_price: Decimal  # excl. VAT, invoice currency; may be negative (credit for unused period)
    period_start: date | None = None
    period_end: date | None = None  # half-open [start, end)


@dataclass(frozen=True)
class ComputedLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    amount: Decimal  # excl. VAT, rounded half up to the cent
    period_start: date | None = None
    period_end: date | None = None


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    vat_amount: Decimal
    total: Decimal
    vat_rate: Decimal
    treatment: str
    mention: str
    currency: str
    lines: list[ComputedLine] = field(default_factory=list)


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(value, name: str, places: int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        # Floats are refused: 0.1 is not a price.
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite() or number.as_tuple().exponent < -places:
        raise ValueError(f"{name} must be finite with at most {places} decimal places: {value}")
    return number


def _compute_line(spec: LineSpec, vat_rate: Decimal) -> ComputedLine:
    description = " ".join(str(spec.description or "").split())
    if not description or len(description) > 500:
        raise ValueError("A line needs a description of 1 to 500 characters.")
    quantity = _decimal(spec.quantity, "quantity", 3)
    if quantity <= 0:
        raise ValueError("quantity must be positive (use a negative unit price for a credit).")
    unit_price = _decimal(spec.unit_price, "unit_price", 4)
    if (spec.period_start is None) != (spec.period_end is None):
        raise ValueError("A line period needs both its start and its (excluded) end.")
    if spec.period_start is not None and spec.period_end <= spec.period_start:
        raise ValueError("A line period must end after it starts.")
    amount = round_money(quantity * unit_price)
    if abs(amount) > MAX_AMOUNT:
        raise ValueError("Line amount out of range.")
    return ComputedLine(
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=vat_rate,
        amount=amount,
        period_start=spec.period_start,
        period_end=spec.period_end,
    )


def organisation_tax_rule(organisation: Organisation) -> TaxRule:
    return tax_rule(
        seller_country=settings.SELLER["country"],
        seller_vat_rate=settings.SELLER["vat_rate"],
        buyer_country=organisation.country,
        buyer_vat_number=organisation.vat_number,
    )


def invoice_currency(organisation: Organisation, currency: str | None) -> str:
    currency = (currency or organisation.currency or "").upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise ValueError(f"Not an ISO 4217 currency code: {currency!r}")
    return currency


def compute(
    lines: Sequence[LineSpec], rule: TaxRule, currency: str, mention: str | None = None
) -> Totals:
    """Lines rounded half up to the cent one by one; VAT on their sum (one rate per invoice,
    as EN 16931 computes it), rounded half up. The mention is the rule's, in the active
    language, unless one is given (a credit note repeats its invoice's)."""
    if not lines:
        raise ValueError("An invoice needs at least one line.")
    if len(lines) > MAX_LINES:
        raise ValueError(f"At most {MAX_LINES} lines.")
    computed = [_compute_line(spec, rule.vat_rate) for spec in lines]
    subtotal = sum((line.amount for line in computed), Decimal("0.00"))
    vat_amount = round_money(subtotal * rule.vat_rate / 100)
    total = subtotal + vat_amount
    if abs(total) > MAX_AMOUNT:
        raise ValueError("Invoice total out of range.")
    return Totals(
        subtotal=subtotal,
        vat_amount=vat_amount,
        total=total,
        vat_rate=rule.vat_rate,
        treatment=rule.treatment,
        mention=rule.mention if mention is None else mention,
        currency=currency,
        lines=computed,
    )


@dataclass(frozen=True)
class CreditSpec:
    """One line of a credit note: `line`, its unit price the credited one's negated, and,
    when it credits a line of the invoice, what earlier credit notes already took of that
    line (quantity, and amount in the credit note's sign: negative)."""

    line: LineSpec
    quantity_before: Decimal = Decimal(0)
    amount_before: Decimal = Decimal("0.00")


def compute_credit(
    lines: Sequence[CreditSpec],
    rule: TaxRule,
    currency: str,
    *,
    mention: str,
    subtotal_before: Decimal,
    vat_before: Decimal,
) -> Totals:
    """A credit note's amounts, rounded as its invoice's are, so that the credit notes of an
    invoice add up to it to the cent however it is split: a line's amount is what the
    quantity credited so far comes to, rounded, less what was already credited of that
    line; the VAT is the VAT of the subtotal credited so far, rounded, less the VAT credited
    before (`subtotal_before`, `vat_before`: the earlier credit notes' sums, negative).

    Crediting a whole invoice in one go gives its lines and VAT exactly, negated. A part
    differs from `compute` of the same lines by a cent at most, and never makes the credit
    notes' sum pass the invoice's (rounding half up is monotonic and symmetric)."""
    plain = compute([spec.line for spec in lines], rule, currency, mention=mention)
    computed = [
        replace(
            line,
            amount=round_money((spec.quantity_before + line.quantity) * line.unit_price)
            - spec.amount_before,
        )
        for spec, line in zip(lines, plain.lines, strict=True)
    ]
    subtotal = sum((line.amount for line in computed), Decimal("0.00"))
    vat_amount = round_money((subtotal_before + subtotal) * rule.vat_rate / 100) - vat_before
    return replace(
        plain, subtotal=subtotal, vat_amount=vat_amount, total=subtotal + vat_amount, lines=computed
    )


def invoice_preview(
    *, organisation: Organisation, lines: Sequence[LineSpec], currency: str | None = None
) -> Totals:
    """What invoice_issue would compute today for these lines, without writing anything."""
    return compute(
        lines, organisation_tax_rule(organisation), invoice_currency(organisation, currency)
    )
