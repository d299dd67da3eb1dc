"""The VAT in euros of an invoice in another currency (docs/invoices.md, VAT in euros): the
rates support maintains (admin, CSV import, management command), what an invoice and its
credit notes record at issue, the refusal without a recent rate, the PDF's mention, and the
warnings of `check --deploy --database default` and of the admin."""

import html
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone, translation
from lxml import etree

from accounts.models import AuditEvent, Organisation
from invoices import checks, facturx, ubl
from invoices.models import ExchangeRate, Invoice, NumberSequence
from invoices.services import (
    credit_note_issue,
    exchange_rate_set,
    exchange_rates_import,
    invoice_issue,
)
from invoices.totals import LineSpec
from subscriptions import services as subscription_services
from subscriptions.models import Subscription
from tests.factories import (
    InvoiceFactory,
    MembershipFactory,
    OrganisationFactory,
    SubscriptionFactory,
    UserFactory,
)

from .test_mentions import pdftotext
from .test_partial_credit_notes import LINES

TODAY = timezone.localdate


def rate(currency="USD", days_ago=1, value="1.0856", source=ExchangeRate.Source.ECB):
    return ExchangeRate.objects.create(
        currency=currency,
        date=TODAY() - timedelta(days=days_ago),
        rate=Decimal(value),
        source=source,
    )


@pytest.fixture
def dollar_account(db):
    """A French customer billed in dollars: French VAT (20 %), in dollars."""
    return MembershipFactory(
        organisation=OrganisationFactory(name="Cinémathèque Outre-Atlantique", currency="USD"),
        role="owner",
    ).organisation


def issue(organisation, amount="850.00", **kwargs):
    kwargs.setdefault("lines", [LineSpec("Pack de candidatures", Decimal(1), Decimal(amount))])
    return invoice_issue(organisation=organisation, **kwargs)


def euro_amounts(xml: bytes) -> list[str]:
    """BT-111: the VAT totals in euros of a CII or UBL document."""
    return [
        element.text
        for element in etree.fromstring(xml).iter()
        if element.get("currencyID") == "EUR"
        and etree.QName(element).localname in {"TaxAmount", "TaxTotalAmount"}
    ]


# --- Issuing ----------------------------------------------------------------------------------


def test_an_invoice_with_vat_in_dollars_records_its_vat_in_euros(dollar_account):
    rate(days_ago=6, value="1.0500")
    used = rate(days_ago=3, value="1.0856")
    issue_date = TODAY() - timedelta(days=2)
    rate(days_ago=1, value="1.2000")  # after the issue date: not this invoice's

    invoice = issue(dollar_account, issue_date=issue_date)

    # 850.00 USD + 20 % = 170.00 USD of VAT; 170.00 / 1.0856 = 156.596 → 156.60 EUR.
    assert (invoice.currency, invoice.vat_amount) == ("USD", Decimal("170.00"))
    assert (invoice.exchange_rate, invoice.exchange_rate_date, invoice.vat_amount_eur) == (
        Decimal("1.0856"),
        used.date,
        Decimal("156.60"),
    )
    for xml in (facturx.invoice_xml(invoice), ubl.invoice_xml(invoice)):
        assert euro_amounts(xml) == ["156.60"]
        assert b">EUR</" in xml  # BT-6, TaxCurrencyCode

    # A snapshot: a corrected rate changes the rates' table, not the issued invoice.
    exchange_rate_set(currency="USD", day=used.date, rate="1.5", actor=None)
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.exchange_rate == Decimal("1.0856")
    assert euro_amounts(facturx.invoice_xml(invoice)) == ["156.60"]


def test_without_a_rate_the_invoice_is_refused_and_nothing_is_written(dollar_account):
    counter = NumberSequence.objects.filter(name="invoice").values_list("next_value").first()
    with pytest.raises(ValidationError) as refused:
        issue(dollar_account)
    assert refused.value.code == "no_exchange_rate"
    [message] = refused.value.messages
    assert "aucun taux de change BCE de l'euro en USD" in message
    assert "Taux de change" in message
    assert not Invoice.objects.exists()
    assert NumberSequence.objects.filter(name="invoice").values_list("next_value").first() == (
        counter
    )
    assert not AuditEvent.objects.filter(action="invoice.issued").exists()


