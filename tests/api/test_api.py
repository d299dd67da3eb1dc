"""The provisioning API through HTTP, as the host calls it: what it answers and what the
database holds afterwards."""

import json

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, Membership, Organisation, User
from api import services
from api.models import ApiKey, ClientAccount, IdempotencyRecord
from emails.models import Email
from invoices.models import Invoice
from subscriptions.models import AccountClosure, Subscription
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

from .conftest import account_body

PROBLEM = "application/problem+json"


def _assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status
    assert body["type"].startswith("urn:billing-portal:problem:")
    return body


# --- Keys and scopes ------------------------------------------------------------------


def test_without_a_key_a_401_problem(api, account_a):
    body = _assert_problem(api("GET", f"/accounts/{account_a}"), 401)
    assert body["instance"] == f"/api/v1/accounts/{account_a}"


@pytest.mark.parametrize(
    "key", ["nope", "bpk_AAAAAAAAAAAA_" + "x" * 43, "Basic dXNlcjpwYXNz"], ids=str
)
def test_a_wrong_key_is_a_401(api, account_a, key):
    response = api("GET", f"/accounts/{account_a}", key)
    _assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_key_with_its_secret_altered_is_a_401(api, key_a, account_a):
    altered = key_a[:-1] + ("A" if key_a[-1] != "A" else "B")
    _assert_problem(api("GET", f"/accounts/{account_a}", altered), 401)


def test_a_revoked_key_is_refused_at_once(api, key_a, account_a, support_user):
    assert api("GET", f"/accounts/{account_a}", key_a).status_code == 200
    key = ApiKey.objects.get()
    assert key.last_used_at is not None
    assert services.keys_revoke(key_ids=[key.pk], actor=support_user) == 1
    _assert_problem(api("GET", f"/accounts/{account_a}", key_a), 401)
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1


def test_only_the_hash_of_a_key_is_stored(key_a):
    key = ApiKey.objects.get()
    assert key_a not in key.secret_hash and key.prefix in key_a
    assert len(key.secret_hash) == 64


def test_a_key_without_the_scope_gets_a_403_and_changes_nothing(
    api, api_client_a, account_a, support_user
):
    read_only = services.key_create(
        client=api_client_a, name="reports", scopes=["accounts:read"], actor=support_user
    ).secret
    assert api("GET", f"/accounts/{account_a}", read_only).status_code == 200
    body = _assert_problem(
        api("PATCH", f"/accounts/{account_a}", read_only, json={"name": "Autre"}), 403
    )
    assert "accounts:write" in body["detail"]
    _assert_problem(api("GET", f"/accounts/{account_a}/members", read_only), 403)
    _assert_problem(api("GET", f"/accounts/{account_a}/invoices", read_only), 403)
    _assert_problem(api("POST", f"/accounts/{account_a}/close", read_only), 403)
    assert Organisation.objects.get(pk=account_a).name == "Festival de Cannes"
    assert not Organisation.objects.get(pk=account_a).is_closed


def test_a_portal_session_does_not_open_the_api(client, owner, account_a):
    client.force_login(owner.user)
    _assert_problem(client.get("/api/v1/accounts"), 401)


# --- Another client's accounts ----------------------------------------------------------


def _state(account_id):
    organisation = Organisation.objects.get(pk=account_id)
    return (
        organisation.name,
        organisation.status,
        list(Membership.objects.filter(organisation_id=account_id).values_list("role", "user")),
        Subscription.objects.filter(organisation_id=account_id).values_list("plan", "next_plan")[0],
        Invoice.objects.filter(organisation_id=account_id).count(),
        AuditEvent.objects.filter(organisation_id=account_id).count(),
    )


