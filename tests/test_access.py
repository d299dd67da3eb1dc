"""Access control, built from the URLconf: every URL × role × method has an expected status.

A URL added without an entry here fails `test_every_url_has_an_expectation`.

A person may hold a role in several accounts: `test_access_with_two_accounts` gives the
person of each role a second account and checks that every URL answers as the role of the
account chosen in the session alone would get (EXPECTED), whatever the other role.
"""

from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from django.conf import settings
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import Membership, Organisation
from accounts.permissions import ACCOUNT_SESSION_KEY
from tests.factories import (
    BillingContactFactory,
    InvoiceFactory,
    MembershipFactory,
    OrganisationFactory,
)

ROLES = (
    "anonymous",
    "manager",
    "other_owner",
    "owner",
    "support",
    "closed_member",
    "closed_owner",
    "anonymised_owner",
)

# URL names not walked here, with the reason.
EXCLUDED_NAMESPACES = {"admin"}  # the Django admin: tests/*/test_admin.py


def _expect(
    anonymous,
    manager,
    other_owner,
    owner,
    support,
    closed_member=None,
    closed_owner=None,
    anonymised_owner=None,
):
    """`closed_member` is a program manager of a closed account, `closed_owner` its owner
    before anonymisation (as closed_member unless said), `anonymised_owner` the owner of an
    anonymised account (as anonymous unless said: they can no longer sign in)."""
    closed_member = anonymous if closed_member is None else closed_member
    closed_owner = closed_member if closed_owner is None else closed_owner
    anonymised_owner = anonymous if anonymised_owner is None else anonymised_owner
    statuses = (anonymous, manager, other_owner, owner, support)
    statuses += (closed_member, closed_owner, anonymised_owner)
    return dict(zip(ROLES, statuses, strict=True))


# A portal page open to every member; owner-only pages. 302 for anonymous is the login redirect.
MEMBER_PAGE = _expect(302, 200, 200, 200, 403, 403)
OWNER_PAGE = _expect(302, 403, 200, 200, 403, 403)
MEMBER_REDIRECT = _expect(302, 302, 302, 302, 403, 403)
# Scoped to the owner's account: another account's owner gets 404.
OWNER_OBJECT = _expect(302, 403, 404, 200, 403, 403)
# Read only for the owner of a closed account until anonymisation (their own invoices: the
# example invoice is another account's, hence 404; test_closed_owner_reads_own_invoices).
CLOSED_READABLE_PAGE = _expect(302, 403, 200, 200, 403, 403, 200)
CLOSED_READABLE_OBJECT = _expect(302, 403, 404, 200, 403, 403, 404)
PUBLIC = _expect(200, 200, 200, 200, 200, 200, 200, 200)
NOT_ALLOWED = _expect(302, 405, 405, 405, 405, 405, 405)
API_KEY_ONLY = _expect(401, 401, 401, 401, 401, 401, 401, 401)
API_NOT_ALLOWED = _expect(405, 405, 405, 405, 405, 405, 405, 405)

