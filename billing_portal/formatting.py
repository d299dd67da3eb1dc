"""How amounts and periods are printed: one rule for pages, emails, PDFs and the audit trail.

Amounts follow the printed invoice (issued invoices must not change):
- French: "6 000,00 €", "6 000,00 $ US", "1 000,00 CHF" — no-break spaces, the number first;
- English: "€6,000.00", "$6,000.00", "CHF 1,000.00" — a one-character symbol sticks to the
  number, a currency code is followed by a no-break space;
- a negative amount starts with the minus sign U+2212 ("−1 020,00 €"), as typeset, on
  screen as in the PDF: every signed number goes through `signed_number`;
- a unit price has two decimals, more when it has them (a prorated price may): `money(...,
  places=None)`;
- no amount (None or "") prints nothing: the template says what an absent price means.

Dates in words, as letters write them: `long_date` ("1er octobre 2026") and `long_datetime`
("1er octobre 2026 à 10:30", "1 October 2026 at 10:30").
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import get_language, pgettext

SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}
# In French "$" alone is ambiguous (Canadian, Australian… dollars): the invoices say "$ US".
FRENCH_SYMBOLS = {**SYMBOLS, "USD": "$\xa0US"}
MINUS = "\u2212"


def signed_number(value, places: int) -> tuple[str, str]:
    """The sign (U+2212 or nothing) and the grouped number: −1020 → ("−", "1 020,00")."""
    value = Decimal(value)
    number = number_format(abs(value), places, use_l10n=True, force_grouping=True)
    return (MINUS if value < 0 and number.strip("0,. \xa0") else ""), number


def money(amount, currency="EUR", places: int | None = 2) -> str:
    """6000, "EUR" → "6 000,00 €" in French, "€6,000.00" in English.

    `places=None`: two decimals, more when the amount has them (a unit price of 12.345)."""
    if amount is None or amount == "":
        return ""
    amount = Decimal(amount)
    if places is None:
        places = max(2, -amount.normalize().as_tuple().exponent)
    sign, number = signed_number(amount, places)
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


def long_datetime(moment: datetime | None) -> str:
    """A moment in words, in the current time zone: "1er octobre 2026 à 10:30" in French,
    "1 October 2026 at 10:30" in English."""
    if moment is None or moment == "":
        return ""
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    # Translators: a date in words then a time, e.g. "1er octobre 2026 à 10:30".
    return pgettext("date and time", "%(date)s à %(time)s") % {
        "date": long_date(moment.date()),
        "time": date_format(moment, "H:i"),
    }