def test_one_clients_key_never_reaches_another_clients_account(api, key_a, key_b, account_a):
    owner_id = Membership.objects.get(organisation_id=account_a).pk
    before = _state(account_a)
    a = f"/accounts/{account_a}"
    calls = [
        ("GET", a, None),
        ("PATCH", a, {"name": "Pris"}),
        ("POST", f"{a}/close", None),
        ("GET", f"{a}/subscription", None),
        ("PUT", f"{a}/subscription/plan", {"plan": "entreprise"}),
        ("GET", f"{a}/members", None),
        ("POST", f"{a}/members", {"email": "x@example.com", "first_name": "X", "last_name": "Y"}),
        ("GET", f"{a}/members/{owner_id}", None),
        ("PATCH", f"{a}/members/{owner_id}", {"first_name": "Pris"}),
        ("DELETE", f"{a}/members/{owner_id}", None),
        ("GET", f"{a}/invoices", None),
    ]
    for method, path, body in calls:
        _assert_problem(api(method, path, key_b, json=body), 404)
    assert api("GET", "/accounts", key_b).json()["items"] == []
    assert _state(account_a) == before


def test_an_account_made_outside_the_api_is_not_found(api, key_a, owner):
    _assert_problem(api("GET", f"/accounts/{owner.organisation.pk}", key_a), 404)


# --- Accounts ---------------------------------------------------------------------------


def test_creating_an_account(api, key_a, api_client_a, plans, mailoutbox):
    response = api("POST", "/accounts", key_a, json=account_body())
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == f"/api/v1/accounts/{body['id']}"
    assert body["siren"] == "732829320"  # from the French VAT number
    assert body["status"] == "active" and body["external_id"] == "host-42"

    organisation = Organisation.objects.get(pk=body["id"])
    assert (organisation.name, organisation.city, organisation.currency) == (
        "Festival de Cannes",
        "Cannes",
        "EUR",
    )
    owner = Membership.objects.select_related("user").get(organisation=organisation)
    assert (owner.role, owner.user.email, owner.user.has_usable_password()) == (
        "owner",
        "anne@example.com",
        False,
    )
    subscription = Subscription.objects.get(organisation=organisation)
    assert subscription.plan.code == "professionnel"
    assert subscription.period_start == timezone.localdate()
    invoice = Invoice.objects.get(organisation=organisation)
    assert (invoice.subtotal, invoice.period_start) == (6000, subscription.period_start)
    assert ClientAccount.objects.get(organisation=organisation).client == api_client_a
    created = AuditEvent.objects.get(organisation=organisation, action="account.created")
    assert created.actor_label == "API Host production"
    assert Email.objects.filter(to="anne@example.com").exists()  # the invoice


def test_invalid_account_data_is_a_422_with_errors_by_field(api, key_a, plans):
    body = account_body(country="FR", postal_code="6400", vat_number="FR00", language="de")
    problem = _assert_problem(api("POST", "/accounts", key_a, json=body), 422)
    assert {"postal_code", "vat_number", "language"} <= set(problem["errors"])
    assert "Code postal invalide" in problem["errors"]["postal_code"][0]
    assert (
        not Organisation.objects.exists()
        and not User.objects.filter(email="anne@example.com").exists()
    )


def test_problems_follow_accept_language(api, key_a, plans):
    body = account_body(language="de")
    problem = api("POST", "/accounts", key_a, json=body, headers={"Accept-Language": "en"})
    assert problem.json()["title"] == "Invalid data"


def test_an_unknown_plan_or_a_malformed_body(api, key_a, plans):
    problem = _assert_problem(api("POST", "/accounts", key_a, json=account_body(plan="gold")), 422)
    assert list(problem["errors"]) == ["plan"]
    problem = _assert_problem(api("POST", "/accounts", key_a, json={"name": 3}), 422)
    assert "owner" in problem["errors"]
    response = api(
        "POST",
        "/accounts",
        key_a,
        data="{not json",
        content_type="application/json",
    )
    assert response.status_code in (400, 422) and response["Content-Type"] == PROBLEM
    assert not Organisation.objects.exists()


def test_a_nul_character_is_refused(api, key_a, plans):
    _assert_problem(api("POST", "/accounts", key_a, json=account_body(name="a\x00b")), 400)
    assert not Organisation.objects.exists()