@pytest.mark.parametrize(("days_ago", "accepted"), [(7, True), (8, False)])
def test_a_rate_older_than_a_week_is_not_used(dollar_account, days_ago, accepted):
    rate(days_ago=days_ago)
    if accepted:
        assert issue(dollar_account).exchange_rate_date == TODAY() - timedelta(days=days_ago)
    else:
        with pytest.raises(ValidationError):
            issue(dollar_account)


def test_the_max_age_is_a_setting(settings, dollar_account):
    settings.EXCHANGE_RATE_MAX_AGE_DAYS = 2
    rate(days_ago=3)
    with pytest.raises(ValidationError, match="2 jours"):
        issue(dollar_account)


def test_no_rate_is_needed_without_vat_or_in_euros(db, owner):
    export = OrganisationFactory(country="US", vat_number="", currency="USD", language="en")
    invoice = issue(export)  # no rate at all: 0.00 EUR of VAT whatever the rate
    assert invoice.vat_amount == 0
    assert invoice.exchange_rate is None and invoice.vat_amount_eur is None
    assert euro_amounts(facturx.invoice_xml(invoice)) == ["0.00"]
    euros = issue(owner.organisation)
    assert euros.exchange_rate is None
    assert b"TaxCurrencyCode" not in facturx.invoice_xml(euros)


def test_an_old_dollar_invoice_without_a_rate_keeps_no_bt_111(dollar_account):
    """What an invoice issued before the rate was recorded gives (not saved here)."""
    rate()
    invoice = issue(dollar_account)
    invoice.exchange_rate = invoice.exchange_rate_date = invoice.vat_amount_eur = None
    xml = facturx.invoice_xml(invoice)
    assert euro_amounts(xml) == []
    assert b"<ram:TaxCurrencyCode>" not in xml


# --- Credit notes -----------------------------------------------------------------------------


def test_credit_notes_use_the_invoice_rate_and_add_up_to_its_vat_in_euros(dollar_account):
    rate(days_ago=2, value="1.0856")
    invoice = issue(dollar_account, lines=LINES)
    rate(days_ago=0, value="1.3000")  # a newer rate: not the one the invoice declared
    first = credit_note_issue(
        invoice=invoice, actor=None, reason="Geste", lines={1: Decimal(1), 2: Decimal("0.5")}
    )
    second = credit_note_issue(invoice=invoice, actor=None, reason="Geste", amount=Decimal("0.03"))
    rest = credit_note_issue(invoice=invoice, actor=None, reason="Annulation")

    notes = [first, second, rest]
    assert {(note.exchange_rate, note.exchange_rate_date) for note in notes} == {
        (invoice.exchange_rate, invoice.exchange_rate_date)
    }
    assert sum(note.vat_amount for note in notes) == -invoice.vat_amount
    assert sum(note.vat_amount_eur for note in notes) == -invoice.vat_amount_eur
    # The credit note's XML states a positive amount (the type code carries the sign).
    assert euro_amounts(ubl.invoice_xml(first)) == [f"{-first.vat_amount_eur:.2f}"]


def test_a_whole_credit_note_cancels_the_vat_in_euros(dollar_account):
    rate()
    invoice = issue(dollar_account)
    credit_note = credit_note_issue(invoice=invoice, actor=None, reason="Doublon")
    assert credit_note.vat_amount_eur == -invoice.vat_amount_eur == Decimal("-156.60")


def test_a_credit_note_of_an_invoice_without_a_recorded_rate_takes_its_own_days(db):
    """An invoice in dollars issued before rates were recorded (written directly here)."""
    invoice = InvoiceFactory(currency="USD", issue_date=TODAY() - timedelta(days=30))
    assert invoice.exchange_rate is None
    with pytest.raises(ValidationError, match="USD"):
        credit_note_issue(invoice=invoice, actor=None, reason="Doublon")
    assert not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()
    rate(value="1.2500")
    credit_note = credit_note_issue(invoice=invoice, actor=None, reason="Doublon")
    # -20.00 USD of VAT at 1.25: -16.00 EUR.
    assert (credit_note.exchange_rate, credit_note.vat_amount_eur) == (
        Decimal("1.2500"),
        Decimal("-16.00"),
    )


