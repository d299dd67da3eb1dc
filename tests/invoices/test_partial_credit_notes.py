"""Credit notes for part of an invoice (chosen lines, an amount) and for paid invoices: the
service, its refusals, rounding, emails and the PDF."""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from emails.models import Email
from invoices.models import Invoice, InvoiceStatusEvent, NumberSequence
from invoices.services import credit_note_issue, invoice_issue, invoice_mark_paid
from invoices.totals import LineSpec
from tests.factories import OrganisationFactory

from .test_pdf import pdf_text, stored_pdf

# 12 seats × 50.00, one set-up day 400.00, and an unused-period credit of 100.00: 900.00 excl.
# VAT, 180.00 VAT, 1,080.00 incl. VAT (a French account, 20 %).
LINES = [
    LineSpec("Sièges jury", Decimal(12), Decimal("50.00"), date(2026, 1, 1), date(2027, 1, 1)),
    LineSpec("Journée de paramétrage", Decimal(1), Decimal("400.00")),
    LineSpec("Crédit pour la période non utilisée", Decimal(1), Decimal("-100.00")),
]


def credit(invoice, actor=None, reason="Geste commercial", **part):
    return credit_note_issue(invoice=invoice, actor=actor, reason=reason, **part)


@pytest.fixture
def invoice(owner, issue):
    invoice = issue(owner.organisation, lines=LINES)
    assert (invoice.subtotal, invoice.vat_amount, invoice.total) == (
        Decimal("900.00"),
        Decimal("180.00"),
        Decimal("1080.00"),
    )
    return invoice


def fresh(document):
    return Invoice.objects.get(pk=document.pk)


def nothing_written(before: int, next_value: int):
    assert Invoice.objects.count() == before
    assert NumberSequence.objects.get().next_value == next_value


# --- Chosen lines ---------------------------------------------------------------------------


def test_chosen_lines_credit_their_quantities_and_leave_the_rest_due(owner, invoice):
    credit_note = credit(invoice, actor=owner.user, lines={1: Decimal(3)}, ip="203.0.113.7")

    (line,) = credit_note.lines.all()
    assert (line.description, line.quantity, line.unit_price, line.amount) == (
        "Sièges jury",
        Decimal(3),
        Decimal("-50.00"),
        Decimal("-150.00"),
    )
    assert (line.period_start, line.period_end) == (date(2026, 1, 1), date(2027, 1, 1))
    assert line.credited_line == invoice.lines.get(position=1)
    assert (credit_note.subtotal, credit_note.vat_amount, credit_note.total) == (
        Decimal("-150.00"),
        Decimal("-30.00"),
        Decimal("-180.00"),
    )
    assert credit_note.corrects_id == invoice.pk
    assert credit_note.sequence == invoice.sequence + 1
    assert credit_note.returned_to_credit == 0
    assert credit_note.status_label == "Imputé"
    # The invoice stays due, for the rest.
    invoice = fresh(invoice)
    assert invoice.status == Invoice.Status.OPEN
    assert invoice.amount_due == Decimal("900.00")
    assert invoice.credit_returned == 0

    event = AuditEvent.objects.get(action="credit_note.issued")
    assert event.actor == owner.user
    assert event.ip_address == "203.0.113.7"
    assert event.after["corrects"] == invoice.number
    assert event.after["scope"] == "lines"
    assert event.after["lines"] == {"1": "3"}
    assert event.after["total"] == "-180.00"
    assert event.after["returned_to_credit"] == "0.00"
    assert not AuditEvent.objects.filter(action="invoice.voided").exists()
    assert list(credit_note.status_events.values_list("code", flat=True)) == ["issued"]
    assert not invoice.status_events.filter(code=InvoiceStatusEvent.Code.VOID).exists()


