import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, Membership
from invoices.models import Invoice
from tests.factories import InvoiceFactory, MembershipFactory, OrganisationFactory

TAB = "/billing/invoices/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def nbsp(text: str) -> str:
    """Amounts are printed with no-break spaces: "1 200,00 €" as the page has it."""
    return text.replace(" ", "\xa0")


def test_tab_shows_details_estimate_recipients_and_invoices(
    owner, billing_contact, dated_subscription, issue, client_for
):
    invoice = issue(owner.organisation)
    response = client_for(owner).get(TAB)
    assert response.status_code == 200
    html = response.content.decode()
    # Organisation details with their "Modifier" links (real hrefs: work without JS).
    assert "14 quai Saint-Antoine" in html and "FR44732829320" in html
    assert 'href="/billing/invoices/address/"' in html
    assert 'href="/billing/invoices/vat/"' in html
    # The renewal estimate: date, plan, amounts from invoice_preview.
    estimate = re.search(r'data-testid="renewal-estimate">(.*?)</dl>', html, re.S).group(1)
    assert "1er mars 2027" in estimate
    assert "Professionnel" in estimate
    for amount in ("6 000,00 €", "1 200,00 €", "7 200,00 €"):
        assert nbsp(amount) in estimate
    # Who receives the invoices, with a way to the Contacts tab.
    recipients = re.search(r'data-testid="invoice-recipients">(.*?)</ul>', html, re.S).group(1)
    assert "owner@example.com" in recipients and "compta@example.com" in recipients
    assert 'href="/billing/contacts/"' in html
    # The invoice: its ID opens it, the PDF icon downloads it.
    assert f'href="/billing/invoices/{invoice.number}/">{invoice.number}</a>' in html
    assert f'href="/billing/invoices/{invoice.number}/pdf/"' in html
    assert f'aria-label="Télécharger {invoice.number} en PDF"' in html
    assert nbsp("1 020,00 €") in html
    assert "À payer" in html


def test_tab_without_subscription_says_so(owner, client_for):
    html = client_for(owner).get(TAB).content.decode()
    assert "Votre compte n'a pas d'abonnement" in html
    assert "Aucune facture pour le moment." in html


def test_tab_without_an_estimate_provider_says_nothing_renews(
    owner, subscription, client_for, monkeypatch
):
    """The estimate comes from subscriptions through invoices.hooks; with no handler
    registered the tab still renders, without an estimate."""
    from invoices import hooks

    assert hooks.renewal_estimate.handlers  # subscriptions registers it in ready()
    monkeypatch.setattr(hooks.renewal_estimate, "handlers", [])
    response = client_for(owner).get(TAB)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="renewal-estimate"' not in html
    assert "Votre compte n'a pas d'abonnement" in html


def test_invoice_list_is_paginated_newest_first(owner, client_for):
    invoices = InvoiceFactory.create_batch(30, organisation=owner.organisation)
    newest_first = [i.number for i in sorted(invoices, key=lambda i: -i.sequence)]
    client = client_for(owner)

    page1 = client.get(TAB).content.decode()
    listed = re.findall(r'<th scope="row"><a href="/billing/invoices/(INV-\d+)/">', page1)
    assert listed == newest_first[:25]
    assert "Page 1 sur 2" in page1 and 'href="?page=2"' in page1

    page2 = client.get(TAB, {"page": 2}, **HTMX).content.decode()
    assert "<html" not in page2  # htmx gets the list alone
    assert (
        re.findall(r'<th scope="row"><a href="/billing/invoices/(INV-\d+)/">', page2)
        == (newest_first[25:])
    )
    assert "Page 2 sur 2" in page2


def test_each_listed_invoice_links_to_its_page_and_pdf(owner, client_for):
    """The list builds its links from one reverse() a page: they are reverse()'s own."""
    InvoiceFactory.create_batch(3, organisation=owner.organisation)
    client = client_for(owner)
    html = client.get(TAB).content.decode()
    numbers = Invoice.objects.filter(organisation=owner.organisation).values_list(
        "number", flat=True
    )
    for number in numbers:
        detail = reverse("portal:invoice_detail", args=[number])
        pdf_url = reverse("portal:invoice_pdf", args=[number])
        assert f'<a href="{detail}">{number}</a>' in html
        assert f'href="{pdf_url}" download' in html
        assert client.get(detail).status_code == 200
        assert client.get(pdf_url).status_code == 200


