"""SEPA direct debit in a browser, on the demo data: the owner signs a mandate on the
Factures tab, confirms it from the email, sees INV-10682 planned for collection on its page,
downloads the signed mandate, then revokes it the same way."""

import re

import pytest
from playwright.sync_api import expect

from emails.models import Email
from payments.models import Collection, Mandate

from .conftest import login

pytestmark = pytest.mark.browser

LINK = re.compile(r"/confirm/[A-Za-z0-9_-]+/")
NUMBER = "INV-10682"


def emailed_link(kind):
    """The link as the recipient got it (the stored copy is redacted once sent)."""
    from django.core import mail

    email = Email.objects.filter(kind=kind).latest("pk")
    message = next(m for m in reversed(mail.outbox) if email.to in m.to)
    return LINK.search(message.body).group(0)


def test_owner_signs_confirms_sees_the_collection_and_revokes(new_page, demo):
    page = new_page()
    login(page, "owner@example.com", next_url="/billing/invoices/")
    section = page.get_by_test_id("direct-debit-section")
    section.get_by_role("link", name="Mettre en place le prélèvement").click()
    expect(page.get_by_test_id("mandate-text-core")).to_contain_text(
        "vous autorisez (A) Palmarès Logiciels SAS"
    )

    page.get_by_label("SEPA Core (avec droit à remboursement)").check()
    page.get_by_label("Adresse du titulaire").fill("1 place Bellecour\n69002 Lyon")
    page.get_by_label("IBAN").fill("FR14 2004 1010 0505 0001 3M02 607")  # one digit off
    page.get_by_label("Fait à").fill("Lyon")
    page.get_by_label("J'ai lu le texte du mandat").check()
    page.get_by_role("button", name="Signer le mandat").click()
    expect(page.get_by_text("Cet IBAN n'est pas valide")).to_be_visible()
    assert not Mandate.objects.exists()

    page.get_by_label("IBAN").fill("FR14 2004 1010 0505 0001 3M02 606")
    page.get_by_label("J'ai lu le texte du mandat").check()
    page.get_by_role("button", name="Signer le mandat").click()
    expect(page.get_by_test_id("mandate-pending")).to_contain_text("courrier indésirable")
    assert Mandate.objects.get().status == Mandate.Status.PENDING

    # The owner opens the link from the email, on a device where nobody is signed in.
    phone = new_page()
    phone.goto(emailed_link("mandate_request"))
    expect(
        phone.get_by_role("heading", name="Confirmer le mandat de prélèvement SEPA")
    ).to_be_visible()
    phone.get_by_role("button", name="Confirmer").click()
    expect(phone.get_by_role("heading", name="Mandat confirmé")).to_be_visible()
    mandate = Mandate.objects.get()
    assert mandate.status == Mandate.Status.ACTIVE

    # The next invoice page says when and from which account it will be collected.
    page.goto(f"/billing/invoices/{NUMBER}/")
    debit = page.get_by_test_id("direct-debit")
    expect(debit).to_contain_text("sera prélevée le")
    expect(debit).to_contain_text("FR14 **** **** **** **** **** 606")
    expect(debit).to_contain_text(f"mandat {mandate.reference}, ICS FR72ZZZ123456")
    collection = Collection.objects.get(invoice__number=NUMBER)
    assert collection.status == Collection.Status.PLANNED

    page.goto("/billing/direct-debit/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger le mandat signé (PDF)").click()
    assert download.value.suggested_filename == f"mandat-sepa-{mandate.reference}.pdf"

    page.get_by_role("button", name="Révoquer le mandat").click()
    expect(page.get_by_text("confirmer la révocation du mandat")).to_be_visible()
    assert Mandate.objects.get().status == Mandate.Status.ACTIVE
    phone.goto(emailed_link("mandate_revoke_request"))
    phone.get_by_role("button", name="Confirmer").click()
    expect(phone.get_by_role("heading", name="Mandat révoqué")).to_be_visible()
    assert Mandate.objects.get().status == Mandate.Status.REVOKED
    assert Collection.objects.get(invoice__number=NUMBER).status == Collection.Status.CANCELLED

    page.goto(f"/billing/invoices/{NUMBER}/")
    expect(page.get_by_test_id("direct-debit")).to_have_count(0)
    expect(page.get_by_text("Par virement bancaire")).to_be_visible()