def test_partial_credit_notes_until_the_invoice_is_fully_credited(invoice):
    first = credit(invoice, lines={1: Decimal(2), 2: Decimal("0.5")})
    second = credit(invoice, amount=Decimal("100.00"))
    assert fresh(invoice).status == Invoice.Status.OPEN
    assert fresh(invoice).amount_due == Decimal("1080.00") - Decimal("360.00") - Decimal("120.00")

    # Everything left: after an amount, one balance line rather than the lines.
    last = credit(invoice)
    (line,) = last.lines.all()
    assert line.description == f"Solde de la facture {invoice.number}"
    assert line.credited_line is None
    assert last.subtotal == Decimal("-500.00")

    invoice = fresh(invoice)
    assert invoice.status == Invoice.Status.VOID
    assert invoice.amount_due == 0
    notes = [first, second, last]
    for field in ("subtotal", "vat_amount", "total"):
        assert sum(getattr(note, field) for note in notes) == -getattr(invoice, field)
    voided = AuditEvent.objects.get(action="invoice.voided")
    assert voided.after["credit_note"] == last.number
    assert invoice.status_events.filter(code=InvoiceStatusEvent.Code.VOID).count() == 1

    before, next_value = Invoice.objects.count(), NumberSequence.objects.get().next_value
    for part in ({}, {"amount": Decimal("1.00")}, {"lines": {1: Decimal(1)}}):
        with pytest.raises(ValidationError) as excinfo:
            credit(invoice, **part)
        assert excinfo.value.messages == [
            f"La facture {invoice.number} est déjà entièrement créditée par les avoirs "
            f"{first.number}, {second.number}, {last.number}."
        ]
    nothing_written(before, next_value)


def test_everything_left_after_chosen_lines_credits_what_is_left_of_each_line(invoice):
    credit(invoice, lines={1: Decimal(5)})
    rest = credit(invoice)
    assert [
        (line.credited_line.position, line.quantity, line.amount)
        for line in rest.lines.order_by("position")
    ] == [
        (1, Decimal(7), Decimal("-350.00")),
        (2, Decimal(1), Decimal("-400.00")),
        (3, Decimal(1), Decimal("100.00")),
    ]
    assert rest.total == Decimal("-780.00")
    assert fresh(invoice).status == Invoice.Status.VOID
    assert (
        AuditEvent.objects.filter(action="credit_note.issued").latest("pk").after["scope"]
        == "whole"
    )


def test_a_line_cannot_be_credited_beyond_what_is_left_of_it(invoice):
    credit(invoice, lines={1: Decimal(10)})
    before, next_value = Invoice.objects.count(), NumberSequence.objects.get().next_value
    with pytest.raises(ValidationError) as excinfo:
        credit(invoice, lines={1: Decimal(3), 2: Decimal(1)})
    assert excinfo.value.message_dict == {
        "lines": ["Ligne 1 : 2 au plus reste à créditer (3 demandé)."]
    }
    nothing_written(before, next_value)
    assert fresh(invoice).status == Invoice.Status.OPEN


def test_lines_cannot_credit_more_than_is_left_of_the_invoice(invoice):
    credit(invoice, amount=Decimal("500.00"))
    before, next_value = Invoice.objects.count(), NumberSequence.objects.get().next_value
    with pytest.raises(ValidationError) as excinfo:
        credit(invoice, lines={1: Decimal(12)})  # 600.00 excl. VAT, 400.00 left
    assert excinfo.value.messages == [
        f"L'avoir (600,00\xa0€ HT) dépasse ce qui reste à créditer sur la facture "
        f"{invoice.number} : 400,00\xa0€ HT (480,00\xa0€ TTC)."
    ]
    nothing_written(before, next_value)


