from datetime import timedelta
from decimal import Decimal

from django import template
from django.utils import formats
from django.utils.translation import get_language

register = template.Library()

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


@register.filter
def money(value, currency):
    """6 000,00 € in French, €6,000.00 in English; "—" when there is no amount."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    number = formats.number_format(abs(value), decimal_pos=2, use_l10n=True, force_grouping=True)
    sign = "-" if value < 0 else ""
    symbol = SYMBOLS.get(currency, currency)
    if (get_language() or "fr").startswith("fr"):
        return f"{sign}{number}\u00a0{symbol}"
    return f"{sign}{symbol}{number}"


@register.filter
def last_day(end):
    """The last day included in a half-open period ending at `end`."""
    return end - timedelta(days=1) if end else end
