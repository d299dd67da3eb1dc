"""« Comparer les forfaits »: the comparison table as a visitor, an owner and a program
manager see it — one row per feature, one column per plan, the owner's plan marked, prices
in the account's currency, the VAT note."""

import copy
from decimal import Decimal

import lxml.html
import pytest
from django.urls import reverse

from accounts.models import Membership, Organisation
from subscriptions.demo import FEATURES, PLANS
from subscriptions.models import Feature, Plan, PlanFeature, PlanPrice
from tests.factories import MembershipFactory, OrganisationFactory, SubscriptionFactory

PRICING = reverse("pricing")
UPGRADE = reverse("portal:upgrade")


def table(response):
    assert response.status_code == 200
    return lxml.html.fromstring(response.content.decode()).get_element_by_id("main")


def text(element) -> str:
    return " ".join(element.text_content().split())


def spoken(element) -> str:
    """The text a screen reader reads: without what is aria-hidden."""
    element = copy.deepcopy(element)
    for hidden in element.xpath(".//*[@aria-hidden='true']"):
        hidden.drop_tree()
    return text(element)


def plan_headers(page):
    return page.xpath("//table[@data-testid='pricing-table']/thead//th[@scope='col']")


def column_cells(page, index):
    """The cells of the plan column `index` (0: the first plan), price and features."""
    return page.xpath(f"//table[@data-testid='pricing-table']/tbody/tr/td[{index + 1}]")


def owner_of(**organisation):
    owner = MembershipFactory(
        organisation=OrganisationFactory(**organisation), role=Membership.Role.OWNER
    )
    return owner


@pytest.fixture
def on_professionnel(plans):
    def subscribe(membership):
        SubscriptionFactory(organisation=membership.organisation, plan=plans["professionnel"])
        return membership

    return subscribe


# --- The matrix -----------------------------------------------------------------------


def test_one_row_per_feature_and_one_column_per_plan(client, plans):
    page = table(client.get(PRICING))
    assert [text(th) for th in plan_headers(page)] == ["Essentiel", "Professionnel", "Entreprise"]
    rows = page.xpath("//tbody/tr[starts-with(@data-testid, 'feature-')]")
    assert [text(row.xpath("th[@scope='row']")[0]) for row in rows] == [
        label_fr for _code, label_fr, _en, _cells in FEATURES
    ]
    for row in rows:
        assert len(row.xpath("td")) == len(PLANS)
    assert page.xpath("//table[@data-testid='pricing-table']/caption")


def test_cells_say_included_not_included_or_the_value(client, plans):
    page = table(client.get(PRICING))
    judging = page.xpath("//tr[@data-testid='feature-jugement']/td")
    # A check mark for the eye, a word for a screen reader.
    assert [spoken(td) for td in judging] == ["Non inclus", "Inclus", "Inclus"]
    assert [td.xpath(".//*[@aria-hidden='true']")[0].text for td in judging] == ["–", "✓", "✓"]
    entries = page.xpath("//tr[@data-testid='feature-candidatures']/td")
    assert [text(td) for td in entries] == ["500", "5 000", "Illimitées"]


def test_a_plan_without_a_value_for_a_feature_does_not_include_it(client, plans):
    PlanFeature.objects.filter(plan=plans["entreprise"], feature__code="sso").delete()
    page = table(client.get(PRICING))
    assert spoken(page.xpath("//tr[@data-testid='feature-sso']/td")[2]) == "Non inclus"


def test_a_feature_added_by_support_is_a_new_row(client, plans):
    feature = Feature.objects.create(
        code="traduction", label_fr="Traduction des formulaires", label_en="Translated forms"
    )
    PlanFeature.objects.create(
        feature=feature, plan=plans["entreprise"], value_fr="12 langues", value_en="12 languages"
    )
    page = table(client.get(PRICING))
    cells = page.xpath("//tr[@data-testid='feature-traduction']/td")
    assert [spoken(td) for td in cells] == ["Non inclus", "Non inclus", "12 langues"]


def test_the_page_is_in_english_for_an_english_reader(client, plans):
    client.cookies["django_language"] = "en"
    page = table(client.get(PRICING, headers={"Accept-Language": "en"}))
    assert [text(th) for th in plan_headers(page)] == ["Essential", "Professional", "Enterprise"]
    assert text(page.xpath("//tr[@data-testid='feature-candidatures']")[0]) == (
        "Entries a year 500 5,000 Unlimited"
    )
    assert spoken(page.xpath("//tr[@data-testid='feature-jugement']")[0]) == (
        "Online judging Not included Included Included"
    )
    assert text(page.xpath("//td[@data-testid='price-entreprise']")[0]) == (
        "€12,000.00 per year i.e. €1,000.00 a month"
    )
    assert "Prices excl. VAT" in text(page.get_element_by_id("pricing-vat"))


