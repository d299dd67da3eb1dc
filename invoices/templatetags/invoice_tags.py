"""Quantity, unit price, rate, exchange rate, IBAN and country formatting for invoices
(amounts and periods: {% load formatting %}, billing_portal.formatting)."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from accounts.addresses import country_name
from billing_portal.formatting import money
from invoices import hooks
from invoices.late_payment import terms_values
from invoices.payment_qr import epc_qr_svg
from invoices.references import rf_reference_display

register = template.Library()


@register.filter
def quantity(value) -> str:
    """1.000 → "1", 1.500 → "1,5": quantities without trailing zeros."""
    value = Decimal(value).normalize()
    places = max(0, -value.as_tuple().exponent)
    return number_format(value, places, use_l10n=True, force_grouping=True)


@register.filter
def exchange_rate(value) -> str:
    """An ECB rate as published, without trailing zeros: 1.085600 → "1,0856" in French."""
    value = Decimal(value).normalize()
    places = max(0, -value.as_tuple().exponent)
    return number_format(value, places, use_l10n=True)


@register.filter
def unit_price(value, currency) -> str:
    """An amount like any other (billing_portal.formatting.money), with two decimals, more
    only when the price has them (a prorated price may): "12,345 €"."""
    return money(value, currency, places=None)


@register.filter
def rate(value) -> str:
    """20.00 → "20 %" in French, "20%" in English."""
    value = Decimal(value).normalize()
    places = max(0, -value.as_tuple().exponent)
    number = number_format(value, places, use_l10n=True)
    return f"{number}%" if (get_language() or "fr").startswith("en") else f"{number}\xa0%"


@register.filter
def iban(value) -> str:
    """Groups of four, as printed on a RIB."""
    value = (value or "").replace(" ", "")
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))


@register.filter
def country(code) -> str:
    """ "FR" → "France" (in the active language)."""
    return country_name(code)


@register.simple_tag
def payment_qr(invoice) -> str:
    """The EPC QR code of the « Règlement » box, inline SVG ("" when the invoice has none)."""
    return mark_safe(epc_qr_svg(invoice))  # noqa: S308 (segno's SVG: escaped title, path data)


@register.filter
def rf_reference(number: str) -> str:
    """The invoice's ISO 11649 reference, in groups of four (« RF19 INV1 0682 »)."""
    return rf_reference_display(number)


@register.simple_tag
def direct_debit(invoice) -> dict | None:
    """The planned direct debit of an open invoice (from payments, through invoices.hooks),
    or None: the « Règlement » box then asks for a transfer."""
    # Asked whatever the invoice's status, so its page runs the same queries paid or not.
    found = next((found for found in hooks.invoice_collection(invoice=invoice) if found), None)
    return found if invoice.status == "open" else None


@register.simple_tag
def late_payment_terms() -> dict:
    """The margin and the indemnity the late-payment terms print (invoices.late_payment)."""
    return terms_values()
