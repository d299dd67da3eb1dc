"""System checks of what invoices need from the machine and the settings (`manage.py check
--deploy`), and from the data (the exchange rates: `check --deploy --database default`)."""

from django.core import checks


@checks.register(checks.Tags.compatibility, deploy=True)
def harfbuzz_subset_check(app_configs=None, **kwargs):
    """WeasyPrint subsets the embedded fonts with HarfBuzz when it finds libharfbuzz-subset;
    without it, it falls back to fontTools, which more than doubles the time to render an
    invoice PDF (about 110 ms → 260 ms a page, docs/performance.md)."""
    try:
        from weasyprint.text.ffi import harfbuzz_subset
    except OSError as exc:  # Pango itself is missing: no PDF can be rendered at all
        return [
            checks.Error(
                f"WeasyPrint cannot load its libraries, invoice PDFs cannot be rendered: {exc}",
                hint="apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0",
                id="invoices.E001",
            )
        ]
    if harfbuzz_subset is None:
        return [
            checks.Warning(
                "HarfBuzz-Subset is not installed: invoice PDFs render about twice as slowly.",
                hint="apt-get install libharfbuzz-subset0",
                id="invoices.W001",
            )
        ]
    return []


@checks.register(deploy=True)
def seller_check(app_configs=None, **kwargs):
    """The seller's details are printed on every invoice and declared in its Factur-X XML:
    a mistyped SIREN, VAT number or IBAN would be on all of them, and an address whose
    "postcode city" line cannot be read leaves the XML without them."""
    from django.conf import settings
    from stdnum import iban
    from stdnum.fr import siren

    from accounts.vat import is_eu, is_valid_eu_vat_number

    from .einvoice import split_address

    seller = settings.SELLER
    found = []
    if seller["country"] == "FR" and not siren.is_valid(seller["siren"]):
        found.append(
            checks.Error(
                f"SELLER_SIREN {seller['siren']!r} is not a valid SIREN.", id="invoices.E002"
            )
        )
    if is_eu(seller["country"]) and not is_valid_eu_vat_number(
        seller["vat_number"], seller["country"]
    ):
        found.append(
            checks.Error(
                f"SELLER_VAT_NUMBER {seller['vat_number']!r} is not a valid VAT number "
                f"for {seller['country']}.",
                id="invoices.E003",
            )
        )
    if seller["iban"] and not iban.is_valid(seller["iban"]):
        found.append(
            checks.Error(f"SELLER_IBAN {seller['iban']!r} is not a valid IBAN.", id="invoices.E004")
        )
    street, postcode, city = split_address(seller["address_lines"], seller["country"])
    if not (street and postcode and city):
        found.append(
            checks.Warning(
                "SELLER_ADDRESS_LINES cannot be read as street, then « postcode city »: the "
                "Factur-X XML of every invoice would lack them.",
                hint='e.g. SELLER_ADDRESS_LINES="12 rue de la Paix,75002 Paris,France"',
                id="invoices.W002",
            )
        )
    return found


@checks.register(checks.Tags.database, deploy=True)
def exchange_rates_check(app_configs=None, databases=None, **kwargs):
    """An account billed in another currency than the euro with VAT needs a recent ECB rate
    at every invoice (invoices.exchange_rates); without one its invoices, renewals included,
    are refused until support records it. Said before it happens: a database check, run by
    `manage.py check --deploy --database default` (plain `check --deploy` reads no data)."""
    from django.db import DatabaseError
    from django.utils import timezone

    from .exchange_rates import stale_currencies

    if not databases or "default" not in databases:
        return []
    try:
        stale = stale_currencies(today=timezone.localdate())
    except DatabaseError:  # no database yet (a first deployment, a build step)
        return []
    return [
        checks.Warning(
            f"No ECB exchange rate of the euro in {item.currency} since "
            f"{item.latest.isoformat() if item.latest else 'ever'}: the invoices with VAT of "
            f"{item.accounts} account(s) billed in {item.currency} will be refused.",
            hint="manage.py exchange_rates_load eurofxref.csv (the ECB's daily file), or "
            "enter the rate in the admin (Taux de change).",
            id="invoices.W003",
        )
        for item in stale
    ]
