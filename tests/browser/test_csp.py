"""Every htmx swap of the portal, under the Content-Security-Policy (no inline style, no
inline script): not one CSP violation. The `new_page` fixture fails the test on any console
error or `securitypolicyviolation` event; this test also counts the events itself, so it
says which step broke the policy."""

import pytest
from playwright.sync_api import expect

from accounts.models import BillingContact
from emails.models import Email

from .conftest import htmx_settled, login

pytestmark = pytest.mark.browser

WATCH = """() => {
  window.cspViolations = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    window.cspViolations.push(`${event.violatedDirective} ${event.sourceFile}:${event.lineNumber}`);
  });
  window.sameDocument = true;
}"""


def settle(page, step):
    """Wait for htmx to finish (request, swap and settle), then collect the violations."""
    # (A locator, not wait_for_function: that one evaluates a string, which the CSP forbids.)
    htmx_settled(page)
    page.wait_for_timeout(50)  # a violation report is queued as a task after the swap
    violations = page.evaluate("window.cspViolations.splice(0)")
    assert page.evaluate("window.sameDocument === true"), f"{step}: a full page load, not a swap"
    return [f"{step}: {violation}" for violation in violations]


def test_every_htmx_swap_keeps_to_the_content_security_policy(page, demo):
    login(page, "owner@example.com", next_url="/billing/contacts/")
    page.evaluate(WATCH)
    found = []
    contacts = page.locator("#billing-contacts")

    contacts.get_by_role("link", name="Ajouter un contact").click()
    expect(contacts.get_by_label("Adresse e-mail")).to_be_visible()
    found += settle(page, "contact form opened")
    contacts.get_by_role("button", name="Sauvegarder").click()
    expect(contacts.locator(".error").first).to_be_visible()
    found += settle(page, "contact form refused")
    contacts.get_by_role("link", name="Annuler").click()
    expect(contacts.get_by_label("Adresse e-mail")).to_have_count(0)
    found += settle(page, "contact form cancelled")
    contacts.get_by_role("link", name="Ajouter un contact").click()
    contacts.get_by_label("Prénom").fill("Inès")
    contacts.get_by_label("Nom", exact=True).fill("Garnier")
    contacts.get_by_label("Adresse e-mail").fill("ines.garnier@example.com")
    contacts.get_by_role("button", name="Sauvegarder").click()
    expect(contacts.get_by_text("ines.garnier@example.com")).to_be_visible()
    found += settle(page, "contact added")
    added = BillingContact.objects.get(email="ines.garnier@example.com")

    contacts.get_by_role("link", name="Modifier Inès Garnier").click()
    contacts.get_by_label("Prénom").fill("Inès-Marie")
    contacts.get_by_role("button", name="Sauvegarder").click()
    expect(contacts.get_by_text("Inès-Marie Garnier")).to_be_visible()
    found += settle(page, "contact edited")
    contacts.get_by_role("link", name="Supprimer Inès-Marie Garnier").click()
    contacts.get_by_role("link", name="Annuler").click()
    expect(contacts.get_by_role("button", name="Supprimer")).to_have_count(0)
    found += settle(page, "contact removal cancelled")
    contacts.get_by_role("link", name="Supprimer Inès-Marie Garnier").click()
    contacts.get_by_role("button", name="Supprimer").click()
    expect(contacts.get_by_text("Inès-Marie Garnier")).to_have_count(0)
    found += settle(page, "contact removed")
    assert not BillingContact.objects.filter(pk=added.pk).exists()

    owner = page.locator("#owner-section")
    page.get_by_test_id("owner").focus()
    owner.get_by_role("link", name="Modifier le propriétaire du compte").click()
    htmx_settled(page)
    owner.get_by_role("combobox").fill("Sop")
    expect(owner.get_by_text("Julien Bernard")).to_have_count(0)
    expect(owner.get_by_text("Sophie Petit")).to_be_visible()
    found += settle(page, "owner candidates filtered")
    owner.get_by_role("button", name="Sauvegarder").click()
    expect(owner.locator(".error").first).to_be_visible()
    found += settle(page, "ownership transfer refused")
    owner.get_by_role("link", name="Annuler").click()  # a plain link back to the tab
    expect(owner.get_by_role("combobox")).to_have_count(0)

    page.get_by_role("link", name="Factures").click()  # a new page: watch again
    page.evaluate(WATCH)
    for section, action in [
        ("#organisation-address", "l'adresse"),
        ("#organisation-vat", "le numéro de TVA"),
        ("#organisation-siren", "le SIREN"),
        ("#organisation-delivery-address", "l'adresse de livraison"),
        ("#organisation-references", "vos références"),
    ]:
        row = page.locator(section)
        row.get_by_role("link", name=f"Modifier {action}").click()
        expect(row.locator("form")).to_be_visible()
        found += settle(page, f"{section} opened")
        row.get_by_role("link", name="Annuler").click()  # a plain link back to the tab
        expect(row.locator("form")).to_have_count(0)
        page.evaluate(WATCH)
        row.get_by_role("link", name=f"Modifier {action}").click()
        row.get_by_role("button", name="Sauvegarder").click()
        expect(row.locator("form")).to_have_count(0)
        found += settle(page, f"{section} saved")
    vat = page.locator("#organisation-vat")
    vat.get_by_role("link", name="Modifier le numéro de TVA").click()
    vat.get_by_role("textbox").fill("FR12345678901")
    vat.get_by_role("button", name="Sauvegarder").click()
    expect(vat.locator(".error").first).to_be_visible()
    found += settle(page, "VAT number refused")
    older = page.locator("#invoice-list a[rel=next]")
    if older.count():
        older.click()
        expect(page.locator("#invoice-list a[rel=prev]")).to_be_visible()
        found += settle(page, "older invoices")

    page.get_by_role("link", name="Abonnement").click()
    page.evaluate(WATCH)
    upgrade = page.locator("#upgrade-section")
    upgrade.get_by_role("link", name="Mettre à niveau").click()
    expect(upgrade.get_by_role("combobox")).to_be_visible()
    found += settle(page, "upgrade opened")
    upgrade.get_by_role("link", name="Annuler").click()
    expect(upgrade.get_by_role("combobox")).to_have_count(0)
    found += settle(page, "upgrade cancelled")
    upgrade.get_by_role("link", name="Mettre à niveau").click()
    htmx_settled(page)
    upgrade.get_by_role("combobox").select_option(label="Entreprise")
    found += settle(page, "upgrade plan selected")
    upgrade.get_by_role("button", name="Sauvegarder").click()
    found += settle(page, "upgrade plan chosen")
    send = upgrade.get_by_role("button", name="Confirmer et recevoir l'e-mail")
    if send.count():
        send.click()
    expect(upgrade.get_by_test_id("pending-upgrade")).to_be_visible()
    found += settle(page, "upgrade requested")
    upgrade.get_by_role("button", name="Renvoyer l'e-mail").click()
    expect(upgrade.get_by_test_id("pending-upgrade")).to_be_visible()
    found += settle(page, "upgrade email sent again")
    assert Email.objects.filter(kind="upgrade_request").count() == 2

    assert found == [], "\n".join(found)
