"""What the owner sees of payments: « Payée le … » or « Reste à payer … » on the invoice
page, the credit balance on the Factures tab."""

from datetime import date
from decimal import Decimal

from django.urls import reverse

from payments.services import payment_record

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


def pay(organisation, amount, invoices=()):
    return payment_record(
        organisation=organisation,
        amount=Decimal(amount),
        currency="EUR",
        received_on=date(2026, 2, 10),
        invoices=list(invoices),
    )


def page(client, invoice, **headers):
    url = reverse("portal:invoice_detail", args=[invoice.number])
    response = client.get(url, **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_an_invoice_page_says_when_it_was_paid(client_for, owner, lyon):
    pay(owner.organisation, "1200.00", [lyon["INV-10681"]])
    client = client_for(owner)
    assert "Payée le 10 février 2026" in page(client, lyon["INV-10681"])
    assert "Paid on 10 February 2026" in page(client, lyon["INV-10681"], **ENGLISH)


def test_an_invoice_page_says_what_is_left_to_pay(client_for, owner, lyon):
    pay(owner.organisation, "3000.00", [lyon["INV-10682"]])
    client = client_for(owner)
    html = page(client, lyon["INV-10682"])
    assert "Reste à payer 4\xa0200,00\xa0€" in html
    assert "(3\xa0000,00\xa0€ déjà reçus sur 7\xa0200,00\xa0€)" in html
    assert "Reste à payer 1\xa0200,00\xa0€" in page(client, lyon["INV-10681"])
    assert "Left to pay €4,200.00" in page(client, lyon["INV-10682"], **ENGLISH)


def test_the_factures_tab_shows_the_credit_balance(client_for, owner, lyon):
    client = client_for(owner)
    url = reverse("portal:invoices")
    assert 'data-testid="credit-balance"' not in client.get(url).content.decode()
    pay(owner.organisation, "10500.00")  # 10 200,00 due in all: 300,00 left
    html = client.get(url).content.decode()
    assert "Crédit de votre compte : 300,00\xa0€" in html
    english = client.get(url, **ENGLISH).content.decode()
    assert "Your account's credit: €300.00" in english


def test_another_account_sees_nothing_of_it(client_for, other_owner, owner, lyon):
    pay(owner.organisation, "10500.00")
    html = client_for(other_owner).get(reverse("portal:invoices")).content.decode()
    assert 'data-testid="credit-balance"' not in html
