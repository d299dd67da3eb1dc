"""Credit notes: support cancels an invoice by issuing one (service, admin, PDF, email)."""

import random
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AuditEvent
from emails.models import Email
from invoices import numbering
from invoices.models import ImmutableInvoiceError, Invoice, NumberSequence
from invoices.services import (
    credit_note_issue,
    invoice_email_resend,
    invoice_issue,
    invoice_mark_paid,
)
from invoices.tax import Treatment
from invoices.totals import LineSpec
from tests.factories import BillingContactFactory, OrganisationFactory, UserFactory

from .conftest import one_line
from .test_pdf import pdf_text, stored_pdf

CHANGELIST = reverse("admin:invoices_invoice_changelist")

UPGRADE_LINES = [
    LineSpec(
        "Passage au forfait Entreprise, au prorata",
        Decimal(1),
        Decimal("2547.95"),
        date(2026, 9, 27),
        date(2027, 3, 1),
    ),
    LineSpec(
        "Crédit pour la période non utilisée",
        Decimal(1),
        Decimal("-1019.18"),
        date(2026, 9, 27),
        date(2027, 3, 1),
    ),
    LineSpec("Accompagnement au paramétrage (jour)", Decimal("1.5"), Decimal("333.3333")),
]


def void(invoice, actor=None, reason="Facture émise en double"):
    return credit_note_issue(invoice=invoice, actor=actor, reason=reason)


# --- The service --------------------------------------------------------------------------


def test_credit_note_cancels_the_invoice_line_by_line(owner, issue):
    invoice = issue(owner.organisation, lines=UPGRADE_LINES)
    credit_note = credit_note_issue(
        invoice=invoice, actor=owner.user, reason="Erreur de forfait", ip="203.0.113.7"
    )

    assert credit_note.kind == Invoice.Kind.CREDIT_NOTE
    assert credit_note.corrects_id == invoice.pk
    assert credit_note.sequence == invoice.sequence + 1
    assert credit_note.number == numbering.format_number(invoice.sequence + 1)
    assert credit_note.issue_date == credit_note.due_date == timezone.localdate()
    # Every amount is the invoice's, negated; quantities stay positive.
    assert (credit_note.subtotal, credit_note.vat_amount, credit_note.total) == (
        -invoice.subtotal,
        -invoice.vat_amount,
        -invoice.total,
    )
    assert credit_note.total == Decimal("-2434.52")
    original_lines = list(invoice.lines.order_by("position"))
    lines = list(credit_note.lines.order_by("position"))
    assert [
        (line.description, line.quantity, -line.unit_price, -line.amount) for line in lines
    ] == [
        (line.description, line.quantity, line.unit_price, line.amount) for line in original_lines
    ]
    assert [(line.period_start, line.period_end) for line in lines] == [
        (line.period_start, line.period_end) for line in original_lines
    ]
    assert (credit_note.period_start, credit_note.period_end) == (
        invoice.period_start,
        invoice.period_end,
    )
    # The invoice is void; the credit note is settled, never awaiting payment.
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.VOID
    assert credit_note.status == Invoice.Status.PAID
    assert credit_note.status_label == "Imputé"

    issued = AuditEvent.objects.get(action="credit_note.issued")
    assert issued.after["number"] == credit_note.number
    assert issued.after["corrects"] == invoice.number
    assert issued.after["reason"] == "Erreur de forfait"
    assert issued.after["total"] == "-2434.52"
    assert issued.ip_address == "203.0.113.7"
    voided = AuditEvent.objects.get(action="invoice.voided")
    assert voided.before == {"number": invoice.number, "status": "open"}
    assert voided.after["credit_note"] == credit_note.number
    assert voided.after["status"] == "void"