# --- Renewals and upgrades: refused, not issued without it -------------------------------------


def test_a_renewal_without_a_rate_is_not_issued_until_one_is_known(plans, dollar_account):
    start = TODAY() - timedelta(days=366)
    subscription = SubscriptionFactory(
        organisation=dollar_account,
        plan=plans["professionnel"],
        period_start=start,
        period_end=TODAY() - timedelta(days=1),
    )
    with pytest.raises(ValidationError):
        subscription_services.renewal_issue(subscription=subscription)
    subscription.refresh_from_db()
    assert subscription.period_end == TODAY() - timedelta(days=1)  # still due: retried
    assert not Invoice.objects.exists()

    rate()
    invoice = subscription_services.renewal_issue(subscription=subscription)
    assert invoice.currency == "USD" and invoice.vat_amount_eur is not None
    assert Subscription.objects.get(pk=subscription.pk).period_start == TODAY() - timedelta(days=1)


def test_an_upgrade_request_without_a_rate_is_refused_before_the_owner_confirms(plans):
    owner = MembershipFactory(organisation=OrganisationFactory(currency="USD"), role="owner")
    start = TODAY() - timedelta(days=100)
    SubscriptionFactory(
        organisation=owner.organisation,
        plan=plans["professionnel"],
        period_start=start,
        period_end=start + timedelta(days=365),
    )
    with pytest.raises(ValidationError, match="USD"):
        subscription_services.upgrade_request(
            organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user
        )
    assert not AuditEvent.objects.filter(action="upgrade.requested").exists()
    rate()
    subscription_services.upgrade_request(
        organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user
    )


# --- The PDF ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", "TVA en euros : 156,60 € (taux de change BCE du {day} : 1 EUR = 1,0856 USD)"),
        ("en", "VAT in euros: €156.60 (ECB exchange rate of {day}: 1 EUR = 1.0856 USD)"),
    ],
)
def test_the_pdf_prints_the_vat_in_euros_and_the_rate(dollar_account, language, expected):
    Organisation.objects.filter(pk=dollar_account.pk).update(language=language)
    dollar_account.refresh_from_db()
    used = rate(days_ago=2)
    invoice = issue(dollar_account)
    with translation.override(language):
        day = date_text(used.date)
    assert expected.format(day=day) in pdftotext(invoice)


def date_text(day: date) -> str:
    """As the PDF prints it, in the active language ("1er décembre 2026" on a first)."""
    from billing_portal.formatting import long_date

    return long_date(day)


def test_an_invoice_in_euros_prints_no_exchange_rate(owner):
    text = pdftotext(issue(owner.organisation))
    assert "TVA en euros" not in text and "taux de change" not in text


# --- The rates: services, CSV, command --------------------------------------------------------

HISTORY = (
    b"Date,USD,JPY,BGN,CYP,GBP,\n"
    b"2026-01-20,1.1734,185.51,1.9558,N/A,0.86905,\n"
    b"2026-01-19,1.1712,184.32,1.9558,N/A,0.86820,\n"
)
DAILY = b"Date, USD, JPY, GBP, \n20 January 2026, 1.1734, 185.51, 0.86905, \n"


def stored():
    return {
        (row.currency, row.date.isoformat()): row.rate.normalize()
        for row in ExchangeRate.objects.all()
    }


def test_the_ecb_history_is_imported_and_audited(db):
    result = exchange_rates_import(data=HISTORY)
    assert (result.saved, result.currencies) == (8, ("BGN", "GBP", "JPY", "USD"))
    assert (result.first, result.last) == (date(2026, 1, 19), date(2026, 1, 20))
    assert stored()[("USD", "2026-01-20")] == Decimal("1.1734")
    assert ("CYP", "2026-01-20") not in stored()  # N/A: no rate that day
    event = AuditEvent.objects.get(action="exchange_rates.imported")
    assert event.after["saved"] == 8 and event.organisation is None


