"""Support uploads the bank's files in the admin and assigns what no rule matched, in two
clicks; two imports of one file at once record each payment once."""

from decimal import Decimal
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditEvent
from payments.models import BankEntry, BankStatement, Payment
from payments.services import statement_import
from tests.factories import UserFactory
from tests.test_concurrency import _run_together

from .conftest import fresh, read

IMPORT = "admin:payments_bankstatement_import"
QUEUE = "admin:payments_bankentry_changelist"


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def upload(client, data: bytes, name="releve.xml", **extra):
    return client.post(
        reverse(IMPORT), {"file": SimpleUploadedFile(name, data, "application/xml")}, **extra
    )


def text(response) -> str:
    return unescape(response.content.decode())


def test_support_uploads_a_statement_and_sees_the_queue(
    support, owner, other_owner, lyon, nordic, support_user
):
    assert support.get(reverse(IMPORT)).status_code == 200
    response = upload(support, read("camt053_v08.xml"), follow=True)
    assert response.redirect_chain[-1][0] == reverse(QUEUE)
    page = text(response)
    assert "Import de releve.xml terminé : 7 crédit(s) lu(s), 7 nouveau(x), 4 rapproché(s)" in page
    # The queue lists what waits, across accounts: here three credits.
    assert "File de rapprochement : 3 crédits à imputer" in page
    assert "SARL INCONNUE" in page and "Ni référence, ni numéro de facture, ni payeur connu" in page
    assert "RF46INV10681" not in page  # matched: not in the queue
    statement = BankStatement.objects.get()
    assert statement.imported_by == support_user and statement.file_name == "releve.xml"
    again = text(upload(support, read("camt053_v08.xml"), follow=True))
    assert "7 crédits étaient déjà importés : ils ne sont pas enregistrés deux fois." in again


def test_two_clicks_assign_a_queued_credit(support, owner, other_owner, lyon, nordic):
    upload(support, read("camt053_v08.xml"))
    entry = BankEntry.objects.get(status="queued", amount=Decimal("600.00"))
    # First click: « Imputer… » in the queue.
    queue = support.get(reverse(QUEUE)).content.decode()
    assign_url = reverse("admin:payments_bankentry_assign", args=[entry.pk])
    assert assign_url in queue
    # The page proposes the invoice of that amount; the second click is its button.
    page = text(support.get(assign_url))
    assert "Imputer à INV-10683" in page
    response = support.post(assign_url, {"invoice": fresh(lyon["INV-10683"]).pk}, follow=True)
    assert "Paiement de 600,00\xa0€ enregistré, imputé sur INV-10683" in text(response)
    entry.refresh_from_db()
    assert (entry.status, entry.rule, entry.payment.organisation) == (
        "assigned",
        "support",
        owner.organisation,
    )
    assert fresh(lyon["INV-10683"]).status == "paid"
    # Assigned once: a second post (another tab) changes nothing.
    response = support.post(assign_url, {"invoice": lyon["INV-10682"].pk}, follow=True)
    assert "n'est plus à rapprocher" in text(response)
    assert Payment.objects.filter(bank_entry=entry).count() == 1


def test_support_finds_another_invoice_or_an_account(support, owner, other_owner, lyon, nordic):
    upload(support, read("camt053_v08.xml"))
    entry = BankEntry.objects.get(status="queued", amount=Decimal("99.00"))
    url = reverse("admin:payments_bankentry_assign", args=[entry.pk])
    page = text(support.get(url, {"q": "Nordic"}))
    assert "Imputer à INV-10691" in page and "Imputer au compte" in page
    support.post(url, {"organisation": other_owner.organisation.pk})
    entry.refresh_from_db()
    assert entry.status == "assigned"
    assert fresh(nordic["INV-10691"]).amount_paid == Decimal("249.00")  # 150 + 99