def test_credit_note_repeats_the_invoice_snapshot_not_the_account(settings, owner, issue):
    """Buyer, language and tax come from the invoice, even after the account changed."""
    invoice = issue(owner.organisation)
    organisation = account_services.organisation_update_vat(
        organisation=owner.organisation, vat_number="", actor=owner.user
    )
    organisation = account_services.organisation_update_address(
        organisation=organisation,
        address_line1="Unter den Linden 1",
        postal_code="10117",
        city="Berlin",
        country="DE",
        actor=owner.user,
    )
    account_services.organisation_update_vat(
        organisation=organisation, vat_number="DE136695976", actor=owner.user
    )
    settings.SELLER = {**settings.SELLER, "vat_rate": Decimal("5.5")}

    credit_note = void(invoice)

    assert credit_note.tax_treatment == Treatment.DOMESTIC
    assert credit_note.vat_rate == Decimal("20.00")
    assert credit_note.vat_amount == Decimal("-170.00")
    assert credit_note.tax_mention == invoice.tax_mention == ""
    for field in (
        "buyer_legal_name",
        "buyer_address_lines",
        "buyer_street_lines",
        "buyer_postal_code",
        "buyer_city",
        "buyer_country",
        "buyer_vat_number",
        "buyer_siren",
        "language",
        "currency",
    ):
        assert getattr(credit_note, field) == getattr(invoice, field), field
    assert credit_note.buyer_address_lines == ["14 quai Saint-Antoine", "69002 Lyon", "France"]


def test_reverse_charge_credit_note_keeps_the_mention_in_the_invoice_language(swedish_owner, issue):
    invoice = issue(swedish_owner.organisation)
    credit_note = void(invoice)
    assert credit_note.language == "en"
    assert credit_note.tax_treatment == Treatment.EU_REVERSE_CHARGE
    assert credit_note.tax_mention == invoice.tax_mention
    assert credit_note.tax_mention.startswith("Autoliquidation (reverse charge)")


def test_numbering_stays_gapless_across_invoices_and_credit_notes(owner, swedish_owner, issue):
    numbering.sequence_start(first=10665)
    first = issue(owner.organisation)
    second = issue(swedish_owner.organisation)
    credit_note = void(first)
    third = issue(owner.organisation)
    assert [first.number, second.number, credit_note.number, third.number] == [
        "INV-10665",
        "INV-10666",
        "INV-10667",
        "INV-10668",
    ]
    assert NumberSequence.objects.get().next_value == 10669


def test_voiding_twice_is_refused_and_takes_no_number(owner, issue):
    invoice = issue(owner.organisation)
    credit_note = void(invoice)
    next_value = NumberSequence.objects.get().next_value

    with pytest.raises(ValidationError) as excinfo:
        void(invoice)
    assert excinfo.value.messages == [
        f"La facture {invoice.number} est déjà annulée par l'avoir {credit_note.number}."
    ]
    assert Invoice.objects.filter(kind="credit_note").count() == 1
    assert NumberSequence.objects.get().next_value == next_value
    assert AuditEvent.objects.filter(action="credit_note.issued").count() == 1


def test_a_credit_note_cannot_be_voided(owner, issue):
    credit_note = void(issue(owner.organisation))
    with pytest.raises(ValidationError) as excinfo:
        void(credit_note)
    assert excinfo.value.messages == [
        f"{credit_note.number} est un avoir : un avoir ne peut pas être annulé."
    ]
    assert Invoice.objects.count() == 2


def test_a_paid_invoice_gets_a_credit_note_added_to_the_credit_and_stays_paid(owner, issue):
    invoice = invoice_mark_paid(invoice=issue(owner.organisation))
    credit_note = void(invoice)
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert credit_note.returned_to_credit == invoice.total
    assert credit_note.status_label == "Ajouté à l'avoir"
    assert Invoice.objects.get(pk=invoice.pk).credit_returned == invoice.total
    assert Invoice.objects.get(pk=invoice.pk).amount_due == 0


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_reason_is_required(owner, issue, reason):
    invoice = issue(owner.organisation)
    with pytest.raises(ValidationError) as excinfo:
        void(invoice, reason=reason)
    assert "reason" in excinfo.value.message_dict
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    assert Invoice.objects.count() == 1


def test_an_invoice_voided_without_credit_note_can_still_get_one(owner, issue):
    """Invoices voided by the former status-only action lack their accounting correction."""
    invoice = issue(owner.organisation)
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.VOID)
    credit_note = void(invoice)
    assert credit_note.corrects_id == invoice.pk


def test_only_the_status_of_an_issued_document_changes(owner, issue):
    invoice = issue(owner.organisation)
    credit_note = void(invoice)
    for document in (invoice, credit_note):
        with pytest.raises(ImmutableInvoiceError):
            Invoice.objects.filter(pk=document.pk).update(total=Decimal(0))
        with pytest.raises(ImmutableInvoiceError):
            Invoice.objects.get(pk=document.pk).save()
        with pytest.raises(ImmutableInvoiceError):
            Invoice.objects.filter(pk=document.pk).delete()