def test_the_days_file_filters_and_a_second_import_replaces(db):
    exchange_rates_import(data=HISTORY, currencies={"usd"}, since=date(2026, 1, 20))
    assert stored() == {("USD", "2026-01-20"): Decimal("1.1734")}
    exchange_rates_import(data=DAILY.replace(b"1.1734", b"1.1800"))
    assert stored()[("USD", "2026-01-20")] == Decimal("1.18")
    assert ExchangeRate.objects.filter(currency="USD").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "vide"),
        (b"\xff\xfe\x00D", "UTF-8"),
        (b"Jour,USD\n2026-01-20,1.1\n", "en-tête"),
        (b"Date,USD,EUR\n2026-01-20,1.1,1\n", "« EUR » n'est pas une devise"),
        (b"Date,USD\n2026-01-20,1.1\n20/01/2026,1.2\n", "Ligne 3 : date illisible"),
        (b"Date,USD\n2026-01-20,-1.1\n2026-01-19,abc\n", "Ligne 2, USD"),
        (b"Date,USD\n2026-01-20,1.1234567\n", "Ligne 2, USD"),
        (b"Date,USD\n2999-01-20,1.1\n", "Ligne 2 : date dans le futur"),
        (b"Date,USD\n2026-01-20,N/A\n", "Aucun taux"),
    ],
)
def test_a_bad_file_saves_nothing_and_says_why(db, data, message):
    rate()
    before = stored()
    with pytest.raises(ValidationError) as refused:
        exchange_rates_import(data=data)
    assert any(message in text for text in refused.value.messages), refused.value.messages
    assert stored() == before
    assert not AuditEvent.objects.filter(action="exchange_rates.imported").exists()


def test_a_bad_line_in_a_good_file_saves_no_line(db):
    with pytest.raises(ValidationError, match="Ligne 4"):
        exchange_rates_import(data=HISTORY + b"2026-01-16,abc,1,1,1,1,\n")
    assert not ExchangeRate.objects.exists()


def test_a_missing_currency_column_is_refused(db):
    with pytest.raises(ValidationError, match="CHF"):
        exchange_rates_import(data=HISTORY, currencies={"CHF"})


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"currency": "EUR"}, "currency"),
        ({"currency": "US"}, "currency"),
        ({"rate": "0"}, "rate"),
        ({"rate": "abc"}, "rate"),
        ({"rate": "1.1234567"}, "rate"),
        ({"day": date(2999, 1, 1)}, "date"),
    ],
)
def test_a_rate_entered_wrong_is_refused(db, fields, key):
    values = {"currency": "USD", "day": TODAY(), "rate": "1.0856", **fields}
    with pytest.raises(ValidationError) as refused:
        exchange_rate_set(actor=None, **values)
    assert key in refused.value.message_dict
    assert not ExchangeRate.objects.exists()


def test_the_command_loads_a_file(db, tmp_path):
    path = tmp_path / "eurofxref-hist.csv"
    path.write_bytes(HISTORY)
    out = io.StringIO()
    call_command("exchange_rates_load", str(path), "--currency", "USD,GBP", stdout=out)
    assert "4 rates saved (GBP, USD), 2026-01-19 to 2026-01-20." in out.getvalue()
    assert ExchangeRate.objects.count() == 4

    path.write_bytes(HISTORY + b"2026-01-16,abc,1,1,1,1,\n")
    with pytest.raises(CommandError, match="Ligne 4"):
        call_command("exchange_rates_load", str(path), "--since", "2026-01-01")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("exchange_rates_load", str(tmp_path / "missing.csv"))
    assert ExchangeRate.objects.count() == 4


# --- Warnings: check --deploy --database default, and the admin -------------------------------


def test_the_deploy_check_warns_of_a_currency_without_a_recent_rate(dollar_account):
    OrganisationFactory(currency="GBP", country="US", vat_number="")  # no VAT: needs none
    OrganisationFactory(currency="CHF", status=Organisation.Status.CLOSED)  # closed
    [warning] = checks.exchange_rates_check(databases=["default"])
    assert warning.id == "invoices.W003"
    assert "USD since ever" in warning.msg and "1 account(s)" in warning.msg

    rate(days_ago=10)
    [warning] = checks.exchange_rates_check(databases=["default"])
    assert f"since {(TODAY() - timedelta(days=10)).isoformat()}" in warning.msg

    rate(days_ago=1)
    assert checks.exchange_rates_check(databases=["default"]) == []


