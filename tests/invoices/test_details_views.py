"""The Factures tab's forms for the SIREN, the delivery address and the buyer's references:
each works by POST, redirect, GET without JavaScript, and as an htmx fragment; bad input
comes back on its field and changes nothing."""

import re

import pytest

from accounts.models import AuditEvent, Organisation

TAB = "/billing/invoices/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _text(html: str) -> str:
    return html.replace("&#x27;", "'")


def _stored(organisation):
    return Organisation.objects.filter(pk=organisation.pk).values().get()


def test_the_tab_shows_the_three_details_with_their_links(owner, client_for):
    html = _text(client_for(owner).get(TAB).content.decode())
    for url in ("/billing/invoices/siren/", "/billing/invoices/delivery-address/"):
        assert f'href="{url}"' in html and f'hx-get="{url}"' in html
    assert 'href="/billing/invoices/references/"' in html
    # Not entered yet: the SIREN inside the VAT number, to confirm.
    siren = re.search(r'data-testid="organisation-siren">(.*?)</div>', html, re.S).group(1)
    assert "732829320, lu dans le numéro de TVA : confirmez-le" in " ".join(siren.split())
    delivery = re.search(r'data-testid="organisation-delivery-address">(.*?)</', html, re.S)
    assert "Identique à l'adresse de facturation" in delivery.group(1)
    references = re.search(r'data-testid="organisation-references">(.*?)</dl>', html, re.S)
    assert "Bon de commande" in references.group(1) and "Aucun" in references.group(1)


# --- SIREN ------------------------------------------------------------------------------------


def test_siren_edit_works_without_javascript(owner, client_for):
    client = client_for(owner)
    form = client.get("/billing/invoices/siren/").content.decode()
    assert 'action="/billing/invoices/siren/"' in form
    assert 'value="732829320"' in form  # proposed from the VAT number
    response = client.post("/billing/invoices/siren/", {"siren": "732 829 320"})
    assert response.status_code == 302 and response["Location"] == TAB
    page = client.get(TAB).content.decode()
    assert "Le SIREN a été enregistré." in page
    assert 'data-testid="organisation-siren">732829320</div>' in page
    assert _stored(owner.organisation)["siren"] == "732829320"
    assert AuditEvent.objects.filter(action="organisation.siren_changed").count() == 1