EXPECTED = {
    "root": {"GET": _expect(302, 302, 302, 302, 302, 302, 302, 302)},
    # The owner of a closed account lands on the invoices.
    "portal:home": {"GET": _expect(302, 302, 302, 302, 403, 403, 302), "POST": NOT_ALLOWED},
    # The header's account switcher: a POST, from any page (the closed-account page too);
    # without a valid choice it redirects with a message and changes nothing.
    "portal:account_switch": {"GET": NOT_ALLOWED, "POST": _expect(302, 302, 302, 302, 302, 302)},
    "portal:contacts": {"GET": MEMBER_PAGE, "POST": NOT_ALLOWED},
    "portal:owner_change": {"GET": OWNER_PAGE, "POST": OWNER_PAGE},
    "portal:contact_add": {"GET": OWNER_PAGE, "POST": OWNER_PAGE},
    "portal:contact_edit": {"GET": OWNER_OBJECT, "POST": OWNER_OBJECT},
    "portal:contact_remove": {
        "GET": OWNER_OBJECT,
        # (page, htmx): a browser is redirected, htmx gets the updated fragment.
        "POST": _expect(302, 403, 404, (302, 200), 403, 403),
    },
    # « Sécurité de la connexion »: every member's own sign-in. Without a second factor (as
    # here) its pages lead back to the page; a POST to `two_factor_enable` starts enrolment.
    "portal:security": {"GET": MEMBER_PAGE, "POST": NOT_ALLOWED},
    "portal:two_factor_enable": {"GET": MEMBER_REDIRECT, "POST": MEMBER_REDIRECT},
    "portal:two_factor_codes": {"GET": MEMBER_REDIRECT, "POST": MEMBER_REDIRECT},
    "portal:two_factor_recovery": {"GET": MEMBER_REDIRECT, "POST": MEMBER_REDIRECT},
    "portal:two_factor_disable": {"GET": MEMBER_REDIRECT, "POST": MEMBER_REDIRECT},
    "portal:invoices": {"GET": CLOSED_READABLE_PAGE, "POST": NOT_ALLOWED},
    "portal:organisation_address": {"GET": OWNER_PAGE, "POST": OWNER_PAGE},
    "portal:organisation_vat": {"GET": OWNER_PAGE, "POST": OWNER_PAGE},
    "portal:organisation_siren": {"GET": OWNER_PAGE, "POST": OWNER_PAGE},
    "portal:organisation_delivery_address": {"GET": OWNER_PAGE, "POST": OWNER_PAGE},
    "portal:organisation_references": {"GET": OWNER_PAGE, "POST": OWNER_PAGE},
    # The owner's own invoices; another account's owner exports theirs (none here).
    "portal:invoices_export_zip": {"GET": CLOSED_READABLE_PAGE, "POST": NOT_ALLOWED},
    "portal:invoices_export_csv": {"GET": CLOSED_READABLE_PAGE, "POST": NOT_ALLOWED},
    "portal:invoice_detail": {"GET": CLOSED_READABLE_OBJECT, "POST": NOT_ALLOWED},
    "portal:invoice_pdf": {"GET": CLOSED_READABLE_OBJECT, "POST": NOT_ALLOWED},
    "portal:invoice_facturx": {"GET": CLOSED_READABLE_OBJECT, "POST": NOT_ALLOWED},
    "portal:invoice_ubl": {"GET": CLOSED_READABLE_OBJECT, "POST": NOT_ALLOWED},
    "portal:subscription": {"GET": OWNER_PAGE, "POST": NOT_ALLOWED},
    "portal:upgrade": {"GET": OWNER_PAGE, "POST": NOT_ALLOWED},
    "portal:upgrade_request": {"GET": NOT_ALLOWED, "POST": OWNER_PAGE},
    "portal:closure": {"GET": OWNER_PAGE, "POST": _expect(302, 403, 302, 302, 403, 403)},
    "portal:direct_debit": {"GET": OWNER_PAGE, "POST": NOT_ALLOWED},
    # An empty form shows its errors again (200); a revocation redirects to the page, with
    # the link sent or « no mandate in force ».
    "portal:mandate_sign": {"GET": NOT_ALLOWED, "POST": OWNER_PAGE},
    "portal:mandate_revoke": {"GET": NOT_ALLOWED, "POST": _expect(302, 403, 302, 302, 403, 403)},
    "portal:mandate_pdf": {"GET": OWNER_OBJECT, "POST": NOT_ALLOWED},
    # Public; only the owner of an open account sees their plan, VAT and upgrade links in it
    # (tests/subscriptions/test_pricing_page.py: program managers see the public comparison).
    "pricing": {"GET": PUBLIC, "POST": _expect(405, 405, 405, 405, 405, 405, 405, 405)},
    # The token is the credential: an unknown one is a 404 for everyone.
    "subscription_confirm": {
        "GET": _expect(404, 404, 404, 404, 404, 404, 404, 404),
        "POST": _expect(404, 404, 404, 404, 404, 404, 404, 404),
    },
    "login": {
        "GET": _expect(200, 302, 302, 302, 302, 302),
        "POST": _expect(200, 302, 302, 302, 302, 302),
    },
    # The sign-in's second step: without a pending sign-in, back to the sign-in page (or,
    # signed in, to the portal).
    "login_code": {
        "GET": _expect(302, 302, 302, 302, 302, 302, 302, 302),
        "POST": _expect(302, 302, 302, 302, 302, 302, 302, 302),
    },
    "logout": {
        "GET": _expect(405, 405, 405, 405, 405, 405, 405, 405),
        "POST": _expect(302, 302, 302, 302, 302, 302, 302, 302),
    },
    # Without OIDC_ISSUER (the test settings) the provider's URLs do not exist; with it,
    # tests/accounts/test_oidc.py covers them.
    "oidc_authentication_init": {
        "GET": _expect(404, 404, 404, 404, 404, 404),
        "POST": _expect(405, 405, 405, 405, 405, 405),
    },
    "oidc_authentication_callback": {
        "GET": _expect(404, 404, 404, 404, 404, 404),
        "POST": _expect(405, 405, 405, 405, 405, 405),
    },
    "password_reset": {"GET": PUBLIC, "POST": PUBLIC},
    "password_reset_done": {"GET": PUBLIC},
    "password_reset_confirm": {"GET": PUBLIC},
    "password_reset_complete": {"GET": PUBLIC},
    "support_contact": {"GET": PUBLIC, "POST": PUBLIC},
    "support_contact_sent": {"GET": PUBLIC},
    "brand_css": {"GET": PUBLIC, "POST": _expect(405, 405, 405, 405, 405, 405, 405, 405)},
    "healthz": {"GET": PUBLIC, "POST": _expect(405, 405, 405, 405, 405, 405, 405, 405)},
    "readyz": {"GET": PUBLIC, "POST": _expect(405, 405, 405, 405, 405, 405, 405, 405)},
    "set_language": {
        "GET": _expect(302, 302, 302, 302, 302, 302, 302, 302),
        "POST": _expect(302, 302, 302, 302, 302, 302, 302, 302),
    },
    # The provisioning API takes an API key, never a portal session: 401 for every role
    # (tests/api covers keys, scopes and other clients' accounts); a method it does not
    # serve is a 405 before that. Its schema and docs page are public.
    "api:accounts": {"GET": API_KEY_ONLY, "POST": API_KEY_ONLY},
    "api:account": {"GET": API_KEY_ONLY, "PATCH": API_KEY_ONLY, "POST": API_NOT_ALLOWED},
    "api:account_close": {"GET": API_NOT_ALLOWED, "POST": API_KEY_ONLY},
    "api:subscription": {"GET": API_KEY_ONLY, "POST": API_NOT_ALLOWED},
    "api:subscription_plan": {"GET": API_NOT_ALLOWED, "PUT": API_KEY_ONLY},
    "api:members": {"GET": API_KEY_ONLY, "POST": API_KEY_ONLY},
    "api:member": {
        "GET": API_KEY_ONLY,
        "PATCH": API_KEY_ONLY,
        "DELETE": API_KEY_ONLY,
        "POST": API_NOT_ALLOWED,
    },
    "api:invoices": {"GET": API_KEY_ONLY, "POST": API_NOT_ALLOWED},
    # django-ninja's root, which only names the API's prefix: not found (a problem).
    "api:api-root": {"GET": _expect(404, 404, 404, 404, 404, 404, 404, 404)},
    "api:openapi-json": {"GET": PUBLIC, "POST": API_NOT_ALLOWED},
    "api:openapi-view": {"GET": PUBLIC, "POST": API_NOT_ALLOWED},
}

