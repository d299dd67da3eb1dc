import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organisation
from emails.models import Email
from invoices.models import Invoice
from subscriptions import services
from subscriptions.models import Confirmation, Subscription
from tests.factories import MembershipFactory, OrganisationFactory

from .conftest import emails_to, link_token

TAB = reverse("portal:subscription")
UPGRADE = reverse("portal:upgrade")
UPGRADE_REQUEST = reverse("portal:upgrade_request")
CLOSURE = reverse("portal:closure")
PRICING = reverse("pricing")


def confirm_url(token):
    return reverse("subscription_confirm", args=[token])


def text(response):
    """The page as a reader sees it: entities decoded."""
    return html.unescape(response.content.decode())


# --- The Abonnement tab ---------------------------------------------------------------


def test_tab_shows_plan_price_period_and_actions(client_for, owner, subscription):
    response = client_for(owner).get(TAB)
    page = text(response)
    assert response.status_code == 200
    assert "Professionnel" in page
    assert "6\xa0000,00\xa0€ HT par an" in page
    assert subscription.period_end.strftime("%Y") in page
    for label in ("Comparer les forfaits", "Mettre à niveau", "Supprimer le compte"):
        assert label in page
    assert f'href="{PRICING}"' in page
    assert f'href="{UPGRADE}"' in page
    assert f'href="{CLOSURE}"' in page
    assert 'data-dialog="closure-dialog"' in page
    assert "<script>" not in page and "style=" not in page


def test_program_manager_gets_403(client_for, manager, subscription):
    for url in (TAB, UPGRADE, CLOSURE):
        assert client_for(manager).get(url).status_code == 403
    assert client_for(manager).post(CLOSURE).status_code == 403
    assert not Confirmation.objects.exists()


def test_closed_account_sees_the_closed_page(client_for, owner, subscription):
    Organisation.objects.filter(pk=owner.organisation.pk).update(status="closed")
    response = client_for(owner).get(TAB)
    assert response.status_code == 403
    assert "Ce compte est fermé" in text(response)


def test_choosing_a_lower_plan_says_to_ask_support(client_for, owner, subscription):
    response = client_for(owner).get(UPGRADE, {"plan": "essentiel"})
    page = text(response)
    assert response.status_code == 200
    assert "il sera nécessaire de vous rapprocher de notre équipe support" in page
    assert reverse("support_contact") in page
    assert 'data-testid="upgrade-quote"' not in page
    subscription.refresh_from_db()
    assert subscription.plan.code == "professionnel"
    assert not Confirmation.objects.exists()
    assert not Email.objects.exists()


def test_choosing_a_higher_plan_shows_the_amount_before_anything_is_sent(
    client_for, owner, subscription
):
    response = client_for(owner).get(UPGRADE, {"plan": "entreprise"})
    page = text(response)
    assert "Passage du forfait Professionnel au forfait Entreprise" in page
    assert "\u22124\xa0356,16\xa0€" in page  # the minus sign of the invoices
    assert "8\xa0712,33\xa0€" in page
    assert "871,23\xa0€" in page  # VAT 20 %
    assert "5\xa0227,40\xa0€" in page
    assert "Sauvegarder" in page
    assert not Confirmation.objects.exists()
    assert not Email.objects.exists()


def test_the_upgrade_form_opens_with_the_amount_of_the_proposed_plan(
    client_for, owner, subscription
):
    page = text(client_for(owner).get(UPGRADE))
    section = page[page.index('id="upgrade-section"') : page.index('id="h-close"')]
    assert "Passage du forfait Professionnel au forfait Entreprise" in section
    assert section.count(">Annuler<") == 1
    assert "Confirmer" not in section
    assert not Confirmation.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_choosing_the_current_plan_says_it_is_the_current_plan(
    client_for, owner, subscription, method
):
    url = UPGRADE if method == "get" else UPGRADE_REQUEST
    response = getattr(client_for(owner), method)(url, {"plan": "professionnel"})
    page = text(response)
    assert response.status_code == 200
    assert "Vous êtes déjà au forfait Professionnel." in page
    assert "Pour changer pour un forfait inférieur" not in page
    assert not Confirmation.objects.exists()
    assert not Email.objects.exists()


def test_the_drop_down_gets_only_the_preview_from_htmx(client_for, owner, subscription):
    response = client_for(owner).get(
        UPGRADE,
        {"plan": "essentiel"},
        headers={"HX-Request": "true", "HX-Target": "upgrade-preview"},
    )
    page = text(response)
    assert page.lstrip().startswith('<div id="upgrade-preview"')
    assert "Le forfait Essentiel est inférieur à votre forfait actuel." in page
    assert "<select" not in page


def test_voir_le_montant_previews_without_sending(client_for, owner, subscription):
    response = client_for(owner).post(UPGRADE_REQUEST, {"plan": "entreprise", "preview": "1"})
    page = text(response)
    assert response.status_code == 200
    assert "Passage du forfait Professionnel au forfait Entreprise" in page
    assert not Confirmation.objects.exists()
    assert not Email.objects.exists()