# --- PDF and email --------------------------------------------------------------------------


def test_credit_note_pdf_names_the_invoice_and_prints_negative_totals(owner, issue):
    invoice = issue(owner.organisation, lines=UPGRADE_LINES)
    text = pdf_text(stored_pdf(void(invoice)))
    assert "AVOIR" in text
    assert "FACTURE" not in text
    from django.utils import translation

    from billing_portal.formatting import long_date

    with translation.override("fr"):
        printed_date = long_date(invoice.issue_date)  # "1er décembre 2026" on the first
    assert f"Avoir relatif à la facture {invoice.number} du {printed_date}" in text
    for fragment in (
        "−2 547,95",  # the upgrade line, negated
        "1 019,18",  # the credit line, now positive
        "Total HT −2 028,77 €",
        "TVA 20 % −405,75 €",
        "Total TTC −2 434,52 €",
        f"Cet avoir annule la facture {invoice.number} du {printed_date}, d'un montant de "
        "2 434,52 € TTC : ce montant n'est plus à régler.",
        "SIREN 732829320",
        "FR44732829320",
    ):
        assert fragment in text, fragment
    # Nothing to pay: no bank details, no due date, no late-payment terms.
    for absent in ("IBAN", "Date d'échéance", "Mode de paiement", "Pas d'escompte", "pénalités"):
        assert absent not in text, absent


def test_credit_note_is_emailed_with_its_pdf_to_owner_and_billing_contacts(
    owner, billing_contact, manager, issue, django_capture_on_commit_callbacks
):
    invoice = issue(owner.organisation)
    Email.objects.all().delete()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = void(invoice, actor=owner.user)

    rows = Email.objects.filter(kind="credit_note_issued")
    assert {row.to for row in rows} == {"owner@example.com", "compta@example.com"}
    assert all(row.status == Email.Status.SENT for row in rows)
    assert rows[0].attachments == [
        {
            "invoice_id": credit_note.pk,
            "filename": f"{credit_note.number}.pdf",
            "mimetype": "application/pdf",
        }
    ]
    message = mail.outbox[0]
    assert message.subject == f"Avoir {credit_note.number} de Palmarès Logiciels SAS"
    assert f"l'avoir {credit_note.number}" in message.body
    assert f"Il annule la facture {invoice.number}" in message.body
    assert "−1\xa0020,00\xa0€" in message.body
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == (f"{credit_note.number}.pdf", "application/pdf")
    assert "AVOIR" in pdf_text(content)


def test_resend_goes_to_todays_recipients_and_is_audited(
    owner, issue, django_capture_on_commit_callbacks
):
    invoice = issue(owner.organisation)
    BillingContactFactory(organisation=owner.organisation, email="nouvelle.compta@example.com")
    Email.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        rows = invoice_email_resend(invoice=invoice, actor=owner.user)
    assert {row.to for row in rows} == {"owner@example.com", "nouvelle.compta@example.com"}
    assert {row.kind for row in rows} == {"invoice_issued"}
    assert rows[0].attachments[0]["invoice_id"] == invoice.pk
    assert Email.objects.filter(status=Email.Status.SENT).count() == 2
    event = AuditEvent.objects.get(action="invoice.emailed")
    assert event.after == {
        "number": invoice.number,
        "to": ["owner@example.com", "nouvelle.compta@example.com"],
    }


def test_resend_of_a_credit_note_uses_the_credit_note_email(owner, issue):
    credit_note = void(issue(owner.organisation))
    Email.objects.all().delete()
    rows = invoice_email_resend(invoice=credit_note, actor=None)
    assert {row.kind for row in rows} == {"credit_note_issued"}


def test_resend_without_any_recipient_is_refused(db, issue):
    invoice = issue(OrganisationFactory())  # no owner, no billing contact
    with pytest.raises(ValidationError, match="personne"):
        invoice_email_resend(invoice=invoice, actor=None)
    assert not AuditEvent.objects.filter(action="invoice.emailed").exists()


# --- Portal ----------------------------------------------------------------------------------


def test_portal_lists_the_credit_note_and_the_void_invoice(owner, issue, client_for):
    invoice = issue(owner.organisation)
    credit_note = void(invoice)
    html = client_for(owner).get("/billing/invoices/").content.decode()
    rows = dict(
        re.findall(r'<th scope="row"><a href="/billing/invoices/(INV-\d+)/">(.*?)</tr>', html, re.S)
    )
    assert "Avoir" in rows[credit_note.number]
    assert "−1\xa0020,00\xa0€" in rows[credit_note.number]
    assert "Imputé" in rows[credit_note.number]
    assert "Facture" in rows[invoice.number]
    assert "1\xa0020,00\xa0€" in rows[invoice.number]
    assert 'status-void">Annulée' in rows[invoice.number]


