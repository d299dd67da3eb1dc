"""Support's console for payments: every page writes through payments.services, as the
support user, and refuses bad input with a message, never a 500."""

from datetime import date
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from invoices.models import Invoice
from payments.models import Allocation, AllocationReversal, Payment, Refund
from payments.selectors import credit_balances
from payments.services import payment_record
from tests.factories import UserFactory

from .conftest import fresh


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def record_url(organisation):
    return reverse("admin:payments_payment_record", args=[organisation.pk])


PAYMENT = {
    "amount": "3000.00",
    "currency": "EUR",
    "received_on": "2026-02-10",
    "method": "transfer",
    "payer_name": "Festival de Lyon",
    "payer_iban": "FR1420041010050500013M02606",
    "bank_reference": "VIR SEPA 2026-0042",
    "note": "",
}


def test_support_records_a_payment_through_the_service(support, owner, lyon, support_user):
    target = lyon["INV-10682"]
    page = support.get(record_url(owner.organisation)).content.decode()
    assert "INV-10682" in page and 'value="EUR"' in page
    response = support.post(record_url(owner.organisation), {**PAYMENT, "invoices": [target.pk]})
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:accounts_organisation_change", args=[owner.organisation.pk]
    )
    assert fresh(target).amount_due == Decimal("4200.00")
    event = AuditEvent.objects.get(action="payment.recorded")
    assert event.actor == support_user and event.actor_label == "support: Léa Moreau"
    assert event.ip_address == "127.0.0.1"
    page = support.get(response["Location"]).content.decode()
    assert "Paiement de 3\xa0000,00\xa0€ enregistré, imputé sur INV-10682" in page


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"amount": "-3"}, "Le montant doit être positif."),
        ({"amount": "abc"}, "Saisissez un nombre."),
        ({"received_on": "2999-01-01"}, "La date ne peut pas être dans le futur."),
        ({"payer_iban": "FR00 0000"}, "IBAN invalide."),
        ({"currency": "€€"}, "Devise invalide"),
        ({"method": "cash"}, "Sélectionnez un choix valide"),
        ({"received_on": "\x00"}, ""),
    ],
)
def test_bad_input_shows_on_the_form_and_records_nothing(support, owner, lyon, changes, error):
    response = support.post(record_url(owner.organisation), {**PAYMENT, **changes})
    assert response.status_code in (200, 400)
    assert error in response.content.decode()
    assert not Payment.objects.exists() and not AuditEvent.objects.exists()


def test_the_invoice_action_opens_the_payment_form_for_the_selected_invoices(support, owner, lyon):
    chosen = [lyon["INV-10680"], lyon["INV-10681"]]
    response = support.post(
        reverse("admin:invoices_invoice_changelist"),
        {"action": "record_payment", "_selected_action": [i.pk for i in chosen]},
    )
    assert response.status_code == 302
    form = support.get(response["Location"]).content.decode()
    assert 'value="2400.00"' in form  # what the two still ask
    assert all(Invoice.objects.get(pk=i.pk).status == "open" for i in chosen)  # no tick
    response = support.post(
        response["Location"], {**PAYMENT, "amount": "2400.00", "invoices": [i.pk for i in chosen]}
    )
    assert response.status_code == 302
    assert [fresh(i).status for i in chosen] == ["paid", "paid"]
    assert not Allocation.objects.exclude(invoice__in=chosen).exists()


def test_the_invoice_action_refuses_invoices_of_two_accounts(support, owner, lyon, nordic):
    response = support.post(
        reverse("admin:invoices_invoice_changelist"),
        {
            "action": "record_payment",
            "_selected_action": [lyon["INV-10680"].pk, nordic["INV-10690"].pk],
        },
        follow=True,
    )
    assert "Choisissez des factures ouvertes d'un seul compte." in unescape(
        response.content.decode()
    )


def test_support_undoes_a_wrong_allocation(support, owner, lyon, support_user):
    payment = payment_record(
        organisation=owner.organisation,
        amount=Decimal("1200.00"),
        currency="EUR",
        received_on=date(2026, 2, 10),
        invoices=[lyon["INV-10681"]],
    )
    allocation = payment.allocations.get()
    account = support.get(
        reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    ).content.decode()
    url = reverse("admin:payments_allocation_reverse", args=[allocation.pk])
    assert url in account
    assert support.post(url, {"reason": ""}).status_code == 200  # a reason is required
    assert not AllocationReversal.objects.exists()
    assert support.post(url, {"reason": "Virement d'un autre client"}).status_code == 302
    assert fresh(lyon["INV-10681"]).status == "open"
    assert credit_balances(organisation=owner.organisation) == [(Decimal("1200.00"), "EUR")]
    # The account page offers to apply the credit: the oldest open invoice is paid.
    apply_url = reverse("admin:payments_payment_apply_credit", args=[owner.organisation.pk])
    assert support.get(apply_url).status_code == 302  # a button: GET changes nothing
    assert fresh(lyon["INV-10680"]).status == "open"
    assert support.post(apply_url).status_code == 302
    assert fresh(lyon["INV-10680"]).status == "paid"


def test_support_refunds_the_credit(support, owner, support_user):
    payment_record(
        organisation=owner.organisation,
        amount=Decimal("150.00"),
        currency="EUR",
        received_on=date(2026, 2, 10),
    )
    url = reverse("admin:payments_payment_refund", args=[owner.organisation.pk])
    assert 'value="150.00"' in support.get(url).content.decode()
    data = {
        "amount": "150.00",
        "currency": "EUR",
        "refunded_on": "2026-02-20",
        "payee_iban": "",
        "reference": "REMB-1",
        "reason": "Trop-perçu",
    }
    assert support.post(url, {**data, "amount": "151.00"}).status_code == 200
    assert not Refund.objects.exists()
    assert support.post(url, data).status_code == 302
    assert credit_balances(organisation=owner.organisation) == []


@pytest.mark.parametrize(
    "name",
    [
        "payments_payment_record",
        "payments_payment_refund",
        "payments_payment_apply_credit",
        "payments_bankstatement_import",
    ],
)
def test_only_the_support_group_acts(client, owner, manager, name):
    args = [] if name == "payments_bankstatement_import" else [owner.organisation.pk]
    url = reverse(f"admin:{name}", args=args)
    client.force_login(UserFactory(is_staff=True))  # staff outside the Support group
    assert client.get(url).status_code == 403
    assert client.post(url, PAYMENT).status_code == 403
    client.force_login(manager.user)
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Payment.objects.exists()


def test_records_have_no_add_change_or_delete_form(support, owner):
    payment = payment_record(
        organisation=owner.organisation,
        amount=Decimal("10.00"),
        currency="EUR",
        received_on=date(2026, 2, 10),
    )
    assert support.get(reverse("admin:payments_payment_add")).status_code == 403
    page = support.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert (
        support.post(
            reverse("admin:payments_payment_change", args=[payment.pk]), {"amount": "1"}
        ).status_code
        == 403
    )
    assert (
        support.get(reverse("admin:payments_payment_delete", args=[payment.pk])).status_code == 403
    )
    assert Payment.objects.get().amount == Decimal("10.00")


def test_a_missing_account_or_allocation_is_a_404(support):
    assert support.get(reverse("admin:payments_payment_record", args=[999999])).status_code == 404
    assert (
        support.get(reverse("admin:payments_allocation_reverse", args=[999999])).status_code == 404
    )