def test_on_the_top_plan_no_upgrade_is_offered(client_for, owner, subscription, plans):
    Subscription.objects.filter(pk=subscription.pk).update(plan=plans["entreprise"])
    client = client_for(owner)
    tab = text(client.get(TAB))
    assert f'href="{UPGRADE}"' not in tab
    assert "forfait le plus complet" in tab
    page = text(client.get(UPGRADE, {"plan": "entreprise"}))
    assert "<select" not in page
    assert "forfait le plus complet" in page


def test_the_upgrade_form_answers_htmx_with_its_fragment(client_for, owner, subscription):
    response = client_for(owner).get(
        UPGRADE, {"plan": "entreprise"}, headers={"HX-Request": "true"}
    )
    page = text(response)
    assert page.lstrip().startswith('<section id="upgrade-section"')
    assert "<html" not in page
    assert "HX-Request" in response["Vary"]


def test_confirm_and_receive_the_email_then_resend(client_for, owner, subscription):
    client = client_for(owner)
    response = client.post(UPGRADE_REQUEST, {"plan": "entreprise"}, follow=True)
    page = text(response)
    assert response.redirect_chain == [(TAB, 302)]
    assert "Nous vous avons envoyé un e-mail" in page
    assert "courrier indésirable ou de spam" in page
    assert "Renvoyer l'e-mail" in page
    subscription.refresh_from_db()
    assert subscription.plan.code == "professionnel"
    [first] = emails_to("owner@example.com", "upgrade_request")

    client.post(UPGRADE_REQUEST, {"plan": "entreprise"})
    first_link, second_link = (link_token(e) for e in emails_to("owner@example.com"))
    assert first_link != second_link
    assert client.get(confirm_url(first_link)).status_code == 410
    assert client.get(confirm_url(second_link)).status_code == 200


def test_requesting_a_downgrade_by_post_is_refused(client_for, owner, subscription):
    response = client_for(owner).post(UPGRADE_REQUEST, {"plan": "essentiel"})
    assert response.status_code == 200
    assert "équipe support" in text(response)
    assert not Confirmation.objects.exists()


def test_without_subscription_the_tab_says_so(client_for, owner):
    response = client_for(owner).get(TAB)
    assert response.status_code == 200
    assert "pas d'abonnement en cours" in text(response)


# --- Confirmation links ---------------------------------------------------------------


@pytest.fixture
def upgrade_link(client_for, owner, subscription):
    client_for(owner).post(UPGRADE_REQUEST, {"plan": "entreprise"})
    client_for(owner).logout()
    [email] = emails_to("owner@example.com", "upgrade_request")
    return confirm_url(link_token(email))


def test_a_transfer_cancels_the_former_owners_links_for_good(
    client, client_for, upgrade_link, owner, manager, subscription
):
    """The requester hands ownership over and takes it back: the old link stays dead."""
    from accounts.services import ownership_transfer

    ownership_transfer(
        organisation=owner.organisation, new_owner_membership_id=manager.pk, actor=owner.user
    )
    assert client.get(upgrade_link).status_code == 410
    ownership_transfer(
        organisation=owner.organisation, new_owner_membership_id=owner.pk, actor=manager.user
    )
    client_for(owner)
    assert client.get(upgrade_link).status_code == 410
    assert client.post(upgrade_link).status_code == 410
    subscription.refresh_from_db()
    assert subscription.plan.code == "professionnel"
    assert not Invoice.objects.exists()
    assert Confirmation.objects.get().status == Confirmation.Status.CANCELLED
    event = owner.organisation.audit_events.get(action="confirmation.cancelled")
    assert event.before == {"kind": "upgrade", "requested_by": "owner@example.com"}


def test_opening_the_link_changes_nothing(client, upgrade_link, subscription):
    for _ in range(3):  # the owner, their mail scanner, a second look
        response = client.get(upgrade_link)
        assert response.status_code == 200
    page = text(response)
    assert "Confirmer la mise à niveau" in page
    assert "5\xa0227,40\xa0€" in page
    assert 'method="post"' in page
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    subscription.refresh_from_db()
    assert subscription.plan.code == "professionnel"
    assert not Invoice.objects.exists()
    assert Confirmation.objects.get().status == Confirmation.Status.PENDING


def test_posting_the_link_confirms_once(client, upgrade_link, subscription):
    response = client.post(upgrade_link, follow=True)
    assert response.redirect_chain == [(upgrade_link, 302)]
    assert "Mise à niveau confirmée" in text(response)
    subscription.refresh_from_db()
    assert subscription.plan.code == "entreprise"

    again = client.post(upgrade_link, follow=True)  # a double click
    assert again.status_code == 200
    assert "Mise à niveau confirmée" in text(again)
    assert Invoice.objects.count() == 1
    assert len(emails_to("owner@example.com", "upgrade_confirmed")) == 1


