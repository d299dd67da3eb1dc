"""The VAT in euros of an invoice in another currency.

French law wants it printed (CGI annexe II art. 242 nonies A: « lorsque la taxe est due dans
une autre monnaie que l'euro, le montant de la taxe en euros ») and the French e-invoicing
rules want it in the XML (BR-FR-CO-12: BT-6 = EUR and BT-111, the VAT total in euros). It is
converted at the ECB reference rate (art. 91 of directive 2006/112/CE allows it), the latest
one known on or before the issue date, and copied onto the invoice with its date, so that
the invoice never changes when the rates do. A credit note converts at its invoice's rate:
it corrects the VAT that invoice declared. Choices in docs/invoices.md (VAT in euros).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils.translation import gettext as _

from accounts.models import Organisation
from billing_portal.formatting import long_date

from .models import ExchangeRate
from .totals import organisation_tax_rule, round_money

EURO = "EUR"


@dataclass(frozen=True)
class EuroVat:
    """What an invoice records of its VAT in euros."""

    rate: Decimal  # 1 EUR = `rate` units of the invoice's currency
    rate_date: date
    amount: Decimal  # the VAT in euros, rounded half up to the cent

    def as_fields(self) -> dict:
        return {
            "exchange_rate": self.rate,
            "exchange_rate_date": self.rate_date,
            "vat_amount_eur": self.amount,
        }


def needs_euro_vat(currency: str, vat_amount: Decimal) -> bool:
    """An invoice in another currency with VAT. Without VAT (reverse charge, export) its VAT
    in euros is 0.00 whatever the rate: no rate is needed (invoices.einvoice)."""
    return currency != EURO and vat_amount != 0


def to_euros(amount: Decimal, rate: Decimal) -> Decimal:
    return round_money(Decimal(amount) / Decimal(rate))


def max_age() -> timedelta:
    return timedelta(days=settings.EXCHANGE_RATE_MAX_AGE_DAYS)


def rate_on(*, currency: str, day: date) -> ExchangeRate | None:
    """The latest rate of `currency` on or before `day`, if it is recent enough."""
    return (
        ExchangeRate.objects.filter(currency=currency, date__lte=day, date__gte=day - max_age())
        .order_by("-date")
        .first()
    )


def missing_rate_error(currency: str, day: date) -> ValidationError:
    return ValidationError(
        _(
            "La TVA d'une facture en %(currency)s doit aussi être indiquée en euros, et aucun "
            "taux de change BCE de l'euro en %(currency)s n'est connu pour le %(date)s (ni "
            "dans les %(days)s jours précédents) : la facture ne peut pas encore être émise. "
            "Le support doit d'abord enregistrer ce taux (administration, « Taux de change »)."
        )
        % {
            "currency": currency,
            "date": long_date(day),
            "days": settings.EXCHANGE_RATE_MAX_AGE_DAYS,
        },
        code="no_exchange_rate",
    )


def euro_vat(*, currency: str, vat_amount: Decimal, day: date) -> EuroVat | None:
    """The VAT in euros of an invoice issued on `day`, None when none is due (an invoice in
    euros, or without VAT). ValidationError when a rate is needed and none is known: an
    invoice is never issued without it."""
    if not needs_euro_vat(currency, vat_amount):
        return None
    found = rate_on(currency=currency, day=day)
    if found is None:
        raise missing_rate_error(currency, day)
    return EuroVat(found.rate, found.date, to_euros(vat_amount, found.rate))


def euro_vat_of_credit(*, invoice, vat_amount: Decimal, earlier: list, day: date) -> EuroVat | None:
    """The VAT in euros of a credit note of `invoice` (`vat_amount`, negative), after the
    `earlier` credit notes: at the invoice's rate, rounded as its VAT is (what is credited
    so far, converted and rounded, less what earlier credit notes converted), so that the
    credit notes of an invoice add up to its VAT in euros to the cent. An invoice issued
    before the rate was recorded has none: its credit note takes the rate of its own day."""
    if not needs_euro_vat(invoice.currency, vat_amount):
        return None
    if invoice.exchange_rate is None:
        return euro_vat(currency=invoice.currency, vat_amount=vat_amount, day=day)
    same_rate = [note for note in earlier if note.exchange_rate == invoice.exchange_rate]
    vat_before = sum((note.vat_amount for note in same_rate), Decimal("0.00"))
    eur_before = sum((note.vat_amount_eur for note in same_rate), Decimal("0.00"))
    amount = to_euros(vat_before + vat_amount, invoice.exchange_rate) - eur_before
    return EuroVat(invoice.exchange_rate, invoice.exchange_rate_date, amount)


@dataclass(frozen=True)
class StaleCurrency:
    """A currency some active account is billed in with VAT, without a recent rate."""

    currency: str
    latest: date | None  # the latest rate known, if any
    accounts: int


def stale_currencies(*, today: date) -> list[StaleCurrency]:
    """The currencies whose next invoices would be refused today for want of a rate: those
    of the active accounts billed in another currency than the euro with VAT (a French
    customer, or an EU one without a valid VAT number), with no rate in the last
    EXCHANGE_RATE_MAX_AGE_DAYS days. For `manage.py check --deploy` and the admin."""
    counts: dict[str, int] = {}
    accounts = Organisation.objects.filter(status=Organisation.Status.ACTIVE).exclude(currency=EURO)
    for organisation in accounts.only("currency", "country", "vat_number"):
        if organisation_tax_rule(organisation).vat_rate:
            counts[organisation.currency] = counts.get(organisation.currency, 0) + 1
    if not counts:
        return []
    latest = dict(
        ExchangeRate.objects.filter(currency__in=counts, date__lte=today)
        .values("currency")
        .annotate(latest=Max("date"))
        .values_list("currency", "latest")
    )
    return [
        StaleCurrency(currency, latest.get(currency), count)
        for currency, count in sorted(counts.items())
        if latest.get(currency) is None or latest[currency] < today - max_age()
    ]