def test_online_pages_link_the_invoice_and_its_credit_note(owner, issue, client_for):
    invoice = issue(owner.organisation)
    credit_note = void(invoice)
    client = client_for(owner)
    page = client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert "Annulée" in page
    assert f'par l\'avoir <a href="/billing/invoices/{credit_note.number}/">' in page
    page = client.get(f"/billing/invoices/{credit_note.number}/").content.decode()
    assert "Avoir relatif à la facture" in page
    assert f'<a href="/billing/invoices/{invoice.number}/">{invoice.number}</a>' in page
    assert "−1\xa0020,00\xa0€" in page


# --- Admin, as support staff (the "Support" group, not a superuser) --------------------------


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def admin_action(client, action, invoices, **extra):
    data = {"action": action, "_selected_action": [invoice.pk for invoice in invoices], **extra}
    return client.post(CHANGELIST, data)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def test_support_sees_the_actions(support, owner, issue):
    issue(owner.organisation)
    html = support.get(CHANGELIST).content.decode()
    assert "Émettre un avoir" in html
    assert "Renvoyer l&#x27;e-mail de la facture" in html
    assert 'value="delete_selected"' not in html


def test_support_voids_an_invoice_through_the_admin(
    support, support_user, owner, billing_contact, issue, django_capture_on_commit_callbacks
):
    invoice = issue(owner.organisation)
    confirm = admin_action(support, "credit_note", [invoice])
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Raison de l&#x27;avoir" in html
    assert invoice.number in html
    assert not Invoice.objects.filter(kind="credit_note").exists()  # nothing before the reason

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_action(
            support,
            "credit_note",
            [invoice],
            apply="1",
            reason="Facture émise en double",
            scope="whole",
        )
    assert response.status_code == 302
    credit_note = Invoice.objects.get(kind="credit_note")
    assert credit_note.corrects_id == invoice.pk
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.VOID
    event = AuditEvent.objects.get(action="credit_note.issued")
    assert event.actor == support_user
    assert event.actor_label == "support: Léa Moreau"
    assert event.after["reason"] == "Facture émise en double"
    assert set(Email.objects.filter(kind="credit_note_issued").values_list("to", flat=True)) == {
        "owner@example.com",
        "compta@example.com",
    }
    page = support.get(response["Location"])
    assert f"Facture {invoice.number} annulée par l'avoir {credit_note.number}." in messages_of(
        page
    )


def test_support_voids_from_the_invoice_page(support, owner, issue):
    invoice = issue(owner.organisation)
    page = reverse("admin:invoices_invoice_change", args=[invoice.pk])
    assert '<option value="credit_note">Émettre un avoir</option>' in (
        support.get(page).content.decode()
    )
    confirm = support.post(
        page,
        {
            "CHANGE_FORM-action": "credit_note",
            "CHANGE_FORM-select_across": "0",
            "index": "0",
            "_selected_action": invoice.pk,
        },
    )
    assert confirm.status_code == 200
    assert f'action="{CHANGELIST}"' in confirm.content.decode()
    response = admin_action(
        support, "credit_note", [invoice], apply="1", reason="Doublon", scope="whole"
    )
    assert response.status_code == 302
    assert Invoice.objects.get(kind="credit_note").corrects_id == invoice.pk


def test_admin_asks_again_without_a_reason(support, owner, issue):
    invoice = issue(owner.organisation)
    response = admin_action(
        support, "credit_note", [invoice], apply="1", reason="  ", scope="whole"
    )
    assert response.status_code == 200
    assert "Ce champ est obligatoire." in response.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    assert not Invoice.objects.filter(kind="credit_note").exists()


