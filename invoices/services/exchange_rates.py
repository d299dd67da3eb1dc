"""The exchange rates the VAT in euros is converted at (invoices.exchange_rates): entered one
at a time by support in the admin, or loaded from a CSV file of ECB reference rates, by
support in the admin or by `manage.py exchange_rates_load`. Both validate, write and audit;
an invoice copies the rate it used, so nothing here changes an issued invoice.

The ECB's files: `eurofxref-hist.csv` (one line a day, newest first: `Date,USD,JPY,…,` with
ISO dates, `N/A` where a currency has no rate, a trailing comma) and `eurofxref.csv` (the
day's rates: `Date, USD, JPY, …` then `20 January 2026, 1.1734, …`). Both read here.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record

from ..exchange_rates import EURO
from ..models import ExchangeRate

CSV_MAX_BYTES = 10 * 1024 * 1024  # the whole history since 1999 is about 1.5 MB
MAX_ERRORS = 20
RATE_MAX_DECIMALS = 6
RATE_MAX = Decimal("999999999999")  # 12 digits before the point, as the column holds
CURRENCY = re.compile(r"[A-Z]{3}")
MISSING = {"", "N/A", "NA", "-"}


def _currency(value) -> str:
    currency = str(value or "").strip().upper()
    if not CURRENCY.fullmatch(currency):
        raise ValidationError(
            {"currency": _("Un code de devise ISO 4217 : trois lettres, ex. USD.")}
        )
    if currency == EURO:
        raise ValidationError(
            {"currency": _("Les taux sont ceux de l'euro : pas de taux de l'euro en euros.")}
        )
    return currency


def _rate(value) -> Decimal:
    if isinstance(value, float | bool):
        raise TypeError("An exchange rate is a Decimal or a string, not a float.")
    try:
        rate = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or rate <= 0 or rate > RATE_MAX:
        raise ValidationError(
            {"rate": _("Le taux est un nombre positif : 1 EUR = combien d'unités de la devise.")}
        )
    if rate.as_tuple().exponent < -RATE_MAX_DECIMALS:
        raise ValidationError(
            {"rate": _("%(places)s décimales au plus.") % {"places": RATE_MAX_DECIMALS}}
        )
    return rate


def _day(value: date) -> date:
    if value > timezone.localdate():
        raise ValidationError({"date": _("Un taux de change ne peut pas être daté du futur.")})
    return value


def exchange_rate_clean(*, currency, day: date, rate) -> tuple[str, date, Decimal]:
    """The values of a rate as stored; ValidationError keyed by field when one is wrong."""
    errors = {}
    cleaned = {}
    for name, check, value in (
        ("currency", _currency, currency),
        ("date", _day, day),
        ("rate", _rate, rate),
    ):
        try:
            cleaned[name] = check(value)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned["currency"], cleaned["date"], cleaned["rate"]


@transaction.atomic
def exchange_rate_set(*, currency, day: date, rate, actor, ip: str | None = None) -> ExchangeRate:
    """Record (or correct) the rate of `currency` on `day`, as support enters it: the ECB
    reference rate of that day, 1 EUR = `rate` units. Audited `exchange_rate.set`."""
    currency, day, rate = exchange_rate_clean(currency=currency, day=day, rate=rate)
    before = ExchangeRate.objects.select_for_update().filter(currency=currency, date=day).first()
    saved, _created = ExchangeRate.objects.update_or_create(
        currency=currency,
        date=day,
        defaults={"rate": rate, "source": ExchangeRate.Source.SUPPORT},
    )
    audit_record(
        organisation=None,
        action="exchange_rate.set",
        actor=actor,
        support=True,
        before={"rate": str(before.rate)} if before else {},
        after={"currency": currency, "date": day.isoformat(), "rate": str(rate)},
        ip=ip,
    )
    return saved


@transaction.atomic
def exchange_rate_delete(*, exchange_rate: ExchangeRate, actor, ip: str | None = None) -> None:
    """Remove a rate entered by mistake (issued invoices keep the rate they copied)."""
    audit_record(
        organisation=None,
        action="exchange_rate.deleted",
        actor=actor,
        support=True,
        before={
            "currency": exchange_rate.currency,
            "date": exchange_rate.date.isoformat(),
            "rate": str(exchange_rate.rate),
        },
        ip=ip,
    )
    ExchangeRate.objects.filter(pk=exchange_rate.pk).delete()


@dataclass(frozen=True)
class RatesImport:
    saved: int
    currencies: tuple[str, ...]
    first: date | None
    last: date | None


MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "january february march april may june july august september october november december"
        ).split(),
        start=1,
    )
}


def _csv_date(text: str) -> date | None:
    """2026-01-20 (the history) or 20 January 2026 (the day's file)."""
    text = " ".join(text.split())
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        pass
    parts = text.split(" ")
    if len(parts) == 3 and parts[0].isdigit() and parts[2].isdigit():
        month = MONTHS.get(parts[1].casefold())
        if month:
            try:
                return date(int(parts[2]), month, int(parts[0]))
            except ValueError:
                return None
    return None


def _decode(data: bytes) -> str:
    if len(data) > CSV_MAX_BYTES:
        raise ValidationError(_("Le fichier dépasse 10 Mo."))
    if not data.strip():
        raise ValidationError(_("Le fichier est vide."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            _("Ce fichier n'est pas un CSV en UTF-8 : le fichier de la BCE l'est.")
        ) from None


def _parse(text: str, *, currencies: set[str] | None, since: date | None):
    """(rows to save, errors) of a CSV of ECB rates: every line read before anything is
    written; an error names its line."""
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip().upper() for cell in next(reader, [])]
    if not header or header[0] != "DATE":
        raise ValidationError(
            _(
                "La première ligne doit être l'en-tête de la BCE : Date, puis un code de "
                "devise par colonne (USD, JPY…)."
            )
        )
    columns = {}
    errors = []
    for index, name in enumerate(header[1:], start=1):
        if not name:
            continue  # the history's trailing comma
        if not CURRENCY.fullmatch(name) or name == EURO:
            errors.append(_("Ligne 1 : « %(name)s » n'est pas une devise.") % {"name": name})
        elif currencies is None or name in currencies:
            columns[index] = name
    if currencies and not set(columns.values()) >= currencies:
        missing = ", ".join(sorted(currencies - set(columns.values())))
        errors.append(_("Aucune colonne pour : %(currencies)s.") % {"currencies": missing})
    rows: dict[tuple[str, date], Decimal] = {}
    today = timezone.localdate()
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(errors) >= MAX_ERRORS:
            break
        day = _csv_date(cells[0])
        if day is None:
            errors.append(
                _("Ligne %(line)s : date illisible « %(value)s » (AAAA-MM-JJ).")
                % {"line": number, "value": cells[0].strip()[:40]}
            )
            continue
        if day > today:
            errors.append(_("Ligne %(line)s : date dans le futur.") % {"line": number})
            continue
        if since and day < since:
            continue
        for index, currency in columns.items():
            value = cells[index].strip() if index < len(cells) else ""
            if value.upper() in MISSING:
                continue
            try:
                rows[(currency, day)] = _rate(value)
            except ValidationError:
                errors.append(
                    _("Ligne %(line)s, %(currency)s : « %(value)s » n'est pas un taux.")
                    % {"line": number, "currency": currency, "value": value[:40]}
                )
    return rows, errors


@transaction.atomic
def exchange_rates_import(
    *,
    data: bytes,
    actor=None,
    currencies: set[str] | None = None,
    since: date | None = None,
    ip: str | None = None,
) -> RatesImport:
    """Load a CSV of ECB reference rates (the history or the day's file), all rows or none:
    any unreadable line is reported with its number and nothing is saved. A rate already
    known for the same currency and day is replaced by the file's. `currencies` limits the
    columns read, `since` the days. Audited `exchange_rates.imported` (counts only)."""
    wanted = {_currency(currency) for currency in currencies} if currencies else None
    rows, errors = _parse(_decode(data), currencies=wanted, since=since)
    if errors:
        raise ValidationError(errors[:MAX_ERRORS])
    if not rows:
        raise ValidationError(_("Aucun taux dans ce fichier (pour ces devises et ces dates)."))
    ExchangeRate.objects.bulk_create(
        [
            ExchangeRate(currency=currency, date=day, rate=rate, source=ExchangeRate.Source.ECB)
            for (currency, day), rate in rows.items()
        ],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["currency", "date"],
        update_fields=["rate", "source", "updated_at"],
    )
    days = [day for _currency_code, day in rows]
    result = RatesImport(
        saved=len(rows),
        currencies=tuple(sorted({currency for currency, _day in rows})),
        first=min(days),
        last=max(days),
    )
    audit_record(
        organisation=None,
        action="exchange_rates.imported",
        actor=actor,
        support=actor is not None,
        after={
            "saved": result.saved,
            "currencies": list(result.currencies),
            "first": result.first.isoformat(),
            "last": result.last.isoformat(),
        },
        ip=ip,
    )
    return result
