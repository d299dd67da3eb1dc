"""One rule for amounts and periods (billing_portal.formatting), in French and in English:
the rule of the printed invoice, used by every page, email, PDF and the audit trail."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from billing_portal.formatting import last_day, long_date, long_datetime, money

NBSP, MINUS = "\xa0", "\u2212"


@pytest.mark.parametrize(
    ("amount", "currency", "french", "english"),
    [
        (Decimal("6000"), "EUR", "6 000,00 €", "€6,000.00"),
        (Decimal("-1020"), "EUR", "−1 020,00 €", "−€1,020.00"),
        (Decimal("0"), "EUR", "0,00 €", "€0.00"),
        (Decimal("-0.00"), "EUR", "0,00 €", "€0.00"),
        (Decimal("6500"), "USD", "6 500,00 $ US", "$6,500.00"),
        (Decimal("-6500"), "USD", "−6 500,00 $ US", "−$6,500.00"),
        (Decimal("12.5"), "GBP", "12,50 £", "£12.50"),
        (Decimal("1000"), "CHF", "1 000,00 CHF", "CHF 1,000.00"),
        (Decimal("-1000"), "SEK", "−1 000,00 SEK", "−SEK 1,000.00"),
        (Decimal("1234567.89"), "EUR", "1 234 567,89 €", "€1,234,567.89"),
        (Decimal("1234567890.10"), "USD", "1 234 567 890,10 $ US", "$1,234,567,890.10"),
        ("-2434.52", "EUR", "−2 434,52 €", "−€2,434.52"),  # as the audit trail stores it
        (Decimal("1.5"), "eur", "1,50 €", "€1.50"),  # the code in any case
        (None, "EUR", "", ""),
        ("", "EUR", "", ""),
    ],
)
def test_money_in_french_and_english(amount, currency, french, english):
    # Written with plain spaces above for readability: every space printed is a no-break one.
    french, english = french.replace(" ", NBSP), english.replace(" ", NBSP)
    with translation.override("fr"):
        assert money(amount, currency) == french
    with translation.override("en"):
        assert money(amount, currency) == english


def test_negative_amounts_use_the_minus_sign_not_the_hyphen():
    with translation.override("fr"):
        assert money(Decimal("-1"), "EUR").startswith(MINUS)
        assert "-" not in money(Decimal("-1"), "EUR")


@pytest.mark.parametrize(
    ("end", "last"),
    [
        (date(2027, 3, 1), date(2027, 2, 28)),
        (date(2028, 3, 1), date(2028, 2, 29)),
        (date(2027, 1, 1), date(2026, 12, 31)),
        (None, None),
    ],
)
def test_last_day_of_a_half_open_period(end, last):
    assert last_day(end) == last


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", "−1\xa0020,00\xa0€ | 6\xa0500,00\xa0$\xa0US | | 28 février 2027"),
        ("en", "−€1,020.00 | $6,500.00 | | 28 February 2027"),
    ],
)
def test_the_template_filters_print_the_same(language, expected):
    template = Template(
        "{% load formatting %}{{ credit|money:'EUR' }} | {{ price|money:'USD' }} | "
        "{{ none|money:'EUR' }}| {{ end|last_day|date:'j F Y' }}"
    )
    context = Context(
        {
            "credit": Decimal("-1020"),
            "price": Decimal("6500"),
            "none": None,
            "end": date(2027, 3, 1),
        }
    )
    with translation.override(language):
        assert template.render(context) == expected


@pytest.mark.parametrize(
    ("code", "french", "english"),
    [
        ("FR", "France", "France"),
        ("DE", "Allemagne", "Germany"),
        # django-countries' own catalogue would print these wrongly on an invoice.
        ("GY", "Guyana", "Guyana"),  # not "Guyane" (that is French Guiana, GF)
        ("GF", "Guyane française", "French Guiana"),
        ("NR", "Nauru", "Nauru"),  # not "Naoero"
        ("BS", "Bahamas", "Bahamas"),  # not "Bahamas (The)"
        ("US", "États-Unis", "United States"),
    ],
)
def test_country_names_in_both_languages(code, french, english):
    from accounts.addresses import country_name

    assert (country_name(code, "fr"), country_name(code, "en")) == (french, english)


@pytest.mark.parametrize(
    ("day", "french", "english"),
    [
        (date(2026, 10, 1), "1er octobre 2026", "1 October 2026"),
        (date(2026, 10, 15), "15 octobre 2026", "15 October 2026"),
        (date(2027, 9, 30), "30 septembre 2027", "30 September 2027"),
    ],
)
def test_long_dates_make_the_first_of_the_month_an_ordinal_in_french(day, french, english):
    with translation.override("fr"):
        assert long_date(day) == french
        assert Template("{% load formatting %}{{ d|long_date }}").render(Context({"d": day})) == (
            french
        )
    with translation.override("en"):
        assert long_date(day) == english


@pytest.mark.parametrize(
    ("moment", "french", "english"),
    [
        (datetime(2026, 10, 1, 9, 5), "1er octobre 2026 à 09:05", "1 October 2026 at 09:05"),
        (datetime(2026, 10, 15, 18, 30), "15 octobre 2026 à 18:30", "15 October 2026 at 18:30"),
    ],
)
def test_long_datetimes_read_like_long_dates_with_their_time(moment, french, english):
    aware = timezone.make_aware(moment)  # the portal's time zone, as pages show it
    template = Template("{% load formatting %}{{ m|long_datetime }}")
    with translation.override("fr"):
        assert long_datetime(aware) == french
        assert template.render(Context({"m": aware})) == french
    with translation.override("en"):
        assert long_datetime(aware) == english
    # Stored in UTC, shown where the portal is.
    with translation.override("fr"):
        assert long_datetime(aware.astimezone(UTC)) == french
    assert long_datetime(None) == ""


@pytest.mark.parametrize(
    ("amount", "french", "english"),
    [
        (Decimal("850.0000"), "850,00 €", "€850.00"),
        (Decimal("-850.0000"), "−850,00 €", "−€850.00"),
        (Decimal("12.3450"), "12,345 €", "€12.345"),
        (Decimal("-1234.5678"), "−1 234,5678 €", "−€1,234.5678"),
    ],
)
def test_unit_prices_are_amounts_with_their_currency(amount, french, english):
    french, english = french.replace(" ", NBSP), english.replace(" ", NBSP)
    template = Template("{% load invoice_tags %}{{ p|unit_price:'EUR' }}")
    with translation.override("fr"):
        assert template.render(Context({"p": amount})) == french
    with translation.override("en"):
        assert template.render(Context({"p": amount})) == english