def test_the_credit_line_alone_is_not_a_credit_note(invoice):
    with pytest.raises(ValidationError, match="ne font pas un avoir"):
        credit(invoice, lines={3: Decimal(1)})
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ({9: Decimal(1)}, "n'a pas de ligne 9"),
        ({"x": Decimal(1)}, "n'a pas de ligne x"),
        ({1: Decimal(7), "1": Decimal(7)}, "Ligne 1 indiquée deux fois."),
        ({1: Decimal(-1)}, "Ligne 1 : indiquez une quantité positive, 3 décimales au plus."),
        ({1: Decimal("0.0001")}, "Ligne 1 : indiquez une quantité positive"),
        ({1: "trois"}, "Ligne 1 : indiquez une quantité positive"),
        ({1: 1.5}, "Ligne 1 : indiquez une quantité positive"),  # a float is no quantity
        ({1: Decimal("NaN")}, "Ligne 1 : indiquez une quantité positive"),
        ({1: Decimal(0)}, "Indiquez la quantité à créditer d'au moins une ligne."),
        ({}, "Indiquez la quantité à créditer d'au moins une ligne."),
    ],
)
def test_bad_quantities_are_refused_and_nothing_is_written(invoice, lines, message):
    next_value = NumberSequence.objects.get().next_value
    with pytest.raises(ValidationError) as excinfo:
        credit(invoice, lines=lines)
    assert any(message in text for text in excinfo.value.message_dict["lines"])
    nothing_written(1, next_value)
    assert not AuditEvent.objects.filter(action="credit_note.issued").exists()


# --- An amount ------------------------------------------------------------------------------


