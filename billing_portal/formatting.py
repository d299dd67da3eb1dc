"""How amounts and periods are printed: one rule for pages, emails, PDFs and the audit trail.

Amounts follow the printed invoice (issued invoices must not change):
- French: "6 000,00 €", "6 000,00 $ US", "1 000,00 CHF" — no-break spaces, the number first;
- English: "€6,000.00", "$6,000.00", "CHF 1,000.00" — a one-character symbol sticks to the
  number, a currency code is followed by a no-break space;
- a negative amount starts with the minus sign U+2212 ("−1 020,00 €"), as typeset;
- no amount (None or "") prints nothing: the template says what an absent price means.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.utils.formats import date_format, number_format
from django.utils.translation import get_language

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}
# In French "$" alone is ambiguous (Canadian, Australian… dollars): the invoices say "$ US".
FRENCH_SYMBOLS = {**SYMBOLS, "USD": "$\xa0US"}
MINUS = "\u2212"


def money(amount, currency="EUR") -> str:
    """6000, "EUR" → "6 000,00 €" in French, "€6,000.00" in English."""
    if amount is None or amount == "":
        return ""
    amount = Decimal(amount)
    number = number_format(abs(amount), 2, use_l10n=True, force_grouping=True)
    sign = MINUS if amount < 0 else ""
    currency = (currency or "").upper()
    if (get_language() or "fr").startswith("en"):
        symbol = SYMBOLS.get(currency, currency)
        return f"{sign}{symbol}{number}" if len(symbol) <= 1 else f"{sign}{symbol}\xa0{number}"
    return f"{sign}{number}\xa0{FRENCH_SYMBOLS.get(currency, currency)}"


def last_day(end: date | None) -> date | None:
    """The last day covered by a half-open period [start, end): the day before `end`."""
    return end - timedelta(days=1) if end else end


def long_date(day: date | None) -> str:
    """A date in words, as letters write it: "1er octobre 2026", "15 octobre 2026" in
    French (the first of the month is an ordinal), "1 October 2026" in English."""
    if day is None or day == "":
        return ""
    text = date_format(day, "j F Y")
    if day.day == 1 and not (get_language() or "fr").startswith("en"):
        return "1er" + text[1:]
    return text
