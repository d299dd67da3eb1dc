"""The seed's flows with the keyboard only: sign in, the tabs, a billing contact added, the
address changed, the closure dialog opened and closed. Every focused element shows a focus
ring; after an htmx swap the focus is in the new content, never lost to the page's top; the
dialog keeps Tab inside and Escape closes it, giving focus back to its button."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import BillingContact, Organisation

from ..factories import PASSWORD
from .conftest import login

pytestmark = pytest.mark.browser

# What the focused element looks like: the focus ring is an outline or a box shadow.
FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {lost: true};
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const shadow = style.boxShadow !== "none";
  const text = (el.innerText || el.name || el.id || "").trim().slice(0, 40);
  return {
    lost: false, visible: outline || shadow, name: `${el.tagName.toLowerCase()} ${text}`,
    dialog: el.closest("dialog[open]") ? el.closest("dialog").id : null,
  };
}"""
MAX_TABS = 60


def focused(page):
    # An htmx swap settles a moment after its content shows: wait for the focus to land.
    expect(page.locator(":focus"), "the focus fell back to the page's body").to_have_count(1)
    state = page.evaluate(FOCUS)
    assert not state["lost"], "the focus fell back to the page's body"
    assert state["visible"], f"no visible focus ring on {state['name']}"
    return state


def tab_to(page, locator, *, backwards=False):
    """Press Tab until `locator` has the focus, checking the focus ring at every stop."""
    target = locator.element_handle()
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused(page)
        if page.evaluate("(el) => el === document.activeElement", target):
            return
    pytest.fail(f"{locator} never got the focus in {MAX_TABS} presses of Tab")


def test_the_seed_flows_with_the_keyboard_only(page, demo):
    page.goto("/accounts/login/")
    expect(page.locator("#id_username")).to_be_focused()  # autofocus
    page.keyboard.type("owner@example.com")
    tab_to(page, page.locator("#id_password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("user-menu")).to_be_visible()

    # The skip link comes first and leads to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()
    focused(page)

    # Contacts du compte: the owner's row shows its action on focus; add a billing contact.
    tab_to(page, page.get_by_test_id("owner"))
    expect(page.get_by_role("link", name="Modifier le propriétaire du compte")).to_be_visible()
    contacts = page.locator("#billing-contacts")
    tab_to(page, contacts.get_by_role("link", name="Ajouter un contact"))
    page.keyboard.press("Enter")
    expect(contacts.get_by_label("Prénom")).to_be_focused()  # the form, not the page's top
    focused(page)
    page.keyboard.type("Inès")
    tab_to(page, contacts.get_by_label("Nom", exact=True))
    page.keyboard.type("Garnier")
    tab_to(page, contacts.get_by_label("Adresse e-mail"))
    page.keyboard.type("ines.garnier@example.com")
    page.keyboard.press("Enter")
    expect(contacts.get_by_text("ines.garnier@example.com")).to_be_visible()
    focused(page)
    assert BillingContact.objects.filter(
        organisation=demo, email="ines.garnier@example.com", first_name="Inès"
    ).exists()

    # Factures: change the address.
    tab_to(page, page.get_by_role("link", name="Factures"), backwards=True)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Factures")).to_have_attribute("aria-current", "page")
    address = page.locator("#organisation-address")
    tab_to(page, address.get_by_role("link", name="Modifier l'adresse"))
    page.keyboard.press("Enter")
    line1 = address.get_by_role("textbox", name="Adresse", exact=True)
    expect(line1).to_be_focused()
    focused(page)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("1 place Bellecour")
    page.keyboard.press("Enter")
    expect(address.get_by_test_id("organisation-address")).to_contain_text("1 place Bellecour")
    focused(page)
    demo.refresh_from_db()
    assert demo.address_line1 == "1 place Bellecour"

    # Abonnement: the closure dialog keeps the focus inside; Escape closes it.
    tab_to(page, page.get_by_role("link", name="Abonnement"), backwards=True)
    page.keyboard.press("Enter")
    opener = page.locator("a[data-dialog=closure-dialog]")
    tab_to(page, opener)
    page.keyboard.press("Enter")
    dialog = page.locator("#closure-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Annuler")).to_be_focused()
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        assert focused(page)["dialog"] == "closure-dialog", f"{key} left the dialog"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    focused(page)

    # Again, closed with its « Annuler » button.
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("button", name="Annuler")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    assert Organisation.objects.get(pk=demo.pk).status == Organisation.Status.ACTIVE


def test_choosing_another_account_with_the_keyboard(page, demo):
    """The demo owner also manages Nordic's programme: the header's switcher opens with
    Enter, its buttons take the focus (with a ring) and Enter chooses."""
    login(page, "owner@example.com")
    menu = page.get_by_test_id("account-menu")
    tab_to(page, menu.locator("summary"))
    page.keyboard.press("Enter")
    nordic = menu.get_by_role("button", name=re.compile("Nordic Design Awards"))
    expect(nordic).to_be_visible()
    tab_to(page, nordic)
    page.keyboard.press("Enter")
    expect(page.locator("main h1")).to_contain_text("Nordic Design Awards")
    expect(page.get_by_role("link", name="Factures")).to_have_count(0)  # a program manager