def test_admin_refusals_show_a_message_and_the_others_go_through(support, owner, issue):
    already = issue(owner.organisation)
    first_credit_note = void(already)
    fresh = issue(owner.organisation)
    response = admin_action(
        support,
        "credit_note",
        [already, first_credit_note, fresh],
        apply="1",
        reason="Erreur de facturation",
    )
    assert response.status_code == 302
    shown = messages_of(support.get(response["Location"]))
    assert (
        f"{already.number} : La facture {already.number} est déjà annulée par l'avoir "
        f"{first_credit_note.number}." in shown
    )
    assert (
        f"{first_credit_note.number} : {first_credit_note.number} est un avoir : un avoir ne "
        "peut pas être annulé." in shown
    )
    second_credit_note = Invoice.objects.get(kind="credit_note", corrects=fresh)
    assert f"Facture {fresh.number} annulée par l'avoir {second_credit_note.number}." in shown
    assert Invoice.objects.filter(kind="credit_note").count() == 2


def test_support_resends_the_invoice_email(
    support, support_user, owner, billing_contact, issue, django_capture_on_commit_callbacks
):
    invoice = issue(owner.organisation)
    Email.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_action(support, "resend_email", [invoice])
    assert response.status_code == 302
    assert set(Email.objects.filter(kind="invoice_issued").values_list("to", flat=True)) == {
        "owner@example.com",
        "compta@example.com",
    }
    event = AuditEvent.objects.get(action="invoice.emailed")
    assert event.actor_label == "support: Léa Moreau"
    shown = messages_of(support.get(response["Location"]))
    assert "1 e-mail de facture renvoyé aux destinataires actuels." in shown


def test_staff_without_change_permission_cannot_void(client, owner, issue):
    viewer = UserFactory(is_staff=True)
    group = Group.objects.create(name="Lecture seule")
    group.permissions.set(Permission.objects.filter(codename="view_invoice"))
    viewer.groups.add(group)
    client.force_login(viewer)
    invoice = issue(owner.organisation)
    assert "Émettre un avoir" not in client.get(CHANGELIST).content.decode()
    admin_action(client, "credit_note", [invoice], apply="1", reason="Essai")
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    assert not Invoice.objects.filter(kind="credit_note").exists()


def test_invoices_stay_read_only_in_the_admin(support, owner, issue):
    invoice = issue(owner.organisation)
    credit_note = void(invoice)
    for document in (invoice, credit_note):
        url = reverse("admin:invoices_invoice_change", args=[document.pk])
        page = support.get(url)
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert support.post(url, {"total": "0.00"}).status_code == 403
        delete = reverse("admin:invoices_invoice_delete", args=[document.pk])
        assert support.post(delete, {"post": "yes"}).status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).total == Decimal("1020.00")
    assert Invoice.objects.get(pk=credit_note.pk).total == Decimal("-1020.00")


# --- Concurrency (PostgreSQL) ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_invoices_and_credit_notes_share_one_gapless_series(monkeypatch):
    from emails import tasks as email_tasks
    from invoices import tasks as invoice_tasks

    # Numbering is under test, not PDF rendering or sending.
    monkeypatch.setattr(invoice_tasks.invoice_pdf_render_task, "apply_async", lambda **kw: None)
    monkeypatch.setattr(email_tasks.email_send_task, "apply_async", lambda **kw: None)
    accounts = [
        OrganisationFactory(),
        OrganisationFactory(country="SE", vat_number="SE556677889901"),
    ]
    to_void = [invoice_issue(organisation=accounts[n % 2], lines=one_line()) for n in range(20)]
    # 20 new invoices, 20 credit notes, and 5 attempts to void an invoice a second time.
    jobs = [("issue", accounts[n % 2]) for n in range(20)]
    jobs += [("void", invoice) for invoice in to_void]
    jobs += [("void", to_void[n]) for n in range(5)]
    random.Random(4).shuffle(jobs)

    def run(job):
        what, target = job
        try:
            if what == "issue":
                return invoice_issue(organisation=target, lines=one_line()).sequence
            return credit_note_issue(invoice=target, actor=None, reason="Essai").sequence
        except ValidationError:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(run, jobs))

    assert results.count("refused") == 5
    sequences = [r for r in results if r != "refused"] + [i.sequence for i in to_void]
    assert len(sequences) == len(set(sequences)) == 60
    assert sorted(sequences) == list(range(min(sequences), min(sequences) + 60))
    assert set(Invoice.objects.values_list("sequence", flat=True)) == set(sequences)
    assert NumberSequence.objects.get().next_value == min(sequences) + 60
    # Each voided invoice has exactly one credit note, and is void.
    assert Invoice.objects.filter(kind="credit_note").count() == 20
    for invoice in to_void:
        assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.VOID
        assert invoice.corrections.count() == 1