# Example arguments for URLs that take some; `contact` is a billing contact of the
# owner's account.
URL_KWARGS = {
    "portal:contact_edit": lambda objs: {"pk": objs["contact"].pk},
    "portal:contact_remove": lambda objs: {"pk": objs["contact"].pk},
    "password_reset_confirm": lambda objs: {"uidb64": "MQ", "token": "set-password"},
    "subscription_confirm": lambda objs: {"token": "x" * 43},
    "portal:invoice_detail": lambda objs: {"number": objs["invoice"].number},
    "portal:invoice_pdf": lambda objs: {"number": objs["invoice"].number},
    "portal:invoice_facturx": lambda objs: {"number": objs["invoice"].number},
    "portal:invoice_ubl": lambda objs: {"number": objs["invoice"].number},
    "portal:mandate_pdf": lambda objs: {"reference": objs["mandate"].reference},
    **{
        f"api:{name}": lambda objs: {"account_id": _owners_membership(objs).organisation_id}
        for name in (
            "account",
            "account_close",
            "subscription",
            "subscription_plan",
            "members",
            "invoices",
        )
    },
    "api:member": lambda objs: {
        "account_id": _owners_membership(objs).organisation_id,
        "member_id": _owners_membership(objs).pk,
    },
}


def _owners_membership(objs):
    # The example account (its contact's): the owner may own a second one (pairs below).
    return Membership.objects.get(
        user=objs["owner"], organisation_id=objs["contact"].organisation_id
    )