def test_an_owner_already_member_elsewhere_owns_the_new_account_too(api, key_a, other_owner, plans):
    body = account_body(owner={"email": "other@example.com", "first_name": "E", "last_name": "L"})
    assert api("POST", "/accounts", key_a, json=body).status_code == 201
    roles = Membership.objects.filter(user=other_owner.user).values_list("role", flat=True)
    assert list(roles) == ["owner", "owner"] and Organisation.objects.count() == 2


def test_the_external_id_is_unique_per_client(api, key_a, key_b, account_a):
    body = account_body(owner={"email": "b@example.com", "first_name": "B", "last_name": "C"})
    _assert_problem(api("POST", "/accounts", key_a, json=body), 409)
    # Another client may use the same identifier.
    assert api("POST", "/accounts", key_b, json=body).status_code == 201
    found = api("GET", "/accounts?external_id=host-42", key_a).json()["items"]
    assert [a["id"] for a in found] == [account_a]


def test_updating_an_account(api, key_a, account_a):
    response = api(
        "PATCH",
        f"/accounts/{account_a}",
        key_a,
        json={"name": "Cannes Lions", "language": "en", "city": "Nice", "postal_code": "06000"},
    )
    assert response.status_code == 200, response.content
    organisation = Organisation.objects.get(pk=account_a)
    assert (organisation.name, organisation.language, organisation.city) == (
        "Cannes Lions",
        "en",
        "Nice",
    )
    assert organisation.address_line1 == "1 boulevard de la Croisette"  # kept
    actions = set(
        AuditEvent.objects.filter(organisation=organisation).values_list("action", flat=True)
    )
    assert {"organisation.profile_changed", "organisation.address_changed"} <= actions


def test_moving_an_account_abroad_with_its_new_vat_number(api, key_a, account_a):
    response = api(
        "PATCH",
        f"/accounts/{account_a}",
        key_a,
        json={
            "address_line1": "Sveavägen 24",
            "postal_code": "111 57",
            "city": "Stockholm",
            "country": "SE",
            "siren": "",
            "vat_number": "SE556677889901",
        },
    )
    assert response.status_code == 200, response.content
    assert (response.json()["country"], response.json()["vat_number"]) == ("SE", "SE556677889901")


def test_a_refused_update_changes_nothing_at_all(api, key_a, account_a):
    problem = _assert_problem(
        api("PATCH", f"/accounts/{account_a}", key_a, json={"name": "Nouveau", "vat_number": "X"}),
        422,
    )
    assert "vat_number" in problem["errors"]
    assert Organisation.objects.get(pk=account_a).name == "Festival de Cannes"


def test_the_currency_is_fixed_once_invoiced(api, key_a, account_a):
    problem = _assert_problem(
        api("PATCH", f"/accounts/{account_a}", key_a, json={"currency": "USD"}), 422
    )
    assert "currency" in problem["errors"]
    assert Organisation.objects.get(pk=account_a).currency == "EUR"


def test_closing_an_account(api, key_a, account_a):
    response = api("POST", f"/accounts/{account_a}/close", key_a)
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    organisation = Organisation.objects.get(pk=account_a)
    assert organisation.is_closed
    assert Subscription.objects.get(organisation=organisation).status == "cancelled"
    closure = AccountClosure.objects.get(organisation=organisation)
    assert closure.requested_by.api_client.name == "Host production"
    assert AuditEvent.objects.filter(organisation=organisation, action="closure.confirmed").exists()
    assert Email.objects.filter(to="anne@example.com", kind="account_closed").exists()
    # Closed: no more changes, a conflict.
    _assert_problem(api("POST", f"/accounts/{account_a}/close", key_a), 409)
    _assert_problem(api("PATCH", f"/accounts/{account_a}", key_a, json={"name": "X"}), 409)


# --- Subscription -----------------------------------------------------------------------