def test_an_amount_is_credited_at_the_invoice_rate_in_its_language(swedish_owner, issue):
    invoice = issue(swedish_owner.organisation, amount="1000.00")  # reverse charge, English
    credit_note = credit(invoice, amount="250.00")
    (line,) = credit_note.lines.all()
    assert line.description == f"Partial credit on invoice {invoice.number}"
    assert (line.quantity, line.unit_price, line.amount) == (1, Decimal("-250.00"), -250)
    assert credit_note.vat_amount == 0
    assert credit_note.tax_mention == invoice.tax_mention
    assert fresh(invoice).amount_due == Decimal("750.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("0"), "Indiquez un montant HT positif, au centime près."),
        (Decimal("-10"), "Indiquez un montant HT positif, au centime près."),
        (Decimal("10.005"), "Indiquez un montant HT positif, au centime près."),
        ("dix euros", "Indiquez un montant HT positif, au centime près."),
        (Decimal("Infinity"), "Indiquez un montant HT positif, au centime près."),
        (10.5, "Indiquez un montant HT positif, au centime près."),
        (Decimal("900.01"), "Au plus 900,00\xa0€ HT reste à créditer sur la facture INV-1."),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(invoice, amount, message):
    next_value = NumberSequence.objects.get().next_value
    with pytest.raises(ValidationError) as excinfo:
        credit(invoice, amount=amount)
    assert excinfo.value.message_dict == {"amount": [message.replace("INV-1", invoice.number)]}
    nothing_written(1, next_value)


def test_lines_and_an_amount_together_are_a_programming_error(invoice):
    with pytest.raises(ValueError):
        credit(invoice, lines={1: Decimal(1)}, amount=Decimal(1))


def test_the_whole_amount_left_voids_the_invoice(invoice):
    credit(invoice, amount=Decimal("900.00"))
    assert fresh(invoice).status == Invoice.Status.VOID


# --- Rounding: the credit notes of an invoice add up to it, to the cent -----------------------


def test_line_amounts_of_successive_credits_add_up_to_the_line(owner, issue):
    invoice = issue(
        owner.organisation, lines=[LineSpec("Licence au prorata", Decimal(3), Decimal("0.335"))]
    )
    assert (invoice.subtotal, invoice.vat_amount) == (Decimal("1.01"), Decimal("0.20"))
    notes = [credit(invoice, lines={1: Decimal(1)}) for _ in range(3)]
    # 0.335 rounds to 0.34 alone; the three add up to the line's 1.01, not 1.02.
    assert [note.subtotal for note in notes] == [
        Decimal("-0.34"),
        Decimal("-0.33"),
        Decimal("-0.34"),
    ]
    assert sum(note.total for note in notes) == -invoice.total
    assert fresh(invoice).status == Invoice.Status.VOID


def test_vat_of_successive_credits_adds_up_to_the_invoice_vat(owner, issue):
    invoice = issue(owner.organisation, amount="0.10")
    assert invoice.vat_amount == Decimal("0.02")
    notes = [credit(invoice, amount=amount) for amount in ("0.03", "0.03", "0.03", "0.01")]
    # Each alone would round to 0.01, 0.01, 0.01, 0.00: 0.03 of VAT credited for 0.02.
    assert [note.vat_amount for note in notes] == [
        Decimal("-0.01"),
        Decimal("0.00"),
        Decimal("-0.01"),
        Decimal("0.00"),
    ]
    assert sum(note.vat_amount for note in notes) == -invoice.vat_amount
    assert sum(note.total for note in notes) == -invoice.total
    assert fresh(invoice).status == Invoice.Status.VOID


# --- Paid invoices: the credit note goes to the account's credit ---------------------------
# (invoice_mark_paid: paid without a recorded payment; tests/payments/test_credit_notes.py
# credits invoices paid by recorded payments.)


def test_a_paid_invoice_credited_in_part_stays_paid_and_the_credit_note_goes_to_credit(
    owner, invoice
):
    invoice = invoice_mark_paid(invoice=invoice)
    first = credit(invoice, lines={1: Decimal(2)})
    second = credit(invoice, amount=Decimal("50.00"))
    assert (first.returned_to_credit, second.returned_to_credit) == (
        Decimal("120.00"),
        Decimal("60.00"),
    )
    assert first.status_label == "Ajouté à l'avoir"
    assert first.credit_returned == Decimal("120.00")
    invoice = fresh(invoice)
    assert invoice.status == Invoice.Status.PAID
    assert invoice.amount_due == 0
    assert invoice.credit_returned == Decimal("180.00")
    event = AuditEvent.objects.filter(action="credit_note.issued").latest("pk")
    assert event.after["returned_to_credit"] == "60.00"

    last = credit(invoice)  # everything left: still paid, never void
    assert fresh(invoice).status == Invoice.Status.PAID
    assert fresh(invoice).credit_returned == invoice.total
    assert last.returned_to_credit == -last.total
    with pytest.raises(ValidationError, match="déjà entièrement créditée"):
        credit(invoice, amount=Decimal("0.01"))


def test_only_credit_notes_issued_after_the_payment_go_to_credit(invoice):
    applied = credit(invoice, lines={1: Decimal(2)})
    invoice = invoice_mark_paid(invoice=invoice)
    returned = credit(invoice, lines={1: Decimal(1)})
    assert (applied.returned_to_credit, returned.returned_to_credit) == (0, Decimal("60.00"))
    assert fresh(invoice).credit_returned == Decimal("60.00")
    assert fresh(invoice).credited == Decimal("180.00")


def test_part_of_an_invoice_voided_without_credit_note_is_refused(invoice):
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.VOID)
    with pytest.raises(ValidationError) as excinfo:
        credit(invoice, amount=Decimal("10.00"))
    assert excinfo.value.messages == [
        f"La facture {invoice.number} est annulée : seul un avoir de la totalité est possible."
    ]
    assert credit(invoice).total == -invoice.total


# --- Email and PDF --------------------------------------------------------------------------