def _walk(patterns, namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns in EXCLUDED_NAMESPACES:
                continue
            yield from _walk(entry.url_patterns, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}"


def url_names():
    return sorted(set(_walk(get_resolver().url_patterns)))


def test_every_url_has_an_expectation():
    missing = [name for name in url_names() if name not in EXPECTED]
    assert missing == [], f"add these URLs to the access matrix: {missing}"
    stale = [name for name in EXPECTED if name not in url_names()]
    assert stale == []


@pytest.fixture
def actors(owner, manager, other_owner, support_user):
    closed = MembershipFactory(
        organisation=OrganisationFactory(status=Organisation.Status.CLOSED, name="Closed Org")
    )
    closed_owner = MembershipFactory(organisation=closed.organisation, role=Membership.Role.OWNER)
    contact = BillingContactFactory(organisation=owner.organisation)
    return {
        "anonymous": None,
        "manager": manager.user,
        "other_owner": other_owner.user,
        "owner": owner.user,
        "support": support_user,
        "closed_member": closed.user,
        "closed_owner": closed_owner.user,
        "anonymised_owner": _anonymised_owner(),
        "contact": contact,
        "invoice": InvoiceFactory(organisation=owner.organisation),
        "mandate": _active_mandate(owner),
    }


def _closed_account(*, days_ago):
    """An account its owner closed `days_ago` days ago, with an open invoice."""
    from subscriptions.models import AccountClosure

    closed_at = timezone.now() - timedelta(days=days_ago)
    organisation = OrganisationFactory(status=Organisation.Status.CLOSED, closed_at=closed_at)
    owner = MembershipFactory(organisation=organisation, role=Membership.Role.OWNER)
    AccountClosure.objects.create(
        organisation=organisation,
        requested_by=owner.user,
        closed_at=closed_at,
        anonymise_after=closed_at + timedelta(days=30),
    )
    InvoiceFactory(organisation=organisation)
    return owner


def _anonymised_owner():
    from subscriptions.services import account_anonymise

    owner = _closed_account(days_ago=40)
    assert account_anonymise(organisation=owner.organisation)
    owner.user.refresh_from_db()
    return owner.user


def _active_mandate(owner):
    from payments.models import Mandate

    return Mandate.objects.create(
        organisation=owner.organisation,
        reference="PALM-000001-01",
        scheme=Mandate.Scheme.CORE,
        status=Mandate.Status.ACTIVE,
        holder_name="Lyon",
        holder_address="1 place Bellecour\n69002 Lyon",
        holder_country="FR",
        iban="FR1420041010050500013M02606",
        signed_place="Lyon",
        signed_on=owner.organisation.created_at.date(),
        signed_by=owner.user,
        language="fr",
    )


CASES = [
    (name, method, role, status)
    for name, methods in EXPECTED.items()
    for method, by_role in methods.items()
    for role, status in by_role.items()
]


@pytest.mark.parametrize(("name", "method", "role", "status"), CASES)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_access(client, actors, name, method, role, status, htmx, monkeypatch):
    if name == "readyz":
        # Who may reach the probe, not its timing (tests/test_broker_outage.py): on a busy
        # machine a fresh connection may take longer than the one-second budget.
        from billing_portal import health

        monkeypatch.setattr(health, "READINESS_TIMEOUT", 10.0)
    kwargs = URL_KWARGS.get(name, lambda objs: {})(actors)
    url = reverse(name, kwargs=kwargs)
    if actors[role] is not None:
        client.force_login(actors[role])
    headers = {"HX-Request": "true"} if htmx else {}
    response = getattr(client, method.lower())(url, headers=headers)
    if isinstance(status, tuple):
        status = status[1] if htmx else status[0]
    assert response.status_code == status, (name, method, role, htmx)


CLOSED_READABLE = [
    name for name, methods in EXPECTED.items() if methods.get("GET") is CLOSED_READABLE_OBJECT
]


@pytest.mark.parametrize("name", CLOSED_READABLE)
def test_closed_owner_reads_own_invoices_until_anonymisation(db, client, name):
    """The owner of a closed account reads and downloads its invoices; its program managers
    do not; once anonymised, nobody signs in any more."""
    from subscriptions.services import account_anonymise

    owner = _closed_account(days_ago=40)
    manager = MembershipFactory(organisation=owner.organisation)
    url = reverse(name, kwargs={"number": owner.organisation.invoices.get().number})

    client.force_login(owner.user)
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 405
    client.force_login(manager.user)
    assert client.get(url).status_code == 403

    assert account_anonymise(organisation=owner.organisation)
    client.force_login(owner.user)
    response = client.get(url)
    assert (response.status_code, response.url.split("?")[0]) == (302, reverse("login"))


# --- One person, two accounts ----------------------------------------------------------

# The roles a person holds in an account (A), and what they may hold in a second one (B):
# a role, no role at all (B is someone else's account, named in the session all the same),
# or a role in an account anonymised since (they kept their user: it lost only B).
ACCOUNT_ROLES = ("manager", "owner", "closed_member", "closed_owner")
SECOND_ROLES = (*ACCOUNT_ROLES, "none", "anonymised")
# The health probes and the brand's stylesheet read no session (and the readiness probe
# waits on the broker): the single-role matrix above covers them.
SESSIONLESS = {"healthz", "readyz", "brand_css"}
URL_METHODS = [
    (name, method)
    for name, methods in EXPECTED.items()
    if name not in SESSIONLESS
    for method in methods
]


def _second_account(user, role, actors):
    """B for `user` (who holds a role in A): returns B's id as the session would name it.
    A B of theirs comes first by name: the account a session without a choice opens on, so
    that A answers only if the session's choice is followed."""
    if role == "none":
        return Membership.objects.get(user=actors["other_owner"]).organisation_id
    if role == "anonymised":
        from subscriptions.services import account_anonymise

        anonymised = _closed_account(days_ago=40)
        MembershipFactory(user=user, organisation=anonymised.organisation)
        assert account_anonymise(organisation=anonymised.organisation)
        user.refresh_from_db()
        assert user.is_active and user.memberships.count() == 1
        return anonymised.organisation_id
    closed = role.startswith("closed")
    organisation = OrganisationFactory(
        name="Aa second account", status="closed" if closed else "active"
    )
    is_owner = role.endswith("owner")
    MembershipFactory(
        user=user,
        organisation=organisation,
        role=Membership.Role.OWNER if is_owner else Membership.Role.MANAGER,
    )
    return organisation.pk


def _statuses(client, user, organisation_id, actors, htmx):
    """Every URL × method, as `user` with `organisation_id` in the session. Each POST
    runs in a savepoint rolled back after it (one that closes an account, removes a
    contact or signs out leaves nothing for the next request): one setup for ~80 requests.
    A GET changes nothing but the invoice's stored PDF, kept: rendered once per test."""
    client.force_login(user)
    session = client.session
    session[ACCOUNT_SESSION_KEY] = organisation_id
    session.save()
    headers = {"HX-Request": "true"} if htmx else {}
    found = {}
    for name, method in URL_METHODS:
        url = reverse(name, kwargs=URL_KWARGS.get(name, lambda objs: {})(actors))
        client.cookies = SimpleCookie({settings.SESSION_COOKIE_NAME: session.session_key})
        with transaction.atomic():
            found[(name, method)] = getattr(client, method.lower())(url, headers=headers)
            transaction.set_rollback(method != "GET")
    return {key: response.status_code for key, response in found.items()}


def _expected(role, htmx):
    def pick(status):
        return (status[1] if htmx else status[0]) if isinstance(status, tuple) else status

    return {(name, method): pick(EXPECTED[name][method][role]) for name, method in URL_METHODS}


def _differences(found, expected):
    return {key: (found[key], expected[key]) for key in expected if found[key] != expected[key]}


PAIRS = [(first, second) for first in ACCOUNT_ROLES for second in SECOND_ROLES]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_access_with_two_accounts(client, actors, first, second):
    """The person of role `first` in A also has `second` in B. With A in the session, every
    URL answers as to `first` alone. With B: when B is not (or no longer) theirs, as with A
    (never a 403, never B's data); when they own B, as to B's owner alone, A's contact,
    invoice and mandate being another account's (404). B chosen with another role answers
    as A chosen in the pair the other way round, so it is not walked twice. Plain and htmx
    requests alternate from pair to pair: each pair once, each role in A both ways."""
    htmx = SECOND_ROLES.index(second) % 2 == 1
    user = actors[first]
    account_a = Membership.objects.get(user=user).organisation_id
    account_b = _second_account(user, second, actors)
    found = _statuses(client, user, account_a, actors, htmx=htmx)
    assert _differences(found, _expected(first, htmx)) == {}
    if second in ("owner", "none", "anonymised"):
        as_b = "other_owner" if second == "owner" else first
        found = _statuses(client, user, account_b, actors, htmx=htmx)
        assert _differences(found, _expected(as_b, htmx)) == {}
