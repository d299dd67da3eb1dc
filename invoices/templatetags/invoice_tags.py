"""Quantity, unit price, rate, IBAN and country formatting for invoices (amounts and periods:
{% load formatting %}, billing_portal.formatting)."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.translation import get_language

from accounts.addresses import country_name

register = template.Library()


@register.filter
def quantity(value) -> str:
    """1.000 → "1", 1.500 → "1,5": quantities without trailing zeros."""
    value = Decimal(value).normalize()
    places = max(0, -value.as_tuple().exponent)
    return number_format(value, places, use_l10n=True, force_grouping=True)


@register.filter
def unit_price(value) -> str:
    """Two decimals, more only when the price has them (a prorated price may)."""
    value = Decimal(value)
    places = max(2, -value.normalize().as_tuple().exponent)
    number = number_format(abs(value), places, use_l10n=True, force_grouping=True)
    return f"−{number}" if value < 0 else number


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