def test_siren_edit_with_htmx_returns_the_row_alone(owner, client_for):
    response = client_for(owner).post("/billing/invoices/siren/", {"siren": "732829320"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="organisation-siren"')
    assert "Le SIREN a été enregistré." in html
    assert 'id="renewal-estimate"' not in html  # the SIREN changes no amount


@pytest.mark.parametrize(
    ("siren", "message"),
    [
        ("732829321", "Ce SIREN n'existe pas"),
        ("1234", "Un SIREN compte 9 chiffres, ex. 732 829 320."),
        ("", "Le SIREN est obligatoire pour une organisation établie en France"),
        ("552100554", "Ce SIREN ne correspond pas au numéro de TVA FR44732829320"),
        ("1" * 21, "20 caractères"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_a_bad_siren_comes_back_on_its_field_and_changes_nothing(
    owner, client_for, siren, message, htmx
):
    before = _stored(owner.organisation)
    response = client_for(owner).post(
        "/billing/invoices/siren/", {"siren": siren}, **(HTMX if htmx else {})
    )
    assert response.status_code == 200
    html = _text(response.content.decode())
    assert ("<html" in html) is not htmx
    error = re.search(r'<p class="error" id="id_siren_error">(.*?)</p>', html).group(1)
    assert message in error
    assert _stored(owner.organisation) == before
    assert not AuditEvent.objects.exists()


# --- Delivery address -------------------------------------------------------------------------

DELIVERY = {
    "delivery_line1": "Institut Lumière",
    "delivery_line2": "25 rue du Premier-Film",
    "delivery_postal_code": "69008",
    "delivery_city": "Lyon",
    "delivery_country": "FR",
}


def test_delivery_address_edit_works_without_javascript(owner, client_for):
    client = client_for(owner)
    form = client.get("/billing/invoices/delivery-address/").content.decode()
    assert 'action="/billing/invoices/delivery-address/"' in form
    assert '<option value="FR" selected>France</option>' in form  # the billing country
    assert 'autocomplete="shipping address-line1"' in form
    response = client.post("/billing/invoices/delivery-address/", DELIVERY)
    assert response.status_code == 302 and response["Location"] == TAB
    page = _text(client.get(TAB).content.decode())
    assert "L'adresse de livraison a été enregistrée." in page
    shown = re.search(r'data-testid="organisation-delivery-address">(.*?)</address>', page, re.S)
    assert "Institut Lumière" in shown.group(1) and "69008 Lyon" in shown.group(1)
    stored = _stored(owner.organisation)
    assert {field: stored[field] for field in DELIVERY} == DELIVERY

    # Emptied: none again.
    client.post("/billing/invoices/delivery-address/", {"delivery_country": "FR"})
    assert _stored(owner.organisation)["delivery_line1"] == ""
    assert "Identique à l'adresse de facturation" in _text(client.get(TAB).content.decode())


def test_delivery_address_edit_with_htmx_returns_the_row_alone(owner, client_for):
    response = client_for(owner).post("/billing/invoices/delivery-address/", DELIVERY, **HTMX)
    html = _text(response.content.decode())
    assert html.lstrip().startswith('<div id="organisation-delivery-address"')
    assert "L'adresse de livraison a été enregistrée." in html and "Institut Lumière" in html


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"delivery_city": ""}, "delivery_city", "Ce champ est obligatoire."),
        ({"delivery_postal_code": "ABC"}, "delivery_postal_code", "Code postal invalide"),
        ({"delivery_country": "ZZ"}, "delivery_country", "Sélectionnez un choix valide"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_a_bad_delivery_address_comes_back_on_its_field(
    owner, client_for, change, field, message, htmx
):
    before = _stored(owner.organisation)
    response = client_for(owner).post(
        "/billing/invoices/delivery-address/", {**DELIVERY, **change}, **(HTMX if htmx else {})
    )
    assert response.status_code == 200
    html = _text(response.content.decode())
    error = re.search(rf'<p class="error" id="id_{field}_error">(.*?)</p>', html).group(1)
    assert message in error
    assert _stored(owner.organisation) == before
    assert not AuditEvent.objects.exists()


# --- References -------------------------------------------------------------------------------


def test_references_edit_works_without_javascript(owner, client_for):
    client = client_for(owner)
    form = _text(client.get("/billing/invoices/references/").content.decode())
    assert 'action="/billing/invoices/references/"' in form
    # The help says what Chorus Pro calls them.
    assert "votre numéro d'engagement" in form and "votre code service" in form
    assert 'maxlength="50"' in form and 'maxlength="100"' in form
    assert 'aria-describedby="id_order_reference_helptext"' in form
    response = client.post(
        "/billing/invoices/references/",
        {"order_reference": "EJ-2026-000123", "buyer_reference": "SERVICE-COM"},
    )
    assert response.status_code == 302 and response["Location"] == TAB
    page = client.get(TAB).content.decode()
    assert "Vos références ont été enregistrées." in page
    assert "EJ-2026-000123" in page and "SERVICE-COM" in page
    stored = _stored(owner.organisation)
    assert (stored["order_reference"], stored["buyer_reference"]) == (
        "EJ-2026-000123",
        "SERVICE-COM",
    )


def test_references_edit_with_htmx_returns_the_row_alone(owner, client_for):
    response = client_for(owner).post(
        "/billing/invoices/references/", {"order_reference": "BC-42"}, **HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="organisation-references"')
    assert "BC-42" in html


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"order_reference": "E" * 51}, "order_reference", "au plus 50 caractères"),
        ({"buyer_reference": "S" * 101}, "buyer_reference", "au plus 100 caractères"),
        ({"order_reference": "EJ\x0712"}, "order_reference", "Caractères non autorisés."),
    ],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_bad_references_come_back_on_their_field(owner, client_for, data, field, message, htmx):
    before = _stored(owner.organisation)
    response = client_for(owner).post(
        "/billing/invoices/references/", data, **(HTMX if htmx else {})
    )
    assert response.status_code == 200
    html = _text(response.content.decode())
    error = re.search(rf'<p class="error" id="id_{field}_error">(.*?)</p>', html).group(1)
    assert message in error
    assert _stored(owner.organisation) == before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/billing/invoices/siren/",
        "/billing/invoices/delivery-address/",
        "/billing/invoices/references/",
    ],
)
def test_a_program_manager_changes_none_of_them(owner, manager, client_for, url):
    before = _stored(owner.organisation)
    data = {"siren": "732829320", **DELIVERY, "order_reference": "X"}
    assert client_for(manager).post(url, data).status_code == 403
    assert _stored(owner.organisation) == before
