"""The admin's access matrix: our models' pages and our support actions, for every role.

Non-staff users (members of any account) are sent to the admin login; the Support group
reaches what its permissions allow; nothing here is a 500."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import Organisation
from tests.factories import MembershipFactory, OrganisationFactory

OUR_APPS = {
    "accounts",
    "emails",
    "invoices",
    "payments",
    "subscriptions",
    "support",
    "webhooks",
    "api",
}
ROLES = ("anonymous", "manager", "other_owner", "owner", "closed_member", "support")


@pytest.fixture
def actors(owner, manager, other_owner, support_user):
    closed = MembershipFactory(
        organisation=OrganisationFactory(status=Organisation.Status.CLOSED, name="Closed Org")
    )
    return {
        "anonymous": None,
        "manager": manager.user,
        "other_owner": other_owner.user,
        "owner": owner.user,
        "closed_member": closed.user,
        "support": support_user,
    }


def _changelists():
    for model in admin.site._registry:
        if model._meta.app_label in OUR_APPS:
            yield f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"


SUPPORT_CHANGELIST = {name: 200 for name in _changelists()}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(SUPPORT_CHANGELIST))
def test_changelists(client, actors, role, name):
    if actors[role] is not None:
        client.force_login(actors[role])
    response = client.get(reverse(name))
    if role == "support":
        assert response.status_code == SUPPORT_CHANGELIST[name], name
    else:
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ["change_owner", "change_plan", "reopen"])
def test_support_actions(client, actors, owner, role, action):
    if actors[role] is not None:
        client.force_login(actors[role])
    url = reverse(f"admin:accounts_organisation_{action}", args=[owner.organisation.pk])
    response = client.get(url)
    if role == "support":
        assert response.status_code == 200
    else:
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_support_action_on_a_missing_account_is_a_404(client, support_user):
    client.force_login(support_user)
    assert (
        client.get(reverse("admin:accounts_organisation_change_plan", args=[999999])).status_code
        == 404
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", ["lifecycle", "lifecycle_import"])
def test_lifecycle_pages(client, actors, owner, role, page):
    """Recording a platform status and importing a CSV of them: support only, like the other
    support actions."""
    from invoices.services import invoice_issue
    from invoices.totals import LineSpec

    invoice = invoice_issue(
        organisation=owner.organisation,
        lines=[LineSpec(description="Pack", quantity=1, unit_price=100)],
    )
    args = [invoice.pk] if page == "lifecycle" else []
    url = reverse(f"admin:invoices_invoice_{page}", args=args)
    if actors[role] is not None:
        client.force_login(actors[role])
    for response in (client.get(url), client.post(url, {})):
        if role == "support":
            assert response.status_code == 200
        else:
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert invoice.status_events.count() == 1  # « émise » only: nothing was recorded


def test_lifecycle_of_a_missing_invoice_is_a_404(client, support_user):
    client.force_login(support_user)
    assert client.get(reverse("admin:invoices_invoice_lifecycle", args=[999999])).status_code == 404


@pytest.fixture
def new_support_pages(owner):
    """The support pages of payments, direct debit, reminders and support answers, each
    with the arguments of an object of the owner's account."""
    from payments.models import Mandate
    from support.services import support_request_create
    from tests.payments.mandates import sign_and_confirm

    sign_and_confirm(owner)
    mandate = Mandate.objects.get(organisation=owner.organisation)
    request = support_request_create(subject="Question", message="M", user=owner.user)
    account = [owner.organisation.pk]
    return {
        "admin:payments_payment_record": account,
        "admin:payments_payment_refund": account,
        "admin:payments_reminders_pause": account,
        "admin:payments_directdebitexport_export": [],
        "admin:payments_mandate_revoke": [mandate.pk],
        "admin:payments_mandate_pdf": [mandate.pk],
        "admin:support_supportrequest_reply": [request.pk],
    }


@pytest.mark.parametrize("role", ROLES)
def test_new_support_pages_are_for_support_only(client, actors, role, new_support_pages):
    """GET only (a POST would act): support reaches each page, everyone else is sent to the
    admin login, nothing is a 500."""
    if actors[role] is not None:
        client.force_login(actors[role])
    for name, args in new_support_pages.items():
        response = client.get(reverse(name, args=args))
        if role == "support":
            assert response.status_code == 200, name
        else:
            assert response.status_code == 302 and "/admin/login/" in response["Location"], name