def test_the_deploy_check_reads_no_data_unless_asked(dollar_account, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert checks.exchange_rates_check(databases=None) == []


# --- The admin, as support --------------------------------------------------------------------


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def test_support_enters_a_rate_in_the_admin(support, support_user):
    response = support.post(
        reverse("admin:invoices_exchangerate_add"),
        {"currency": "usd", "date": TODAY().isoformat(), "rate": "1,0856"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = ExchangeRate.objects.get()
    assert (saved.currency, saved.rate, saved.source) == ("USD", Decimal("1.0856"), "support")
    event = AuditEvent.objects.get(action="exchange_rate.set")
    assert event.actor == support_user and event.actor_label.startswith("support: ")

    # Corrected: the rate changes, its currency and day stay.
    response = support.post(
        reverse("admin:invoices_exchangerate_change", args=[saved.pk]),
        {"currency": "GBP", "date": "2020-01-01", "rate": "1.09"},
    )
    assert response.status_code == 302
    saved.refresh_from_db()
    assert (saved.currency, saved.date, saved.rate) == ("USD", TODAY(), Decimal("1.09"))
    assert AuditEvent.objects.filter(action="exchange_rate.set").count() == 2


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"currency": "EUR", "rate": "1"}, "pas de taux de l'euro en euros"),
        ({"currency": "U$D", "rate": "1"}, "ISO 4217"),
        ({"currency": "USD", "rate": "-1"}, "nombre positif"),
        ({"currency": "USD", "rate": "abc"}, "nombre"),
        ({"currency": "USD", "rate": "1,1234567"}, "6"),
        ({"currency": "USD", "rate": "1", "date": "2999-01-01"}, "futur"),
        ({"currency": "USD", "rate": "1", "date": "hier"}, "date"),
    ],
)
def test_bad_input_in_the_admin_is_shown_and_saves_nothing(support, data, error):
    response = support.post(
        reverse("admin:invoices_exchangerate_add"),
        {"date": TODAY().isoformat(), **data},
    )
    assert response.status_code == 200
    assert error in html.unescape(response.content.decode())
    assert not ExchangeRate.objects.exists()
    assert not AuditEvent.objects.filter(action="exchange_rate.set").exists()


def test_the_same_day_twice_is_refused_in_the_admin(support):
    rate(days_ago=0)
    response = support.post(
        reverse("admin:invoices_exchangerate_add"),
        {"currency": "USD", "date": TODAY().isoformat(), "rate": "2"},
    )
    assert response.status_code == 200
    assert ExchangeRate.objects.get().rate == Decimal("1.0856")


def test_support_removes_a_rate_entered_by_mistake(support):
    wrong = rate(days_ago=0)
    response = support.post(
        reverse("admin:invoices_exchangerate_delete", args=[wrong.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not ExchangeRate.objects.exists()
    assert AuditEvent.objects.get(action="exchange_rate.deleted").before["rate"] == "1.085600"


def test_support_imports_the_ecb_file_in_the_admin(support):
    url = reverse("admin:invoices_exchangerate_import")
    assert support.get(url).status_code == 200
    upload = io.BytesIO(HISTORY)
    upload.name = "eurofxref-hist.csv"
    response = support.post(url, {"file": upload, "currencies": "USD, GBP", "since": ""})
    assert response.status_code == 302
    assert ExchangeRate.objects.count() == 4

    bad = io.BytesIO(b"Date,USD\n2026-01-21,abc\n")
    bad.name = "bad.csv"
    response = support.post(url, {"file": bad, "currencies": "", "since": ""})
    assert response.status_code == 200
    assert "Ligne 2, USD" in response.content.decode()
    assert ExchangeRate.objects.count() == 4


def test_a_staff_user_outside_support_cannot_import(client, db):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("admin:invoices_exchangerate_import")).status_code == 403


def test_the_admin_list_warns_of_a_missing_rate(support, dollar_account):
    url = reverse("admin:invoices_exchangerate_changelist")
    page = support.get(url).content.decode()
    assert "Aucun taux de change de l'euro en USD" in html.unescape(page)
    rate()
    assert "Aucun taux de change" not in support.get(url).content.decode()