def test_a_partial_credit_note_email_says_what_is_left_to_pay(
    owner, billing_contact, invoice, django_capture_on_commit_callbacks
):
    Email.objects.all().delete()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = credit(invoice, amount=Decimal("100.00"))
    rows = Email.objects.filter(kind="credit_note_issued")
    assert {row.to for row in rows} == {"owner@example.com", "compta@example.com"}
    assert all(row.status == Email.Status.SENT for row in rows)
    body = mail.outbox[0].body
    assert f"l'avoir {credit_note.number}" in body
    assert f"Il réduit de 120,00\xa0€ le montant à régler de la facture {invoice.number}" in body
    assert "il reste 960,00\xa0€ à régler." in body
    ((filename, content, _mimetype),) = mail.outbox[0].attachments
    assert filename == f"{credit_note.number}.pdf"
    assert "AVOIR" in pdf_text(content)


def test_the_last_partial_credit_note_email_says_nothing_is_left(
    owner, invoice, django_capture_on_commit_callbacks
):
    credit(invoice, amount=Decimal("100.00"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        credit(invoice, amount=Decimal("800.00"))
    body = mail.outbox[0].body
    assert f"Il annule la facture {invoice.number}" in body
    assert "vous n'avez rien à régler au titre de cette facture" in body


def test_the_credit_note_of_a_paid_invoice_says_it_goes_to_the_credit(
    owner, billing_contact, invoice, django_capture_on_commit_callbacks
):
    invoice = invoice_mark_paid(invoice=invoice)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = credit(invoice, lines={2: Decimal(1)})
    assert {message.to[0] for message in mail.outbox} == {
        "owner@example.com",
        "compta@example.com",
    }
    assert (
        f"Il porte sur la facture {invoice.number} du {invoice.issue_date:%-d}"
        in mail.outbox[0].body
    )
    body = re.sub(r"[ \n]+", " ", mail.outbox[0].body)
    assert "déjà réglée : ce montant de 480,00\xa0€ s'ajoute à votre avoir disponible." in body
    assert "est déduit de votre prochaine facture ; pour vous le faire rembourser" in body
    text = pdf_text(stored_pdf(credit_note))
    assert (
        "déjà réglée : son montant de 480,00 € TTC s'ajoute à votre avoir disponible, déduit "
        "de votre prochaine facture ou remboursé sur demande." in " ".join(text.split())
    )
    assert "IBAN" not in text


def test_a_partial_credit_note_pdf_says_what_it_takes_off_the_invoice(invoice):
    credit_note = credit(invoice, lines={1: Decimal(3)})
    text = " ".join(pdf_text(stored_pdf(credit_note)).split())
    assert f"Avoir relatif à la facture {invoice.number}" in text
    assert (
        f"Cet avoir réduit de 180,00 € TTC le montant à régler de la facture {invoice.number}"
        in text
    )
    assert "Total TTC −180,00 €" in text
    assert "n'est plus à régler" not in text


# --- Concurrency ----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_partial_credit_notes_never_pass_the_invoice(monkeypatch):
    from emails import tasks as email_tasks
    from invoices import tasks as invoice_tasks

    monkeypatch.setattr(invoice_tasks.invoice_pdf_render_task, "apply_async", lambda **kw: None)
    monkeypatch.setattr(email_tasks.email_send_task, "apply_async", lambda **kw: None)
    invoice = invoice_issue(organisation=OrganisationFactory(), lines=LINES)

    def run(amount):
        try:
            return credit_note_issue(
                invoice=invoice, actor=None, reason="Essai", amount=Decimal(amount)
            ).subtotal
        except ValidationError:
            return "refused"
        finally:
            connection.close()

    # Eight agents credit 200.00 each at once: four fit in the 900.00, then 100.00 is left.
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, ["200.00"] * 8))

    assert results.count("refused") == 4
    assert sum(result for result in results if result != "refused") == Decimal("-800.00")
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    assert Invoice.objects.get(pk=invoice.pk).amount_due == Decimal("120.00")


# --- Admin, as a « Support » user ------------------------------------------------------------

CHANGELIST = reverse("admin:invoices_invoice_changelist")


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def post_credit(client, invoices, **data):
    return client.post(
        CHANGELIST,
        {
            "action": "credit_note",
            "_selected_action": [invoice.pk for invoice in invoices],
            "apply": "1",
            "reason": "Geste commercial",
            **data,
        },
    )