def test_a_hidden_plan_is_not_compared(client, plans):
    Plan.objects.filter(code="essentiel").update(is_public=False)
    page = table(client.get(PRICING))
    assert [text(th) for th in plan_headers(page)] == ["Professionnel", "Entreprise"]
    assert len(page.xpath("//tr[@data-testid='feature-jugement']/td")) == 2


def test_the_page_reads_a_bounded_number_of_rows(client_for, django_assert_max_num_queries, plans):
    owner = owner_of()
    SubscriptionFactory(organisation=owner.organisation, plan=plans["essentiel"])
    for n in range(20):
        feature = Feature.objects.create(code=f"f{n}", label_fr=f"F{n}", label_en=f"F{n}")
        for plan in plans.values():
            PlanFeature.objects.create(feature=feature, plan=plan)
    client = client_for(owner)
    with django_assert_max_num_queries(10):
        client.get(PRICING)


# --- Prices and the VAT note ----------------------------------------------------------


def test_a_visitor_sees_euros_excl_vat_and_the_general_vat_rule(client, plans):
    page = table(client.get(PRICING))
    prices = [text(td) for td in page.xpath("//tr[@class='price-row']/td")]
    assert prices == [
        "2 400,00 € par an soit 200,00 € par mois",
        "6 000,00 € par an soit 500,00 € par mois",
        "12 000,00 € par an soit 1 000,00 € par mois",
    ]
    note = text(page.get_element_by_id("pricing-vat"))
    assert note.startswith("Prix hors taxes (HT), en euros (EUR).")
    assert "TVA de 20 % en France" in note and "autoliquidation" in note
    # The table is described by the note: a screen reader hears it with the table.
    assert page.xpath("//table[@aria-describedby='pricing-vat']")


@pytest.mark.parametrize(
    ("currency", "essentiel", "name"),
    [
        ("EUR", "2 400,00 €", "euros (EUR)"),
        ("GBP", "2 100,00 £", "livres sterling (GBP)"),
        ("USD", "2 600,00 $ US", "dollars américains (USD)"),
    ],
)
def test_an_owner_sees_the_prices_in_the_account_currency(
    client_for, on_professionnel, currency, essentiel, name
):
    owner = on_professionnel(owner_of(currency=currency))
    page = table(client_for(owner).get(PRICING))
    assert text(page.xpath("//td[@data-testid='price-essentiel']")[0]).startswith(essentiel)
    assert f"en {name}" in text(page.get_element_by_id("pricing-vat"))
    other_symbols = {"EUR": "€", "GBP": "£", "USD": "$"}
    del other_symbols[currency]
    prices = text(page.xpath("//tr[@class='price-row']")[0])
    assert not any(symbol in prices for symbol in other_symbols.values())


def test_prices_follow_the_reader_language_not_the_account(client_for, on_professionnel):
    owner = on_professionnel(owner_of(currency="GBP", language="fr"))
    client = client_for(owner)
    client.cookies["django_language"] = "en"
    page = table(client.get(PRICING, headers={"Accept-Language": "en"}))
    assert text(page.xpath("//td[@data-testid='price-professionnel']")[0]).startswith(
        "£5,200.00 per year"
    )


def test_a_plan_without_a_price_in_the_currency_is_on_request(client_for, on_professionnel):
    owner = on_professionnel(owner_of(currency="GBP"))
    PlanPrice.objects.filter(plan__code="entreprise", currency="GBP").delete()
    page = table(client_for(owner).get(PRICING))
    assert text(page.xpath("//td[@data-testid='price-entreprise']")[0]) == "Sur demande"


@pytest.mark.parametrize(
    ("organisation", "expected"),
    [
        ({"country": "FR", "vat_number": "FR44732829320"}, "La TVA de 20 % s'ajoute"),
        (
            {"country": "SE", "vat_number": "SE556677889901"},
            "Autoliquidation : vos factures sont émises sans TVA, que votre organisation déclare "
            "elle-même (numéro de TVA SE556677889901).",
        ),
        ({"country": "DE", "vat_number": ""}, "pas de numéro de TVA intracommunautaire valide"),
        ({"country": "US", "vat_number": "", "currency": "USD"}, "hors de l'Union européenne"),
    ],
    ids=["france", "eu-reverse-charge", "eu-without-vat-number", "outside-eu"],
)
def test_the_vat_note_says_what_vat_the_account_pays(
    client_for, on_professionnel, organisation, expected
):
    owner = on_professionnel(owner_of(**organisation))
    page = table(client_for(owner).get(PRICING))
    note = text(page.get_element_by_id("pricing-vat"))
    assert note.startswith("Prix hors taxes (HT)")
    assert expected in note
    # Only an account that could be reverse-charged is told where to give its number.
    vat_link = page.xpath(
        f"//*[@id='pricing-vat']//a[@href='{reverse('portal:organisation_vat')}']"
    )
    assert bool(vat_link) == (organisation["country"] == "DE")