@pytest.mark.parametrize("number", ["INV-10682", "AV 1", "é#?%", "a:b@c~d"])
def test_list_links_are_quoted_as_reverse_quotes_them(number):
    from invoices.selectors import _url_maker

    for name in ("portal:invoice_detail", "portal:invoice_pdf"):
        assert _url_maker(name)(number) == reverse(name, args=[number])


def test_tab_runs_the_same_queries_for_10_and_1000_invoices(owner, dated_subscription, client_for):
    client = client_for(owner)

    def queries_with(count):
        missing = count - Invoice.objects.count()
        Invoice.objects.bulk_create(
            InvoiceFactory.build_batch(missing, organisation=owner.organisation)
        )
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(TAB)
        assert response.status_code == 200
        assert response.content.decode().count('<th scope="row"><a href') == min(count, 25)
        return len(ctx.captured_queries)

    assert queries_with(10) == queries_with(1000)


# --- Organisation details ------------------------------------------------------------------


def test_address_edit_works_without_javascript(owner, client_for):
    client = client_for(owner)
    form = client.get("/billing/invoices/address/").content.decode()
    assert 'action="/billing/invoices/address/"' in form
    assert '<option value="FR" selected>France</option>' in form

    response = client.post(
        "/billing/invoices/address/",
        {
            "address_line1": "3 rue Childebert",
            "postal_code": "69002",
            "city": "Lyon",
            "country": "FR",
        },
    )
    assert response.status_code == 302 and response["Location"] == TAB
    page = client.get(TAB).content.decode()
    assert "L&#x27;adresse a été enregistrée." in page
    assert "3 rue Childebert" in page
    owner.organisation.refresh_from_db()
    assert owner.organisation.address_line1 == "3 rue Childebert"
    assert AuditEvent.objects.filter(action="organisation.address_changed").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"city": ""}, "Ce champ est obligatoire."),
        ({"country": "ZZ"}, "Sélectionnez un choix valide"),
        ({"country": "DE"}, "ne correspond pas à ce pays"),
        ({"address_line1": "x" * 201}, "200 caractères"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_bad_address_returns_the_form_with_errors_and_changes_nothing(
    owner, client_for, data, message, htmx
):
    fields = {
        "address_line1": "3 rue Childebert",
        "postal_code": "69002",
        "city": "Lyon",
        "country": "FR",
        **data,
    }
    response = client_for(owner).post(
        "/billing/invoices/address/", fields, **(HTMX if htmx else {})
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert ("<html" in html) is not htmx
    assert 'id="organisation-address"' in html and "<form" in html
    assert message in html.replace("&#x27;", "'")
    owner.organisation.refresh_from_db()
    assert owner.organisation.address_line1 == "14 quai Saint-Antoine"
    assert owner.organisation.country == "FR"
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("language", "postal_code", "message"),
    [
        ("fr", "ABC", "Code postal invalide pour ce pays (France) : 5 chiffres attendus, par "),
        ("fr", "", "Code postal obligatoire pour ce pays (France) : 5 chiffres, par exemple "),
        ("en", "ABC", "Invalid postcode for this country (France): 5 digits expected, for "),
        ("en", "", "A postcode is required for this country (France): 5 digits, for example "),
    ],
)
def test_bad_postcode_is_shown_on_its_field_and_changes_nothing(
    owner, client_for, language, postal_code, message
):
    client = client_for(owner)
    client.cookies["django_language"] = language
    fields = {
        "address_line1": "3 rue Childebert",
        "postal_code": postal_code,
        "city": "Lyon",
        "country": "FR",
    }
    response = client.post("/billing/invoices/address/", fields, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    error = re.search(r'<p class="error" id="id_postal_code_error">(.*?)</p>', html).group(1)
    assert error.startswith(message)
    assert 'role="alert"' not in html  # on the field, not above the form
    owner.organisation.refresh_from_db()
    assert (owner.organisation.address_line1, owner.organisation.postal_code) == (
        "14 quai Saint-Antoine",
        "69002",
    )
    assert not AuditEvent.objects.exists()


def test_bad_vat_number_names_the_expected_format_and_changes_nothing(owner, client_for):
    response = client_for(owner).post("/billing/invoices/vat/", {"vat_number": "FR123"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "FR + 11 chiffres, ex. FR44732829320" in html
    assert 'value="FR123"' in html
    owner.organisation.refresh_from_db()
    assert owner.organisation.vat_number == "FR44732829320"
    assert not AuditEvent.objects.exists()


def test_saving_the_vat_number_updates_the_estimate_at_once(db, plan, client_for):
    from datetime import date

    from subscriptions.models import Subscription

    owner = MembershipFactory(
        organisation=OrganisationFactory(
            country="DE",
            vat_number="",
            city="Berlin",
            postal_code="10117",
            address_line1="Unter den Linden 1",
        ),
        role=Membership.Role.OWNER,
    )
    Subscription.objects.create(
        organisation=owner.organisation,
        plan=plan,
        period_start=date(2026, 3, 1),
        period_end=date(2027, 3, 1),
    )
    client = client_for(owner)
    assert nbsp("7 200,00 €") in client.get(TAB).content.decode()  # German customer, no number

    response = client.post("/billing/invoices/vat/", {"vat_number": "de136695976"}, **HTMX)
    html = response.content.decode()
    assert 'id="organisation-vat"' in html and "DE136695976" in html
    assert "Le numéro de TVA a été enregistré." in html
    # The estimate comes along, swapped out of band: reverse charge now.
    oob = html[html.index('id="renewal-estimate"') - 10 :]
    assert 'hx-swap-oob="true"' in oob
    assert nbsp("6 000,00 €") in oob and "Autoliquidation" in oob
    owner.organisation.refresh_from_db()
    assert owner.organisation.vat_number == "DE136695976"


# --- Invoice pages and permissions -----------------------------------------------------


def test_invoice_online_is_the_document_in_its_language(swedish_owner, issue, client_for):
    invoice = issue(swedish_owner.organisation)
    response = client_for(swedish_owner).get(f"/billing/invoices/{invoice.number}/")
    assert response.status_code == 200
    html = response.content.decode()
    for fragment in (
        invoice.number,
        "Nordic Design Awards",
        "Sweden",
        "Autoliquidation (reverse charge)",
        "Total incl. VAT",
        "€850.00",
        "FR76 3000 6000 0112 3456 7890 189",
    ):
        assert fragment in html
    # The portal around it stays in the user's language.
    assert "Toutes les factures" in html
    # Strict CSP: a stylesheet from static/, no inline style or script.
    assert 'href="/static/invoices/css/invoice.css"' in html
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_pdf_download_streams_the_stored_file(owner, issue, client_for):
    invoice = issue(owner.organisation)
    client = client_for(owner)
    response = client.get(f"/billing/invoices/{invoice.number}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert "private" in response["Cache-Control"]
    content = b"".join(response.streaming_content)
    assert content.startswith(b"%PDF")
    stored = Invoice.objects.get(pk=invoice.pk)
    again = client.get(f"/billing/invoices/{invoice.number}/pdf/")
    assert b"".join(again.streaming_content) == content
    assert Invoice.objects.get(pk=invoice.pk).pdf_name == stored.pdf_name


@pytest.mark.parametrize("suffix", ["", "pdf/", "factur-x.xml", "ubl.xml"])
def test_another_accounts_invoice_is_not_found(owner, other_owner, issue, client_for, suffix):
    theirs = issue(other_owner.organisation)
    response = client_for(owner).get(f"/billing/invoices/{theirs.number}/{suffix}")
    assert response.status_code == 404
    assert not Invoice.objects.get(pk=theirs.pk).pdf_name  # nothing rendered for a stranger


@pytest.mark.parametrize(
    "url",
    [
        TAB,
        "/billing/invoices/address/",
        "/billing/invoices/vat/",
        "/billing/invoices/{n}/",
        "/billing/invoices/{n}/pdf/",
        "/billing/invoices/{n}/factur-x.xml",
        "/billing/invoices/{n}/ubl.xml",
    ],
)
def test_program_managers_are_refused(owner, manager, issue, client_for, url):
    invoice = issue(owner.organisation)
    response = client_for(manager).get(url.format(n=invoice.number))
    assert response.status_code == 403
    response = client_for(manager).post("/billing/invoices/vat/", {"vat_number": ""})
    assert response.status_code == 403
    owner.organisation.refresh_from_db()
    assert owner.organisation.vat_number == "FR44732829320"


def test_anonymous_visitors_are_sent_to_login(db, client):
    response = client.get(TAB)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