def test_the_link_works_for_whoever_is_signed_in(
    client_for, other_owner, upgrade_link, subscription
):
    client = client_for(other_owner)
    assert "Vous êtes connecté en tant que other@example.com" in text(client.get(upgrade_link))
    client.post(upgrade_link)
    subscription.refresh_from_db()
    assert subscription.plan.code == "entreprise"
    event = subscription.organisation.audit_events.get(action="upgrade.confirmed")
    assert event.actor.email == "owner@example.com"
    assert event.after["signed_in_as"] == "other@example.com"
    assert not Subscription.objects.filter(organisation=other_owner.organisation).exists()


@pytest.mark.parametrize(
    ("spoil", "status", "message"),
    [
        ("alter", 404, "Lien non valide"),
        ("expire", 410, "Lien expiré"),
        ("supersede", 410, "Lien remplacé"),
        ("owner_change", 410, "n'est plus le propriétaire"),
    ],
)
def test_bad_links_show_a_clear_page_and_change_nothing(
    client, client_for, owner, manager, upgrade_link, subscription, spoil, status, message
):
    url = upgrade_link
    if spoil == "alter":
        url = upgrade_link[:-5] + "AAAA/"
    elif spoil == "expire":
        Confirmation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif spoil == "supersede":
        services.upgrade_request(
            organisation=owner.organisation,
            plan=subscription.plan.__class__.objects.get(code="entreprise"),
            actor=owner.user,
        )
    elif spoil == "owner_change":
        client_for(owner).post(
            reverse("portal:owner_change"), {"new_owner": manager.pk, "previewed": manager.pk}
        )
        client.logout()
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == status
        assert message in text(response)
        assert "Rien n'a été modifié" in text(response)
    subscription.refresh_from_db()
    assert subscription.plan.code == "professionnel"
    assert not Invoice.objects.exists()


def test_garbage_tokens_are_refused_cleanly(client, db):
    for token in ("x", "a" * 43, "a" * 300):
        assert client.get(f"/confirm/{token}/").status_code == 404
    for token in ("%00", "..%2F"):
        # Refused by the URL resolver or a middleware before the view: any 4xx, never 500.
        assert 400 <= client.get(f"/confirm/{token}/").status_code < 500


# --- Closure --------------------------------------------------------------------------


def test_closure_without_javascript(client_for, owner, manager, subscription, billing_contact):
    client = client_for(owner)
    page = text(client.get(CLOSURE))
    assert "Supprimer le compte ?" in page
    assert "Supprimer" in page and "Annuler" in page
    assert Organisation.objects.get().status == "active"

    response = client.post(CLOSURE, follow=True)
    assert "Nous vous avons envoyé un e-mail pour confirmer la fermeture" in text(response)
    assert "courrier indésirable ou de spam" in text(response)
    assert Organisation.objects.get().status == "active"
    [email] = emails_to("owner@example.com", "closure_request")
    url = confirm_url(link_token(email))

    assert "Confirmer la fermeture du compte" in text(client.get(url))
    assert Organisation.objects.get().status == "active"
    response = client.post(url, follow=True)
    assert "Compte fermé" in text(response)
    organisation = Organisation.objects.get()
    assert organisation.status == "closed"
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELLED
    assert emails_to("compta@example.com", "account_closed")
    # Members can no longer use the portal.
    for member in (owner, manager):
        response = client_for(member).get(reverse("portal:contacts"))
        assert response.status_code == 403
        assert "Ce compte est fermé" in text(response)


# --- Pricing --------------------------------------------------------------------------


def test_anonymous_sees_the_pricing_page_in_euros(client, plans):
    response = client.get(PRICING)
    page = text(response)
    assert response.status_code == 200
    for name in ("Essentiel", "Professionnel", "Entreprise"):
        assert name in page
    assert "2\xa0400,00\xa0€" in page and "12\xa0000,00\xa0€" in page
    assert "Jugement en ligne" in page
    assert "Choisir ce forfait" not in page


def test_pricing_in_the_visitor_account_currency(client_for, plans):
    member = MembershipFactory(organisation=OrganisationFactory(currency="USD"), role="owner")
    page = text(client_for(member).get(PRICING))
    assert "$6,500.00" not in page  # French page: 6 500,00 $ US, as on the invoices
    assert "6\xa0500,00\xa0$\xa0US" in page
    assert "€" not in page.split("<main", 1)[1].split("</main>", 1)[0]


def test_pricing_marks_the_current_plan_and_offers_higher_ones(client_for, owner, subscription):
    page = text(client_for(owner).get(PRICING))
    assert "Votre forfait" in page
    assert f"{UPGRADE}?plan=entreprise" in page
    assert f"{UPGRADE}?plan=essentiel" not in page


def test_pricing_in_english(client, plans):
    client.cookies["django_language"] = "en"
    page = text(client.get(PRICING, headers={"Accept-Language": "en"}))
    assert "Enterprise" in page
    assert "€12,000.00" in page


def test_invalid_upgrade_request_is_shown_in_place_with_htmx(client_for, owner, subscription):
    # htmx does not swap 4xx answers: form errors must come back as 200 to be seen.
    response = client_for(owner).post(
        reverse("portal:upgrade_request"), {"plan": "nope"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "Choisissez un forfait de la liste." in response.content.decode()
    assert not Confirmation.objects.exists()