def test_support_dismisses_a_credit_that_is_no_payment(support, owner, other_owner, lyon, nordic):
    upload(support, read("camt053_v08.xml"))
    entry = BankEntry.objects.get(status="queued", amount=Decimal("250.00"))
    url = reverse("admin:payments_bankentry_dismiss", args=[entry.pk])
    assert support.post(url, {"reason": " "}).status_code == 200  # a reason is required
    assert support.post(url, {"reason": "Virement interne"}).status_code == 302
    entry.refresh_from_db()
    assert (entry.status, entry.note) == ("dismissed", "Virement interne")
    assert not Payment.objects.filter(bank_entry=entry).exists()
    assert AuditEvent.objects.filter(action="bank_entry.dismissed").count() == 1
    assert entry.entry_key not in support.get(reverse(QUEUE)).content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7", "Ce fichier n'est pas du XML"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DTD ou des"),
        (read("camt053_v08.xml").replace(b">1200.00<", b">12,00<", 1), "ligne 40"),
    ],
)
def test_a_bad_upload_says_why_and_imports_nothing(support, owner, lyon, data, message):
    response = upload(support, data)
    assert response.status_code == 200
    page = text(response)
    assert "Rien n'a été importé" in page and message in page
    assert not BankStatement.objects.exists() and not Payment.objects.exists()


def test_a_50_mb_upload_is_refused_before_it_is_read(support, owner):
    data = b"<" + b" " * (50 * 1000 * 1000)
    page = text(upload(support, data, name="huge.xml"))
    assert "Le fichier fait 47,7 Mo : un relevé importé fait au plus 40 Mo." in page
    assert not BankStatement.objects.exists()


def test_an_upload_without_a_file_is_a_form_error(support):
    response = support.post(reverse(IMPORT), {})
    assert response.status_code == 200 and "Rien n'a été importé" in text(response)


@pytest.mark.parametrize("name", [IMPORT, QUEUE])
def test_the_import_and_the_queue_are_support_only(client, manager, name):
    client.force_login(UserFactory(is_staff=True))  # staff outside the Support group
    assert client.get(reverse(name)).status_code == 403
    client.force_login(manager.user)
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_queue_pages_of_a_missing_entry_are_404(support):
    for name in ("assign", "dismiss"):
        url = reverse(f"admin:payments_bankentry_{name}", args=[999999])
        assert support.get(url).status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_record_each_payment_once():
    from accounts.models import Membership
    from tests.factories import MembershipFactory, OrganisationFactory

    from .conftest import invoice

    lyon = MembershipFactory(
        organisation=OrganisationFactory(name="Festival International du Film de Lyon"),
        role=Membership.Role.OWNER,
    ).organisation
    nordic = OrganisationFactory(name="Nordic Design Awards")
    for number, total in [("INV-10680", "1200.00"), ("INV-10681", "1200.00")]:
        invoice(lyon, number, total)
    invoice(lyon, "INV-10682", "7200.00")
    invoice(lyon, "INV-10683", "600.00")
    invoice(nordic, "INV-10690", "500.00")
    invoice(nordic, "INV-10691", "500.00")
    data = read("camt053_v08.xml")

    def run():
        return statement_import(data=data, file_name="releve.xml", actor=None)

    outcomes = _run_together(run, run)
    assert all(isinstance(o, BankStatement) for o in outcomes), outcomes
    assert sorted(o.new_entries for o in outcomes) == [0, 7]
    assert BankEntry.objects.count() == 7
    assert Payment.objects.count() == 4
    assert Payment.objects.values("bank_entry").distinct().count() == 4
    assert fresh_total(lyon) == Decimal("1200.00") * 2 + Decimal("3000.00")


def fresh_total(organisation) -> Decimal:
    return sum((p.amount for p in Payment.objects.filter(organisation=organisation)), Decimal(0))


@pytest.mark.parametrize(
    "data", [{}, {"invoice": "abc"}, {"invoice": "999999"}, {"organisation": "-1"}]
)
def test_an_assignment_without_a_real_invoice_changes_nothing(
    support, owner, other_owner, lyon, nordic, data
):
    upload(support, read("camt053_v08.xml"))
    entry = BankEntry.objects.get(status="queued", amount=Decimal("99.00"))
    url = reverse("admin:payments_bankentry_assign", args=[entry.pk])
    response = support.post(url, data, follow=True)
    assert response.status_code == 200
    assert "Choisissez une facture ou un compte." in text(response)
    entry.refresh_from_db()
    assert entry.status == "queued" and not Payment.objects.filter(bank_entry=entry).exists()
