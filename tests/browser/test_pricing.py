"""« Comparer les forfaits » in a browser, on a phone and on a desktop: the page is never
wider than the screen (the comparison scrolls inside its own box), and the owner's plan is
marked."""

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from subscriptions.demo import seed_plans

from ..factories import MembershipFactory, SubscriptionFactory, UserFactory
from .conftest import login

pytestmark = pytest.mark.browser

PHONE, DESKTOP = 390, 1280


@pytest.fixture
def owner_on_professionnel(transactional_db):
    plans = seed_plans()
    owner = MembershipFactory(
        role=Membership.Role.OWNER,
        user=UserFactory(email="owner@example.com", first_name="Camille", last_name="Martin"),
    )
    SubscriptionFactory(organisation=owner.organisation, plan=plans["professionnel"])
    return owner


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_the_owner_plan_is_marked_and_the_page_fits_the_screen(
    new_page, owner_on_professionnel, width
):
    page = new_page(viewport={"width": width, "height": 800})
    login(page, "owner@example.com", next_url="/pricing/")
    table = page.get_by_role("table", name="Prix et fonctionnalités de chaque forfait")
    expect(table).to_be_visible()

    current = table.get_by_role("columnheader", name="Professionnel Votre forfait actuel")
    expect(current).to_have_attribute("aria-current", "true")
    # The whole column is tinted, not only its heading.
    cell = table.locator("tr[data-testid='feature-jugement'] td").nth(1)
    expect(cell).to_have_css("background-color", "rgb(238, 242, 255)")
    other = table.locator("tr[data-testid='feature-jugement'] td").nth(0)
    expect(other).not_to_have_css("background-color", "rgb(238, 242, 255)")

    assert page_width(page) <= width
    hint = page.get_by_text("Faites glisser le tableau pour voir tous les forfaits.")
    scroller = page.get_by_test_id("pricing-scroll")
    if width == PHONE:
        # Wider than the phone: it scrolls in its own box, says so, and a keyboard reaches it.
        expect(hint).to_be_visible()
        assert scroller.evaluate("box => box.scrollWidth > box.clientWidth")
        scroller.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "() => document.querySelector('[data-testid=pricing-scroll]').scrollLeft > 0"
        )
        scroller.evaluate("box => box.scrollTo(box.scrollWidth, 0)")
        upgrade = page.get_by_role("link", name="Mettre à niveau vers le forfait Entreprise")
        expect(upgrade).to_be_in_viewport()
        assert page_width(page) <= width
    else:
        expect(hint).to_be_hidden()
        assert scroller.evaluate("box => box.scrollWidth <= box.clientWidth")

    page.get_by_role("link", name="Mettre à niveau vers le forfait Entreprise").click()
    page.wait_for_url("**/billing/subscription/upgrade/?plan=entreprise")


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_a_visitor_sees_the_comparison_in_euros_without_a_plan(new_page, transactional_db, width):
    seed_plans()
    page = new_page(viewport={"width": width, "height": 800})
    page.goto("/pricing/")
    table = page.get_by_role("table", name="Prix et fonctionnalités de chaque forfait")
    expect(table.get_by_role("columnheader")).to_have_count(3)
    expect(table.locator("[aria-current]")).to_have_count(0)
    expect(page.get_by_test_id("price-entreprise")).to_contain_text("12\xa0000,00\xa0€")
    expect(page.get_by_test_id("vat-note")).to_contain_text("Prix hors taxes (HT)")
    assert page_width(page) <= width
