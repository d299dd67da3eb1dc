"""Bad input never breaks anything: whatever is typed, a validation message or a 4xx,
never a 500, never a partial write, and what is shown back is escaped."""

from urllib.parse import quote

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent, BillingContact, Membership, Organisation
from support.models import SupportRequest

nasty = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "<script>alert(1)</script>",
            "a@b.c\r\nBcc: victim@example.com",
            "x" * 5000,
            "\x00",
            "🙂" * 80,
            "' OR 1=1 --",
            "${7*7}",
            "{{ 7*7 }}",
            "\u202e",
            "jean@exemple.fr\n",
            "-1",
            "99999999999999999999",
        ]
    ),
)
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _post(client, url, data, htmx, user=None):
    headers = {"HX-Request": "true"} if htmx else {}
    with transaction.atomic():
        if user is not None:
            # Each example starts signed in: an earlier, rolled-back example may have
            # rotated the session key (ownership change) inside its transaction.
            client.force_login(user)
        # A flash message an earlier example left unread ("Le contact a été ajouté.", then
        # a redirect never followed) would otherwise be shown in this example's response.
        client.cookies.pop("messages", None)  # CookieStorage.cookie_name
        response = client.post(url, data, headers=headers)
        state = (
            BillingContact.objects.count(),
            AuditEvent.objects.count(),
            SupportRequest.objects.count(),
            list(Membership.objects.order_by("pk").values_list("role", flat=True)),
        )
        transaction.set_rollback(True)
    return response, state


@pytest.fixture
def owner_client(client, owner, manager):
    client.force_login(owner.user)
    return client


@FUZZ
@given(first=nasty, last=nasty, email=nasty, htmx=st.booleans())
def test_contact_form(owner_client, owner, first, last, email, htmx):
    response, (contacts, events, _, _) = _post(
        owner_client,
        reverse("portal:contact_add"),
        {"first_name": first, "last_name": last, "email": email},
        htmx,
        owner.user,
    )
    html = response.content.decode()
    detail = (response.status_code, response.get("Location"), html[-600:])
    assert response.status_code in (200, 302, 400), detail
    assert "<script>alert(1)</script>" not in html
    if response.status_code == 302:
        assert response["Location"] == reverse("portal:contacts"), detail
    saved = response.status_code == 302 or "Le contact a été ajouté." in html
    # Either the whole change (contact + audit row) or nothing at all.
    assert (contacts, events) == ((1, 1) if saved else (0, 0)), detail


@FUZZ
@given(choice=st.one_of(nasty, st.integers(-5, 10).map(str)), query=nasty, htmx=st.booleans())
def test_owner_change_form(owner_client, owner, manager, choice, query, htmx):
    url = reverse("portal:owner_change")
    owner_client.force_login(owner.user)
    assert owner_client.get(url, {"q": query}).status_code in (200, 400)
    response, (_, events, _, roles) = _post(
        owner_client, url, {"new_owner": choice, "previewed": choice}, htmx, owner.user
    )
    # Generated text may happen to be the manager's id ("2"): then it is a real transfer.
    try:  # the form reads the choice as Python's int() does ("²" is a digit, not a number)
        transferred = int(choice) == manager.pk
    except ValueError:
        transferred = False
    if transferred:
        assert response.status_code in (200, 302) and events == 1
    else:
        assert response.status_code in (200, 400) and events == 0
    assert roles.count("owner") == 1
    assert Membership.objects.get(role="owner") == owner  # every example was rolled back


@FUZZ
@given(name=nasty, email=nasty, subject=nasty, message=nasty, topic=nasty)
def test_support_form(client, db, name, email, subject, message, topic):
    response, (_, _, requests, _) = _post(
        client,
        reverse("support_contact"),
        {"name": name, "email": email, "subject": subject, "message": message, "topic": topic},
        False,
    )
    assert response.status_code in (200, 302, 400, 429)
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert requests == (1 if response.status_code == 302 else 0)


@FUZZ
@given(pk=st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=20)))
def test_malformed_ids_are_not_found(owner_client, pk):
    url = f"/billing/contacts/{quote(str(pk), safe='')}/edit/"
    response = owner_client.get(url)
    assert response.status_code in (400, 404)  # no contact exists: every id is unknown


@FUZZ
@given(username=nasty, password=nasty)
def test_login_form(client, db, username, password):
    response = client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="203.0.113.200"
    )
    assert response.status_code in (200, 400, 429)