# --- The owner's plan and the upgrade -------------------------------------------------


def test_the_owner_current_plan_is_marked_and_announced(client_for, owner, subscription):
    page = table(client_for(owner).get(PRICING))
    headers = plan_headers(page)
    assert [th.get("aria-current") for th in headers] == [None, "true", None]
    assert text(headers[1]) == "Professionnel Votre forfait actuel"
    assert "current" in headers[1].get("class").split()
    # The whole column is tinted, and only it.
    for index, expected in enumerate((False, True, False)):
        cells = column_cells(page, index)
        assert len(cells) == 2 + len(FEATURES)  # price, actions, features
        assert all(("current" in (td.get("class") or "").split()) == expected for td in cells)
    assert "Votre organisation est au forfait Professionnel." in text(
        page.xpath("//*[@data-testid='current-plan']")[0]
    )


def test_each_higher_plan_links_to_the_upgrade_and_lower_ones_to_support(
    client_for, owner, subscription
):
    page = table(client_for(owner).get(PRICING))
    upgrade = page.xpath("//td[@data-testid='action-entreprise']//a")[0]
    assert upgrade.get("href") == f"{UPGRADE}?plan=entreprise"
    assert text(upgrade) == "Mettre à niveau vers le forfait Entreprise"
    lower = page.xpath("//td[@data-testid='action-essentiel']//a")[0]
    assert lower.get("href") == reverse("support_contact")
    assert page.xpath("//td[@data-testid='action-professionnel']//a") == []
    assert "?plan=essentiel" not in lxml.html.tostring(page, encoding="unicode")


def test_a_higher_plan_that_costs_less_in_the_currency_is_not_an_upgrade(
    client_for, owner, subscription
):
    PlanPrice.objects.filter(plan__code="entreprise", currency="EUR").update(
        yearly_amount=Decimal("5000.00")
    )
    page = table(client_for(owner).get(PRICING))
    assert page.xpath("//td[@data-testid='action-entreprise']//a")[0].get("href") == reverse(
        "support_contact"
    )


def test_the_owner_sees_their_hidden_plan_among_the_public_ones(client_for, owner, subscription):
    Plan.objects.filter(code="professionnel").update(is_public=False)
    page = table(client_for(owner).get(PRICING))
    assert [text(th) for th in plan_headers(page)] == [
        "Essentiel",
        "Professionnel Votre forfait actuel",
        "Entreprise",
    ]


# --- Who sees the account's plan ------------------------------------------------------


def _sees_no_account(page):
    html = lxml.html.tostring(page, encoding="unicode")
    assert page.xpath("//th[@aria-current]") == []
    assert "Votre forfait actuel" not in html
    assert "current-plan" not in html
    assert UPGRADE not in html
    assert "Retour à mon abonnement" not in html
    assert "SE556677889901" not in html and "s'ajoute à ces prix" not in html


def test_a_program_manager_sees_the_public_comparison_only(client_for, on_professionnel):
    """The « Abonnement » tab is the owner's: a program manager does not learn the plan,
    the VAT situation or the upgrade links here either."""
    owner = on_professionnel(owner_of(country="SE", vat_number="SE556677889901", currency="GBP"))
    manager = MembershipFactory(organisation=owner.organisation, role=Membership.Role.MANAGER)
    page = table(client_for(manager).get(PRICING))
    _sees_no_account(page)
    # Prices in the account's currency all the same: what the organisation would pay.
    assert text(page.xpath("//td[@data-testid='price-essentiel']")[0]).startswith("2 100,00 £")


def test_the_owner_of_a_closed_account_sees_the_public_comparison(client_for, owner, subscription):
    Organisation.objects.filter(pk=owner.organisation_id).update(status=Organisation.Status.CLOSED)
    _sees_no_account(table(client_for(owner).get(PRICING)))


def test_support_staff_see_the_public_comparison(client_for, support_user, owner, subscription):
    _sees_no_account(table(client_for(support_user).get(PRICING)))
