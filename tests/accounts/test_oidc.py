"""Sign-in from the host's identity provider, against a real OpenID Connect provider on
loopback (tests/accounts/oidc_provider.py): authorization code with PKCE, the identity
mapped to a provisioned user, every refusal on its own page."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.urls import reverse

from accounts.models import AuditEvent, User
from accounts.services import people_anonymise
from tests.factories import PASSWORD, MembershipFactory, UserFactory

from .oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    provider_callback_url,
    provider_sign_in,
    start_provider,
)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    process, provider = start_provider(tmp_path_factory.mktemp("oidc"))
    yield provider
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def oidc(db, settings, oidc_provider):
    settings.OIDC_ISSUER = oidc_provider.issuer
    settings.OIDC_DISCOVERY_URL = f"{oidc_provider.issuer}/.well-known/openid-configuration"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_PROVIDER_NAME = "Palmarès Cloud"
    cache.clear()
    oidc_provider.people({})
    yield oidc_provider
    cache.clear()


@pytest.fixture
def alice(organisation):
    """A provisioned program manager, not yet bound to a subject."""
    return MembershipFactory(
        organisation=organisation, user=UserFactory(email="alice@example.com")
    ).user


def _signed_in_user_id(client):
    value = client.session.get(SESSION_KEY)
    return int(value) if value else None


def test_a_provisioned_person_signs_in_with_pkce_and_the_subject_is_bound(client, oidc, alice):
    oidc.people({"idp-alice": {"email": "Alice@Example.com", "email_verified": True}})

    start = client.get(reverse("oidc_authentication_init"))
    query = parse_qs(urlsplit(start["Location"]).query)
    assert start["Location"].startswith(f"{oidc.issuer}/auth?")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["client_id"] == [CLIENT_ID] and query["state"][0] and query["nonce"][0]

    response, _callback = provider_sign_in(client, "idp-alice")

    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert _signed_in_user_id(client) == alice.pk
    alice.refresh_from_db()
    assert alice.oidc_subject == "idp-alice"
    event = AuditEvent.objects.get(action="user.signed_in")
    assert event.actor == alice and event.after == {"method": "oidc"}
    assert event.organisation == alice.memberships.get().organisation
    assert client.get(reverse("portal:contacts")).status_code == 200


def test_the_next_page_survives_the_round_trip(client, oidc, alice):
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})
    start = reverse("oidc_authentication_init") + "?" + urlencode({"next": "/billing/contacts/"})
    response, _ = provider_sign_in(client, "idp-alice", start_url=start)
    assert response["Location"] == "/billing/contacts/"


def test_the_login_page_offers_the_provider(client, oidc):
    page = client.get(reverse("login")).content.decode()
    assert "Se connecter avec Palmarès Cloud" in page
    assert reverse("oidc_authentication_init") in page
    assert 'name="password"' in page  # PASSWORD_SIGN_IN is on by default


def test_an_unknown_person_gets_a_clear_page_and_no_account(client, oidc, alice):
    oidc.people({"idp-bob": {"email": "bob@example.com", "email_verified": True}})
    users = User.objects.count()

    response, _ = provider_sign_in(client, "idp-bob")

    assert response.status_code == 403
    assert "Votre accès n'est pas encore ouvert" in response.content.decode()
    assert User.objects.count() == users
    assert _signed_in_user_id(client) is None
    assert not User.objects.filter(oidc_subject="idp-bob").exists()


def test_the_unknown_page_speaks_english(client, oidc):
    oidc.people({"idp-bob": {"email": "bob@example.com", "email_verified": True}})
    client.cookies["django_language"] = "en"
    response, _ = provider_sign_in(client, "idp-bob")
    assert response.status_code == 403
    assert "Your access has not been opened yet" in response.content.decode()


def test_an_unverified_email_binds_nobody(client, oidc, alice):
    oidc.people({"idp-mallory": {"email": "alice@example.com", "email_verified": False}})

    response, _ = provider_sign_in(client, "idp-mallory")

    assert response.status_code == 403
    assert _signed_in_user_id(client) is None
    alice.refresh_from_db()
    assert alice.oidc_subject is None


def test_later_sign_ins_match_the_subject_only(client, oidc, alice, owner):
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})
    provider_sign_in(client, "idp-alice")
    client.logout()

    # Alice's address changes at the provider to the owner's: she stays Alice.
    oidc.people({"idp-alice": {"email": owner.user.email, "email_verified": True}})
    response, _ = provider_sign_in(client, "idp-alice")
    assert response.status_code == 302
    assert _signed_in_user_id(client) == alice.pk
    owner.user.refresh_from_db()
    assert owner.user.oidc_subject is None
    client.logout()

    # Another identity claiming Alice's address cannot take over her bound account.
    oidc.people({"idp-other": {"email": "alice@example.com", "email_verified": True}})
    response, _ = provider_sign_in(client, "idp-other")
    assert response.status_code == 403
    assert _signed_in_user_id(client) is None
    alice.refresh_from_db()
    assert alice.oidc_subject == "idp-alice"


def test_an_inactive_user_is_refused(client, oidc, alice):
    alice.is_active = False
    alice.save()
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})

    response, _ = provider_sign_in(client, "idp-alice")

    assert response.status_code == 403
    assert "Votre accès à la facturation a été désactivé" in response.content.decode()
    assert _signed_in_user_id(client) is None
    alice.refresh_from_db()
    assert alice.oidc_subject is None


def test_an_anonymised_person_cannot_sign_in_again(client, oidc, alice):
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})
    provider_sign_in(client, "idp-alice")
    client.logout()
    people_anonymise(organisation=alice.memberships.get().organisation)
    alice.refresh_from_db()
    assert alice.oidc_subject is None

    response, _ = provider_sign_in(client, "idp-alice")

    assert response.status_code == 403
    assert _signed_in_user_id(client) is None


def test_a_tampered_state_is_refused(client, oidc, alice):
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})
    start = client.get(reverse("oidc_authentication_init"))
    # The provider's genuine answer to this session's request, its state altered.
    parts = urlsplit(provider_callback_url(start["Location"], "idp-alice"))
    query = parse_qs(parts.query)
    query["state"] = [query["state"][0] + "x"]

    response = client.get(f"{parts.path}?{urlencode(query, doseq=True)}")

    assert response.status_code == 400
    assert "La connexion n'a pas abouti" in response.content.decode()
    assert _signed_in_user_id(client) is None


def test_a_callback_without_the_pkce_verifier_gets_no_token(client, oidc, alice):
    """The provider requires the code verifier: a code replayed into a session whose
    verifier differs (an intercepted code) is worth nothing."""
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})
    response = client.get(reverse("oidc_authentication_init"))
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    session = client.session
    session["oidc_states"][state]["code_verifier"] = "x" * 64
    session.save()

    # Signed in at the provider for this very authorization request.
    response, _ = provider_sign_in(client, "idp-alice", start=response)

    assert response.status_code == 502
    assert "ne répond pas" in response.content.decode()
    assert _signed_in_user_id(client) is None
    assert not AuditEvent.objects.filter(action="user.signed_in").exists()


def test_without_password_sign_in_only_the_provider_is_offered(client, oidc, settings, alice):
    settings.PASSWORD_SIGN_IN = False
    page = client.get(reverse("login"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="password"' not in html and "Mot de passe oublié" not in html
    assert "Se connecter avec Palmarès Cloud" in html

    response = client.post(reverse("login"), {"username": alice.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "connexion par mot de passe" in response.content.decode()
    assert _signed_in_user_id(client) is None

    for name in ("password_reset", "password_reset_done", "password_reset_complete"):
        assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse("password_reset"), {"email": alice.email}).status_code == 403

    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})
    response, _ = provider_sign_in(client, "idp-alice")
    assert _signed_in_user_id(client) == alice.pk


def test_password_sign_in_is_recorded_with_its_method(client, alice):
    response = client.post(reverse("login"), {"username": alice.email, "password": PASSWORD})
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="user.signed_in").after == {"method": "password"}


def test_sign_out_ends_the_session_at_the_provider_too(client, oidc, alice):
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})
    provider_sign_in(client, "idp-alice")

    response = client.post(reverse("logout"))

    assert _signed_in_user_id(client) is None
    end = urlsplit(response["Location"])
    query = parse_qs(end.query)
    assert response["Location"].startswith(f"{oidc.issuer}/session/end?")
    assert query["client_id"] == [CLIENT_ID] and query["id_token_hint"][0]
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]


def test_a_password_session_signs_out_locally(client, alice):
    client.force_login(alice)
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert _signed_in_user_id(client) is None


def test_without_oidc_settings_its_urls_do_not_exist(client):
    assert client.get(reverse("oidc_authentication_init")).status_code == 404
    assert client.get(reverse("oidc_authentication_callback")).status_code == 404
    assert "Se connecter avec" not in client.get(reverse("login")).content.decode()


def test_a_locked_out_address_cannot_sign_in_through_the_provider(client, oidc, alice, settings):
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "nobody@example.com", "password": "x"})
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})

    response, _ = provider_sign_in(client, "idp-alice")

    assert response.status_code == 429
    assert _signed_in_user_id(client) is None
    alice.refresh_from_db()
    assert alice.oidc_subject is None


def test_refused_identities_count_towards_the_lockout(client, oidc, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    oidc.people(
        {
            "idp-bob": {"email": "bob@example.com", "email_verified": True},
            "idp-alice": {"email": "alice@example.com", "email_verified": True},
        }
    )
    assert provider_sign_in(client, "idp-bob")[0].status_code == 403
    # The attempt that reaches the limit is answered with the lockout page.
    assert provider_sign_in(client, "idp-bob")[0].status_code == 429

    response, _ = provider_sign_in(client, "idp-alice")

    assert response.status_code == 429
    assert _signed_in_user_id(client) is None


def test_without_password_sign_in_the_admin_form_takes_no_password(db, client, settings):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    settings.PASSWORD_SIGN_IN = False
    response = client.post(reverse("admin:login"), {"username": staff.email, "password": PASSWORD})
    assert response.status_code == 200  # the form again, with its error
    assert _signed_in_user_id(client) is None


def test_a_sign_in_cancelled_at_the_provider_opens_no_session(client, oidc, alice):
    start = client.get(reverse("oidc_authentication_init"))
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]

    response = client.get(
        reverse("oidc_authentication_callback"), {"error": "access_denied", "state": state}
    )

    assert response.status_code == 400
    assert "La connexion n'a pas abouti" in response.content.decode()
    assert _signed_in_user_id(client) is None
    assert state not in client.session.get("oidc_states", {})  # not usable again


def test_support_sees_the_bound_subject_and_cannot_edit_it(client, oidc, alice, support_user):
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})
    provider_sign_in(client, "idp-alice")
    client.force_login(support_user)

    page = client.get(reverse("admin:accounts_user_change", args=[alice.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "idp-alice" in html and 'name="oidc_subject"' not in html


def test_an_answer_naming_another_issuer_is_refused(client, oidc, alice):
    """RFC 9207: the provider names itself in its answer; one naming another provider is
    refused, even with this session's state and a genuine code."""
    oidc.people({"idp-alice": {"email": "alice@example.com", "email_verified": True}})
    start = client.get(reverse("oidc_authentication_init"))
    callback = provider_callback_url(start["Location"], "idp-alice")
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    assert query["iss"] == [oidc.issuer]
    query["iss"] = ["https://idp.example.net"]

    response = client.get(f"{parts.path}?{urlencode(query, doseq=True)}")

    assert response.status_code == 400
    assert _signed_in_user_id(client) is None