def test_reading_the_subscription_and_its_entitlements(api, key_a, account_a):
    body = api("GET", f"/accounts/{account_a}/subscription", key_a).json()
    assert body["plan"] == {"code": "professionnel", "name": "Professionnel"}
    assert body["status"] == "active" and body["next_plan"] is None
    features = {f["code"]: f for f in body["features"]}
    assert features["candidatures"] == {
        "code": "candidatures",
        "label": "Candidatures par an",
        "included": True,
        "value": "5 000",
    }
    assert features["sso"]["included"] is False


def test_an_upgrade_applies_now_with_its_invoice(api, key_a, account_a):
    response = api(
        "PUT", f"/accounts/{account_a}/subscription/plan", key_a, json={"plan": "entreprise"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["plan"]["code"] == "entreprise"
    assert Invoice.objects.filter(organisation_id=account_a).count() == 2
    event = AuditEvent.objects.get(organisation_id=account_a, action="plan.changed")
    assert event.after["effective"] == "now" and event.actor_label == "API Host production"


def test_a_downgrade_waits_for_the_renewal(api, key_a, account_a):
    path = f"/accounts/{account_a}/subscription/plan"
    response = api("PUT", path, key_a, json={"plan": "essentiel"})
    assert response.status_code == 200
    assert (response.json()["plan"]["code"], response.json()["next_plan"]["code"]) == (
        "professionnel",
        "essentiel",
    )
    assert Invoice.objects.filter(organisation_id=account_a).count() == 1
    problem = _assert_problem(
        api("PUT", path, key_a, json={"plan": "essentiel", "effective": "now"}), 422
    )
    assert "immediately" in problem["errors"]


# --- Members ----------------------------------------------------------------------------


def _add(api, key, account, email="julie@example.com", role="manager"):
    return api(
        "POST",
        f"/accounts/{account}/members",
        key,
        json={"email": email, "first_name": "Julie", "last_name": "Roux", "role": role},
    )


def test_adding_listing_renaming_and_removing_a_member(api, key_a, account_a):
    response = _add(api, key_a, account_a)
    assert response.status_code == 201
    member = response.json()
    assert (member["email"], member["role"]) == ("julie@example.com", "manager")
    listed = api("GET", f"/accounts/{account_a}/members", key_a).json()["items"]
    assert [m["role"] for m in listed] == ["owner", "manager"]

    path = f"/accounts/{account_a}/members/{member['id']}"
    assert (
        api("PATCH", path, key_a, json={"last_name": "Rousseau"}).json()["last_name"] == "Rousseau"
    )
    assert User.objects.get(email="julie@example.com").last_name == "Rousseau"

    assert api("DELETE", path, key_a).status_code == 204
    assert not Membership.objects.filter(pk=member["id"]).exists()
    _assert_problem(api("GET", path, key_a), 404)
    actions = list(
        AuditEvent.objects.filter(organisation_id=account_a, action__startswith="member.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["member.added", "member.added", "member.updated", "member.removed"]

    # Added again: the same person, the same user row.
    again = _add(api, key_a, account_a)
    assert again.status_code == 201
    assert User.objects.filter(email="julie@example.com").count() == 1


def test_member_refusals(api, key_a, account_a, other_owner):
    assert _add(api, key_a, account_a).status_code == 201
    assert (
        "déjà membre de ce compte"
        in _assert_problem(_add(api, key_a, account_a), 422)["errors"]["email"][0]
    )
    # A member of another account joins this one too.
    assert _add(api, key_a, account_a, email="other@example.com").status_code == 201
    second_owner = _assert_problem(
        _add(api, key_a, account_a, email="z@example.com", role="owner"), 422
    )
    assert "role" in second_owner["errors"]
    owner = Membership.objects.get(organisation_id=account_a, role="owner")
    removal = _assert_problem(
        api("DELETE", f"/accounts/{account_a}/members/{owner.pk}", key_a), 422
    )
    assert "propriétaire" in removal["detail"]
    demotion = api(
        "PATCH", f"/accounts/{account_a}/members/{owner.pk}", key_a, json={"role": "manager"}
    )
    _assert_problem(demotion, 422)
    # The owner, Julie and the member of another account: the refusals added nobody.
    assert Membership.objects.filter(organisation_id=account_a).count() == 3
    assert Membership.objects.get(pk=owner.pk).role == "owner"


def test_making_a_member_the_owner_is_the_portals_ownership_transfer(api, key_a, account_a):
    manager = _add(api, key_a, account_a).json()
    path = f"/accounts/{account_a}/members/{manager['id']}"
    response = api("PATCH", path, key_a, json={"role": "owner"})
    assert response.status_code == 200
    assert response.json()["role"] == "owner"
    roles = dict(
        Membership.objects.filter(organisation_id=account_a).values_list("user__email", "role")
    )
    assert roles == {"anne@example.com": "manager", "julie@example.com": "owner"}
    event = AuditEvent.objects.get(organisation_id=account_a, action="ownership.transferred")
    assert (event.before, event.after) == (
        {"owner": "anne@example.com"},
        {"owner": "julie@example.com"},
    )
    # The emails the portal's transfer sends, to both.
    assert Email.objects.filter(to="julie@example.com", kind="ownership_received").exists()
    assert Email.objects.filter(to="anne@example.com", kind="ownership_given").exists()


# --- Invoices and pagination ------------------------------------------------------------


def test_listing_invoices(api, key_a, account_a):
    items = api("GET", f"/accounts/{account_a}/invoices", key_a).json()["items"]
    invoice = Invoice.objects.get(organisation_id=account_a)
    assert items == [
        {
            "number": invoice.number,
            "kind": "invoice",
            "status": "open",
            "issue_date": invoice.issue_date.isoformat(),
            "due_date": invoice.due_date.isoformat(),
            "period_start": invoice.period_start.isoformat(),
            "period_end": invoice.period_end.isoformat(),
            "currency": "EUR",
            "subtotal": "6000.00",
            "vat_amount": "1200.00",
            "total": "7200.00",
            "amount_paid": "0.00",
            "paid_on": None,
        }
    ]


def test_walking_the_pages_sees_each_member_once_whatever_is_added(api, key_a, account_a):
    organisation = Organisation.objects.get(pk=account_a)
    for n in range(6):
        MembershipFactory(organisation=organisation, user=UserFactory(email=f"p{n}@example.com"))
    expected = set(
        Membership.objects.filter(organisation=organisation).values_list("pk", flat=True)
    )
    seen, path, pages = [], f"/accounts/{account_a}/members?limit=3", 0
    while path:
        body = api("GET", path, key_a).json()
        seen += [m["id"] for m in body["items"]]
        pages += 1
        if pages == 1:  # someone is added while the host walks
            MembershipFactory(organisation=organisation, user=UserFactory(email="late@example.com"))
        path = body["next"] and body["next"].removeprefix("/api/v1")
    assert len(seen) == len(set(seen))
    assert expected <= set(seen) and len(seen) == len(expected) + 1
    assert pages == 3


def test_a_forged_cursor_or_a_limit_out_of_range(api, key_a, account_a):
    problem = _assert_problem(api("GET", "/accounts?cursor=MTIz", key_a), 400)
    assert "cursor" in problem["errors"]
    assert _assert_problem(api("GET", "/accounts?limit=101", key_a), 422)["errors"]["limit"]
    assert _assert_problem(api("GET", "/accounts?limit=0", key_a), 422)


def test_the_accounts_list_pages(api, key_a, account_a, api_client_a):
    for n in range(3):
        ClientAccount.objects.create(
            client=api_client_a, organisation=OrganisationFactory(name=f"Org {n}")
        )
    first = api("GET", "/accounts?limit=2", key_a).json()
    assert [a["id"] for a in first["items"]][0] == account_a and first["next_cursor"]
    second = api("GET", f"/accounts?limit=2&cursor={first['next_cursor']}", key_a).json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None


# --- Idempotency ------------------------------------------------------------------------


def test_the_same_idempotency_key_replays_the_first_answer(api, key_a, plans):
    headers = {"Idempotency-Key": "create-cannes-1"}
    first = api("POST", "/accounts", key_a, json=account_body(), headers=headers)
    again = api("POST", "/accounts", key_a, json=account_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert Organisation.objects.count() == 1 and Invoice.objects.count() == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(api, key_a, plans):
    headers = {"Idempotency-Key": "k-1"}
    assert api("POST", "/accounts", key_a, json=account_body(), headers=headers).status_code == 201
    other = account_body(
        external_id="other", owner={"email": "o@example.com", "first_name": "O", "last_name": "P"}
    )
    problem = _assert_problem(api("POST", "/accounts", key_a, json=other, headers=headers), 422)
    assert problem["type"].endswith("idempotency-mismatch")
    assert Organisation.objects.count() == 1


def test_a_refusal_is_replayed_too_and_keys_are_per_client(api, key_a, key_b, plans):
    headers = {"Idempotency-Key": "k-2"}
    body = account_body(plan="gold")
    first = api("POST", "/accounts", key_a, json=body, headers=headers)
    assert first.status_code == 422
    assert api("POST", "/accounts", key_a, json=body, headers=headers).content == first.content
    # Client B's "k-2" is its own key.
    ok = api("POST", "/accounts", key_b, json=account_body(), headers=headers)
    assert ok.status_code == 201 and "Idempotent-Replayed" not in ok


def test_a_request_in_flight_with_the_same_key_is_a_409(api, key_a, api_client_a, plans):
    now = timezone.now()
    body = json.dumps(account_body()).encode()
    import hashlib

    digest = hashlib.sha256(b"POST\n/api/v1/accounts\n" + body).hexdigest()
    IdempotencyRecord.objects.create(
        client=api_client_a,
        key="busy",
        request_hash=digest,
        started_at=now,
        expires_at=now + services.IDEMPOTENCY_TTL,
    )
    response = api(
        "POST",
        "/accounts",
        key_a,
        data=body,
        content_type="application/json",
        headers={"Idempotency-Key": "busy"},
    )
    problem = _assert_problem(response, 409)
    assert problem["type"].endswith("idempotency-in-progress") and response["Retry-After"]
    assert not Organisation.objects.exists()


def test_an_expired_idempotency_key_runs_again_and_is_purged(api, key_a, plans):
    headers = {"Idempotency-Key": "old"}
    assert api("POST", "/accounts", key_a, json=account_body(), headers=headers).status_code == 201
    IdempotencyRecord.objects.update(expires_at=timezone.now())
    assert services.idempotency_purge() == 1
    assert not IdempotencyRecord.objects.exists()


def test_an_invalid_idempotency_key_is_a_400(api, key_a, plans):
    response = api(
        "POST", "/accounts", key_a, json=account_body(), headers={"Idempotency-Key": "a b"}
    )
    _assert_problem(response, 400)
    assert not Organisation.objects.exists()


# --- Errors and documentation -----------------------------------------------------------


def test_unknown_paths_and_methods_are_problems_too(api, key_a):
    _assert_problem(api("GET", "/nothing-here", key_a), 404)
    response = api("DELETE", "/accounts", key_a)
    _assert_problem(response, 405)
    assert "GET" in response["Allow"]


def test_the_schema_and_its_docs_page(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/accounts/{account_id}/members/{member_id}" in schema["paths"]
    errors = schema["paths"]["/api/v1/accounts"]["post"]["responses"]["422"]
    assert "application/problem+json" in errors["content"]
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    # Scripts from our own static files only: the CSP (script-src 'self') allows them.
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "script-src 'self'" in page["Content-Security-Policy"]


def test_an_external_id_too_long_is_a_422(api, key_a, account_a, plans):
    problem = _assert_problem(
        api("PATCH", f"/accounts/{account_a}", key_a, json={"external_id": "x" * 101}), 422
    )
    assert "external_id" in problem["errors"]
    body = account_body(external_id="y" * 101)
    _assert_problem(api("POST", "/accounts", key_a, json=body), 422)
    assert Organisation.objects.count() == 1