@FUZZ
@given(code=nasty, password=nasty)
def test_two_factor_code_fields(client, owner, clock, code, password):
    """The sign-in's code step (app and recovery code) and turning two-step sign-in off:
    whatever is typed, a message (or the lockout page), never a session, never a 500."""
    from axes.models import AccessAttempt
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.factories import PASSWORD
    from tests.two_factor import throttle_passes, two_factor_on

    if not TOTPDevice.objects.filter(user=owner.user).exists():
        two_factor_on(owner.user, clock)
    AccessAttempt.objects.all().delete()
    throttle_passes(owner.user)
    client.logout()
    client.post(reverse("login"), {"username": "owner@example.com", "password": PASSWORD})
    for url in (reverse("login_code"), reverse("login_code") + "?method=recovery"):
        response = client.post(url, {"code": code})
        assert response.status_code in (200, 302, 400, 429)  # 400: a NUL byte
        assert "_auth_user_id" not in client.session
    client.force_login(owner.user)
    response = client.post(
        reverse("portal:two_factor_disable"), {"password": password, "code": code}
    )
    assert response.status_code in (200, 400)
    assert TOTPDevice.objects.filter(user=owner.user, confirmed=True).exists()


def test_nul_bytes_get_a_clear_400(owner_client):
    response = owner_client.get(reverse("portal:owner_change"), {"q": "a\x00b"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Caractère non autorisé" in html
    # A page of the site, the user still signed in (their menu shows).
    assert response["Content-Type"].startswith("text/html")
    assert 'data-testid="user-menu"' in html


def test_a_form_without_its_csrf_token_gets_the_sites_expired_form_page(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        reverse("support_contact"), {"subject": "x"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "Form expired" in html and '<html lang="en">' in html


@FUZZ
@given(line1=nasty, line2=nasty, postal=nasty, city=nasty, country=nasty, htmx=st.booleans())
def test_address_form(owner_client, owner, line1, line2, postal, city, country, htmx):
    before = Organisation.objects.values().get(pk=owner.organisation.pk)
    with transaction.atomic():
        owner_client.force_login(owner.user)
        response = owner_client.post(
            reverse("portal:organisation_address"),
            {
                "address_line1": line1,
                "address_line2": line2,
                "postal_code": postal,
                "city": city,
                "country": country,
            },
            headers={"HX-Request": "true"} if htmx else {},
        )
        after = Organisation.objects.values().get(pk=owner.organisation.pk)
        events = AuditEvent.objects.count()
        transaction.set_rollback(True)
    assert response.status_code in (200, 302, 400)
    assert "<script>alert(1)</script>" not in response.content.decode()
    if after == before:
        assert events == 0
    else:  # saved: only the address fields changed, and it was audited
        changed = {k for k in after if after[k] != before[k]}
        assert changed <= {"address_line1", "address_line2", "postal_code", "city", "country"}
        assert events == 1


@FUZZ
@given(vat=nasty, htmx=st.booleans())
def test_vat_form(owner_client, owner, vat, htmx):
    with transaction.atomic():
        owner_client.force_login(owner.user)
        response = owner_client.post(
            reverse("portal:organisation_vat"),
            {"vat_number": vat},
            headers={"HX-Request": "true"} if htmx else {},
        )
        stored = Organisation.objects.get(pk=owner.organisation.pk).vat_number
        transaction.set_rollback(True)
    assert response.status_code in (200, 302, 400)
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert stored == owner.organisation.vat_number or len(stored) <= 20


DETAILS = {
    "siren": ("portal:organisation_siren", ["siren"]),
    "delivery": (
        "portal:organisation_delivery_address",
        [
            "delivery_line1",
            "delivery_line2",
            "delivery_postal_code",
            "delivery_city",
            "delivery_country",
        ],
    ),
    "references": ("portal:organisation_references", ["order_reference", "buyer_reference"]),
}


@pytest.mark.parametrize("form", list(DETAILS))
def test_organisation_detail_forms(owner_client, owner, form):
    url, fields = DETAILS[form]

    @FUZZ
    @given(values=st.lists(nasty, min_size=len(fields), max_size=len(fields)), htmx=st.booleans())
    def post(values, htmx):
        before = Organisation.objects.values().get(pk=owner.organisation.pk)
        with transaction.atomic():
            owner_client.force_login(owner.user)
            response = owner_client.post(
                reverse(url),
                dict(zip(fields, values, strict=True)),
                headers={"HX-Request": "true"} if htmx else {},
            )
            after = Organisation.objects.values().get(pk=owner.organisation.pk)
            events = AuditEvent.objects.count()
            transaction.set_rollback(True)
        assert response.status_code in (200, 302, 400)
        assert "<script>alert(1)</script>" not in response.content.decode()
        changed = {k for k in after if after[k] != before[k]}
        assert changed <= set(fields)  # only its own fields, and audited when any
        assert events == (1 if changed else 0)

    post()


@FUZZ
@given(
    token=st.one_of(st.text(max_size=80), st.sampled_from(["x" * 43, "%00", "../../etc"])),
    plan=nasty,
)
def test_links_and_plan_parameters(owner_client, owner, token, plan):
    owner_client.force_login(owner.user)
    path = f"/confirm/{quote(token, safe='')}/"
    assert owner_client.get(path).status_code in (400, 404)
    assert owner_client.post(path).status_code in (400, 404)
    assert owner_client.get(reverse("portal:upgrade"), {"plan": plan}).status_code in (200, 400)
    response = owner_client.post(reverse("portal:upgrade_request"), {"plan": plan})
    assert response.status_code in (200, 400)
    for name in (
        "portal:invoice_detail",
        "portal:invoice_pdf",
        "portal:invoice_facturx",
        "portal:invoice_ubl",
    ):
        url = reverse(name, kwargs={"number": "INV-1"}).replace("INV-1", quote(token, safe=""))
        assert owner_client.get(url).status_code in (400, 404)


def test_markup_in_names_is_escaped_in_pages_emails_and_pdfs(
    owner_client, owner, django_capture_on_commit_callbacks
):
    from pypdf import PdfReader

    from accounts import services as account_services
    from emails.models import Email
    from invoices.pdf import invoice_pdf_bytes
    from invoices.services import invoice_issue
    from invoices.totals import LineSpec

    evil = "<script>alert(1)</script>"
    Organisation.objects.filter(pk=owner.organisation.pk).update(name=f"Acme {evil}")
    owner.organisation.refresh_from_db()
    account_services.contact_add(
        organisation=owner.organisation,
        first_name=evil,
        last_name="<b>x</b>",
        email="evil@example.com",
        actor=owner.user,
    )
    page = owner_client.get(reverse("portal:contacts")).content.decode()
    assert evil not in page and "&lt;script&gt;" in page
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue(
            organisation=owner.organisation,
            lines=[LineSpec(description=evil, quantity=1, unit_price=100)],
        )
    email = Email.objects.filter(kind="invoice_issued").first()
    assert email is not None and evil not in email.body_html
    import io

    text = "".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(invoice_pdf_bytes(invoice_id=invoice.pk))).pages
    )
    assert evil in text  # printed literally as text, never interpreted
    detail = owner_client.get(reverse("portal:invoice_detail", args=[invoice.number]))
    assert evil not in detail.content.decode()


@pytest.fixture
def api_key(owner, support_user):
    """A key of an API client that created the owner's account."""
    from api import services
    from api.models import SCOPES, ClientAccount

    api_client = services.client_create(name="Host", actor=support_user)
    ClientAccount.objects.create(client=api_client, organisation=owner.organisation)
    return services.key_create(
        client=api_client, name="k", scopes=list(SCOPES), actor=support_user
    ).secret


@FUZZ
@given(email=nasty, first=nasty, last=nasty, name=nasty, external=nasty, member=nasty)
def test_api_inputs(client, owner, api_key, email, first, last, name, external, member):
    """The provisioning API: a problem (4xx, problem+json) or a change, never a 500; a
    refused request changes nothing. Enforcing CSRF checks: a key, not a cookie, is the
    credential, so no token is asked for."""
    from django.test import Client

    api_client = Client(enforce_csrf_checks=True)
    account = f"/api/v1/accounts/{owner.organisation.pk}"
    headers = {"Authorization": f"Bearer {api_key}"}
    calls = [
        ("post", f"{account}/members", {"email": email, "first_name": first, "last_name": last}),
        ("patch", account, {"name": name, "external_id": external}),
        ("get", f"/api/v1/accounts?cursor={quote(member)}", None),
        ("get", f"{account}/members/{quote(member, safe='')}", None),
    ]
    for method, url, body in calls:
        with transaction.atomic():
            before = (Membership.objects.count(), AuditEvent.objects.count())
            kwargs = {"content_type": "application/json", "data": body} if body else {}
            response = getattr(api_client, method)(url, headers=headers, **kwargs)
            after = (Membership.objects.count(), AuditEvent.objects.count())
            transaction.set_rollback(True)
        assert response.status_code < 500, (method, url, response.content)
        if response.status_code >= 400:
            assert response["Content-Type"] == "application/problem+json"
            assert after == before