def shown_messages(client, response):
    assert response.status_code == 302, response.content.decode()[:2000]
    return [str(message) for message in client.get(response["Location"]).context["messages"]]


def form_errors(response) -> str:
    assert response.status_code == 200
    errors = response.context["form"].errors
    return " ".join(message for field in errors for message in errors[field])


def test_the_credit_page_of_one_invoice_offers_its_lines_and_an_amount(support, invoice):
    credit(invoice, lines={1: Decimal(4)})
    response = support.post(CHANGELIST, {"action": "credit_note", "_selected_action": [invoice.pk]})
    html = response.content.decode()
    assert "Déjà crédité : 200,00\xa0€ HT par 1 avoir." in html
    assert "Reste à créditer : 700,00\xa0€ HT, soit 840,00\xa0€ TTC." in html
    for name in ("scope", "quantity_1", "quantity_2", "quantity_3", "amount", "reason"):
        assert f'name="{name}"' in html, name
    # What is left of the seats line: 8 of 12, 400.00 excl. VAT.
    assert "<td>8 (400,00\xa0€ HT)</td>" in html


def test_support_credits_chosen_lines(support, support_user, invoice):
    response = post_credit(
        support, [invoice], scope="lines", quantity_1="2", quantity_2="0,5", ip="x"
    )
    credit_note = Invoice.objects.get(kind="credit_note")
    assert sorted(credit_note.lines.values_list("quantity", flat=True)) == [
        Decimal("0.5"),
        Decimal(2),
    ]
    assert shown_messages(support, response) == [
        f"Facture {invoice.number} : avoir {credit_note.number} de 360,00\xa0€ TTC ; "
        "reste à régler 720,00\xa0€."
    ]
    event = AuditEvent.objects.get(action="credit_note.issued")
    assert event.actor == support_user
    assert event.actor_label == "support: Léa Moreau"
    assert event.after["reason"] == "Geste commercial"
    assert event.after["lines"] == {"1": "2", "2": "0.5"}


def test_support_credits_an_amount_written_the_french_way(support, invoice):
    response = post_credit(support, [invoice], scope="amount", amount="1 234,5")
    assert form_errors(response)  # more than what is left: refused on the page
    assert not Invoice.objects.filter(kind="credit_note").exists()
    response = post_credit(support, [invoice], scope="amount", amount="123,45")
    credit_note = Invoice.objects.get(kind="credit_note")
    assert credit_note.subtotal == Decimal("-123.45")
    assert "reste à régler 931,86\xa0€" in shown_messages(support, response)[0]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"scope": "amount", "amount": "abc"}, "Saisissez un nombre."),
        ({"scope": "amount", "amount": "-5"}, "supérieure ou égale à 0.01"),
        ({"scope": "amount", "amount": "1,234"}, "pas plus de 2 chiffres après la virgule"),
        ({"scope": "amount", "amount": ""}, "Indiquez le montant HT à créditer."),
        ({"scope": "amount", "amount": "900,01"}, "Au plus 900,00\xa0€ HT reste à créditer"),
        ({"scope": "amount", "amount": "10", "quantity_1": "1"}, "ne prend pas de quantités"),
        ({"scope": "lines", "quantity_1": "treize"}, "Saisissez un nombre."),
        ({"scope": "lines", "quantity_1": "-1"}, "supérieure ou égale à 0"),
        ({"scope": "lines", "quantity_1": "13"}, "Ligne 1 : 12 au plus reste à créditer"),
        ({"scope": "lines", "quantity_3": "1"}, "ne font pas un avoir"),
        ({"scope": "lines"}, "Indiquez la quantité à créditer d'au moins une ligne."),
        ({"scope": "lines", "quantity_1": "1", "amount": "5"}, "ne prend pas de montant"),
        ({"scope": "whole", "quantity_1": "1"}, "Vous avez indiqué des quantités ou un montant"),
        ({"scope": "whole", "amount": "5"}, "Vous avez indiqué des quantités ou un montant"),
        ({"scope": "everything"}, "Sélectionnez un choix valide"),
        ({}, "Ce champ est obligatoire."),
        ({"scope": "whole", "reason": " "}, "Ce champ est obligatoire."),
    ],
)
def test_bad_input_on_the_credit_page_says_why_and_changes_nothing(support, invoice, data, error):
    response = post_credit(support, [invoice], **data)
    assert error in form_errors(response)
    assert Invoice.objects.count() == 1
    assert fresh(invoice).status == Invoice.Status.OPEN
    assert not AuditEvent.objects.filter(action="credit_note.issued").exists()
    # The page asks again, with the lines and what was typed.
    html = response.content.decode()
    assert 'name="quantity_1"' in html and 'name="apply"' in html


def test_a_fully_credited_line_cannot_be_typed_into(support, invoice):
    credit(invoice, lines={2: Decimal(1)})
    response = post_credit(support, [invoice], scope="lines", quantity_2="1", quantity_1="1")
    # The disabled field keeps its initial (empty) value: only line 1 is credited.
    assert response.status_code == 302
    last = Invoice.objects.filter(kind="credit_note").latest("sequence")
    assert list(last.lines.values_list("credited_line__position", flat=True)) == [1]


def test_support_credits_a_paid_invoice_and_sees_the_credit(support, owner, invoice):
    invoice_mark_paid(invoice=invoice)
    response = post_credit(support, [invoice], scope="amount", amount="100")
    credit_note = Invoice.objects.get(kind="credit_note")
    assert credit_note.returned_to_credit == Decimal("120.00")
    assert shown_messages(support, response) == [
        f"Facture {invoice.number} : avoir {credit_note.number} de 120,00\xa0€ TTC ; "
        "120,00\xa0€ porté au crédit du compte."
    ]
    listing = support.get(CHANGELIST).content.decode()
    assert listing.count("120,00\xa0€ porté au crédit du compte") == 2  # the invoice, the note
    page = support.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
    assert (
        f"120,00\xa0€ TTC crédités par {credit_note.number} ; 120,00\xa0€ porté au crédit du "
        "compte" in page.content.decode()
    )
    console = support.get(
        reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    ).content.decode()
    assert "120,00\xa0€ porté au crédit du compte" in console
    assert "Ajouté à l&#x27;avoir" in console
    # The same 120,00 is the account's credit, which the console offers to refund.
    assert re.search(r'data-testid="credit">120,00\xa0€', console)


def test_the_console_shows_what_is_left_to_pay(support, owner, invoice):
    credit(invoice, amount=Decimal("100.00"))
    console = support.get(
        reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    )
    assert "reste à régler 960,00\xa0€" in console.content.decode()
    listing = support.get(CHANGELIST).content.decode()
    assert "reste à régler 960,00\xa0€" in listing


def test_several_invoices_are_each_credited_in_full(support, owner, issue):
    first, second = issue(owner.organisation), issue(owner.organisation)
    page = support.post(
        CHANGELIST, {"action": "credit_note", "_selected_action": [first.pk, second.pk]}
    ).content.decode()
    assert 'name="scope"' not in page and 'name="amount"' not in page
    assert "Pour un avoir partiel, choisissez une seule facture." in page
    response = post_credit(support, [first, second])
    assert len(shown_messages(support, response)) == 2
    assert set(Invoice.objects.filter(kind="invoice").values_list("status", flat=True)) == {"void"}


# --- What the owner sees ---------------------------------------------------------------------


def tab_rows(client) -> dict[str, str]:
    html = client.get("/billing/invoices/").content.decode()
    return dict(
        re.findall(r'<th scope="row"><a href="/billing/invoices/(INV-\d+)/">(.*?)</tr>', html, re.S)
    )


def test_the_owner_sees_what_is_left_to_pay_after_a_partial_credit_note(owner, invoice, client_for):
    first = credit(invoice, lines={1: Decimal(2)})
    second = credit(invoice, amount=Decimal("50.00"))
    client = client_for(owner)
    page = client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert 'status-open">À payer' in page
    assert f'<a href="/billing/invoices/{first.number}/">{first.number}</a> (−120,00\xa0€)' in page
    assert f'<a href="/billing/invoices/{second.number}/">{second.number}</a> (−60,00\xa0€)' in page
    assert re.search(r'data-testid="amount-due">\s*Reste à régler : 900,00\xa0€', page)
    assert "refund-due" not in page

    rows = tab_rows(client)
    assert "reste 900,00\xa0€" in rows[invoice.number]
    assert "Imputé" in rows[first.number]

    page = client.get(f"/billing/invoices/{second.number}/").content.decode()
    assert "Avoir relatif à la facture" in page
    assert "Cet avoir réduit de 60,00\xa0€ TTC le montant à régler" in page


def test_the_owner_sees_the_credit_note_of_a_paid_invoice_as_credit(owner, invoice, client_for):
    invoice_mark_paid(invoice=invoice)
    credit_note = credit(invoice, amount=Decimal("100.00"))
    client = client_for(owner)
    page = client.get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert 'status-paid">Payée' in page
    assert re.search(
        r'data-testid="credit-returned">\s*Ajouté à votre avoir disponible : 120,00\xa0€', page
    )
    assert re.search(
        r'data-testid="credit-balance">\s*Avoir disponible sur votre compte aujourd.hui : '
        r"120,00\xa0€\.",
        page,
    )
    assert "amount-due" not in page

    page = client.get(f"/billing/invoices/{credit_note.number}/").content.decode()
    assert re.search(
        r'data-testid="credit-returned">\s*Ajouté à votre avoir disponible : 120,00\xa0€', page
    )
    assert "déjà réglée : son montant de 120,00\xa0€ TTC s'ajoute à votre avoir disponible" in page

    rows = tab_rows(client)
    assert "120,00\xa0€ ajoutés à votre avoir" in rows[invoice.number]
    assert 'status-paid">Ajouté à l&#x27;avoir' in rows[credit_note.number]
    tab = client.get("/billing/invoices/").content.decode()
    assert re.search(r'data-testid="credit-balance">\s*Avoir disponible : 120,00\xa0€', tab)


def test_the_invoice_page_reads_its_credit_notes_in_a_fixed_number_of_queries(
    owner, invoice, client_for
):
    client = client_for(owner)
    url = f"/billing/invoices/{invoice.number}/"

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    credit(invoice, amount=Decimal("10.00"))
    few = queries()
    for _ in range(4):
        credit(invoice, amount=Decimal("10.00"))
    assert queries() == few


def test_the_transfer_qr_code_of_a_partly_credited_invoice_pays_what_is_left(
    owner, invoice, client_for
):
    import io

    import zxingcpp
    from PIL import Image

    from invoices.payment_qr import epc_qr

    def paid_amount(document):
        image = io.BytesIO()
        epc_qr(document).save(image, kind="png", scale=8)
        (result,) = zxingcpp.read_barcodes(Image.open(image))
        return Decimal(result.text.split("\n")[7].removeprefix("EUR"))

    assert paid_amount(invoice) == Decimal("1080.00")
    credit(invoice, amount=Decimal("100.00"))
    assert paid_amount(fresh(invoice)) == Decimal("960.00")
    page = client_for(owner).get(f"/billing/invoices/{invoice.number}/").content.decode()
    assert f"QR code de virement de 960,00\xa0€ pour la facture {invoice.number}" in page
    credit(invoice, amount=Decimal("800.00"))
    assert epc_qr(fresh(invoice)) is None
