"""The invoice lifecycle: the dated status history, the platform's statuses support records
(one by one or from a CSV file), their consequences, and the owner's view of it."""

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from invoices.models import Invoice, InvoiceStatusEvent
from invoices.services import (
    credit_note_issue,
    invoice_lifecycle_import,
    invoice_lifecycle_record,
    invoice_mark_paid,
)
from tests.factories import OrganisationFactory

Code = InvoiceStatusEvent.Code
Source = InvoiceStatusEvent.Source
LIFECYCLE_IMPORT = reverse("admin:invoices_invoice_lifecycle_import")


def codes(invoice):
    return list(
        InvoiceStatusEvent.objects.filter(invoice=invoice)
        .order_by("occurred_at", "id")
        .values_list("code", flat=True)
    )


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def yesterday():
    return timezone.localdate() - timedelta(days=1)


@pytest.fixture
def invoice(owner, issue):
    """Issued yesterday: « émise » at the start of that day, before any status below."""
    return issue(owner.organisation, issue_date=yesterday())


def record(invoice, status, when=None, *, actor, note=""):
    return invoice_lifecycle_record(
        invoice=invoice,
        status=status,
        occurred_at=when or ago(minutes=1),
        source=Source.PLATFORM,
        actor=actor,
        note=note,
    )


# --- The portal's own statuses -------------------------------------------------------------


def test_issuing_paying_and_cancelling_write_the_history(owner, issue, support_user):
    paid = issue(owner.organisation, actor=support_user, by_support=True)
    event = paid.status_events.get()
    assert (event.code, event.source, event.actor) == (Code.ISSUED, Source.PORTAL, support_user)

    invoice_mark_paid(invoice=paid, actor=support_user, by_support=True)
    invoice_mark_paid(invoice=paid, actor=support_user, by_support=True)  # already paid
    # « Encaissée » follows from the recorded payment, once.
    assert codes(paid) == [Code.ISSUED, Code.PAID, Code.CASHED]

    voided = issue(owner.organisation)
    credit_note = credit_note_issue(invoice=voided, actor=support_user, reason="En double")
    assert codes(voided) == [Code.ISSUED, Code.VOID]
    assert codes(credit_note) == [Code.ISSUED]


def test_a_backdated_invoice_is_issued_at_the_start_of_its_day(owner, issue):
    day = timezone.localdate() - timedelta(days=3)
    invoice = issue(owner.organisation, issue_date=day)
    event = invoice.status_events.get()
    assert timezone.localtime(event.occurred_at).date() == day
    assert timezone.localtime(event.occurred_at).time() == datetime.min.time()


# --- Recording the platform's statuses -----------------------------------------------------


@pytest.mark.parametrize("status", ["200", "Déposée", "deposee", "  DÉPOSÉE "])
def test_a_status_is_recorded_by_code_or_french_label(invoice, support_user, status):
    event = record(invoice, status, actor=support_user, note="  dépôt   PA  ")
    assert (event.code, event.source, event.actor) == (
        Code.DEPOSITED,
        Source.PLATFORM,
        support_user,
    )
    assert event.note == "dépôt PA"
    audit = AuditEvent.objects.get(action="invoice.lifecycle")
    assert audit.actor == support_user and audit.actor_label.startswith("support: ")
    assert audit.after["number"] == invoice.number and audit.after["status"] == "200"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("999", "Statut inconnu"),
        ("payée", "statut du portail"),
        ("issued", "statut du portail"),
        ("212", "découle du paiement"),
        ("Encaissée", "découle du paiement"),
    ],
)
def test_unknown_portal_and_cashed_statuses_are_refused(invoice, support_user, status, message):
    with pytest.raises(ValidationError, match=message):
        record(invoice, status, actor=support_user)
    assert codes(invoice) == [Code.ISSUED]
    assert not AuditEvent.objects.filter(action="invoice.lifecycle").exists()


def test_a_status_cannot_be_dated_in_the_future_or_before_the_issue(invoice, support_user):
    with pytest.raises(ValidationError, match="futur"):
        record(invoice, "200", timezone.now() + timedelta(minutes=5), actor=support_user)
    with pytest.raises(ValidationError, match="précéder"):
        record(invoice, "200", ago(days=2), actor=support_user)
    assert codes(invoice) == [Code.ISSUED]


@pytest.mark.parametrize(
    ("first", "then", "message"),
    [
        ("210", "205", "aucun statut ne peut suivre"),  # nothing after a refusal
        ("213", "200", "aucun statut ne peut suivre"),  # nothing after a rejection
        ("205", "213", "ne peut pas être « Rejetée »"),  # approved, so not rejected
        ("205", "210", "ne peut pas être « Refusée »"),  # approved and refused exclude
        ("200", "200", "déjà « Déposée »"),  # a status once
    ],
)
def test_transitions_that_make_no_sense_are_refused(invoice, support_user, first, then, message):
    record(invoice, first, ago(minutes=10), actor=support_user)
    before = codes(invoice)
    with pytest.raises(ValidationError, match=message):
        record(invoice, then, ago(minutes=5), actor=support_user)
    assert codes(invoice) == before


def test_nothing_is_recorded_after_the_payment(invoice, support_user):
    invoice_mark_paid(invoice=invoice)
    with pytest.raises(ValidationError, match="Encaissée"):
        record(invoice, "205", timezone.now(), actor=support_user)


def test_a_status_dated_before_the_payment_is_still_recorded(invoice, support_user):
    """The platform's « Déposée » often arrives after the payment was recorded."""
    deposited_at = ago(minutes=30)
    invoice_mark_paid(invoice=invoice)
    record(invoice, "200", deposited_at, actor=support_user)
    assert codes(invoice) == [Code.ISSUED, Code.DEPOSITED, Code.PAID, Code.CASHED]


def test_the_same_status_at_the_same_time_again_changes_nothing(invoice, support_user):
    when = ago(minutes=3)
    first = record(invoice, "200", when, actor=support_user)
    again = record(invoice, "Déposée", when, actor=support_user)
    assert again.pk == first.pk
    assert AuditEvent.objects.filter(action="invoice.lifecycle").count() == 1


def test_rejected_invoice_is_deemed_not_issued_and_keeps_its_number(
    owner, invoice, issue, support_user
):
    record(invoice, "213", actor=support_user, note="SIREN du client invalide")
    invoice.refresh_from_db()
    # Void without a credit note: nothing is owed, and the number stays used.
    assert invoice.status == Invoice.Status.VOID
    assert not invoice.corrections.exists()
    assert AuditEvent.objects.filter(action="invoice.rejected").count() == 1
    with pytest.raises(ValidationError, match="rejetée par la plateforme"):
        credit_note_issue(invoice=invoice, actor=support_user, reason="Rejet")
    with pytest.raises(ValidationError):
        invoice_mark_paid(invoice=invoice)
    # The corrected invoice takes the next number: the series has no gap.
    corrected = issue(owner.organisation)
    assert corrected.sequence == invoice.sequence + 1


def test_refused_invoice_stays_due_until_its_credit_note(invoice, support_user):
    record(invoice, "Refusée", actor=support_user, note="Montant contesté")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    credit_note_issue(invoice=invoice, actor=support_user, reason="Refusée par le client")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.VOID
    assert codes(invoice) == [Code.ISSUED, Code.REFUSED, Code.VOID]


@pytest.mark.parametrize("status", ["210", "213"])
def test_only_a_due_invoice_can_be_refused_or_rejected(invoice, support_user, status):
    """A paid invoice: the buyer paid it, the platform delivered it."""
    deposited_at = ago(minutes=5)
    invoice_mark_paid(invoice=invoice)
    with pytest.raises(ValidationError, match="« Encaissée » ne peut pas être"):
        record(invoice, status, deposited_at, actor=support_user)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_a_credit_note_cannot_be_refused(owner, issue, support_user):
    credit_note = credit_note_issue(
        invoice=issue(owner.organisation), actor=support_user, reason="En double"
    )
    with pytest.raises(ValidationError, match="Seule une facture à payer"):
        record(credit_note, "210", actor=support_user)


# --- The CSV import ------------------------------------------------------------------------


@pytest.fixture
def invoices(owner, issue):
    return [issue(owner.organisation, issue_date=yesterday()) for _ in range(3)]


def csv_of(*rows, header=True):
    lines = (["invoice_number,status,occurred_at,note"] if header else []) + list(rows)
    return ("\n".join(lines) + "\n").encode()


def stamp(minutes):
    return timezone.localtime(ago(minutes=minutes)).strftime("%Y-%m-%d %H:%M")


def good_rows(invoices):
    a, b, c = (invoice.number for invoice in invoices)
    return [
        f"{a},200,{stamp(30)},",
        f"{a},Approuvée,{stamp(20)},bon pour paiement",
        f"{b},déposée,{stamp(30)}",
        f"{c},213,{stamp(10)},REJ_SEMAN",
    ]


def test_a_good_file_records_every_row(invoices, support_user):
    result = invoice_lifecycle_import(data=csv_of(*good_rows(invoices)), actor=support_user)
    assert (result.recorded, result.unchanged) == (4, 0)
    assert result.rejected == [invoices[2].number] and result.refused == []
    assert codes(invoices[0]) == [Code.ISSUED, Code.DEPOSITED, Code.APPROVED]
    assert InvoiceStatusEvent.objects.filter(source=Source.IMPORT).count() == 4
    invoices[2].refresh_from_db()
    assert invoices[2].status == Invoice.Status.VOID
    # Importing the same file again records nothing new.
    again = invoice_lifecycle_import(data=csv_of(*good_rows(invoices)), actor=support_user)
    assert (again.recorded, again.unchanged) == (0, 4)


def test_semicolons_a_bom_and_french_dates_are_read(invoices, support_user):
    today = timezone.localdate().strftime("%d/%m/%Y")
    data = "\ufeff" + f"{invoices[0].number};Déposée;{today};dépôt\n"
    result = invoice_lifecycle_import(data=data.encode(), actor=support_user)
    assert result.recorded == 1


BAD_ROWS = {
    "unknown status": "{n},999,{t},",
    "unreadable date": "{n},200,hier,",
    "unknown invoice": "INV-999999,200,{t},",
    "too many columns": "{n},200,{t},note,extra",
    "a transition refused": "{n},213,{t},",  # rows before approve the same invoice
    "a date in the future": "{n},205,2999-01-01,",
}


@pytest.mark.parametrize("kind", sorted(BAD_ROWS))
@pytest.mark.parametrize("position", [0, 2, 4])
def test_one_bad_row_anywhere_saves_nothing(invoices, support_user, kind, position):
    rows = good_rows(invoices)
    bad = BAD_ROWS[kind].format(n=invoices[0].number, t=stamp(5))
    rows.insert(position, bad)
    events, audits = InvoiceStatusEvent.objects.count(), AuditEvent.objects.count()
    statuses = list(Invoice.objects.order_by("pk").values_list("status", flat=True))
    with pytest.raises(ValidationError) as caught:
        invoice_lifecycle_import(data=csv_of(*rows), actor=support_user)
    line = position + 2  # the header is line 1
    assert any(message.startswith(f"Ligne {line} ") for message in caught.value.messages), (
        caught.value.messages
    )
    assert InvoiceStatusEvent.objects.count() == events
    assert AuditEvent.objects.count() == audits
    assert list(Invoice.objects.order_by("pk").values_list("status", flat=True)) == statuses


def test_every_bad_row_is_listed_in_file_order(invoices, support_user):
    n = invoices[0].number
    data = csv_of(f"{n},999,{stamp(5)}", f"{n},200,{stamp(5)}", f"{n},200,demain", header=False)
    with pytest.raises(ValidationError) as caught:
        invoice_lifecycle_import(data=data, actor=support_user)
    assert [m.split(" :")[0] for m in caught.value.messages] == ["Ligne 1", "Ligne 3"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "vide"),
        (b"  \n\n", "vide"),
        (b"invoice_number,status,occurred_at\n", "aucune ligne"),
        (b"%PDF-1.7\x00\x01\x02", "pas un fichier CSV"),
        ("INV-1,Déposée,2026-01-01\n".encode("latin-1"), "UTF-8"),
        (b'INV-1,"200,2026-01-01\n', "illisible|colonnes"),
        (b"x" * (1024 * 1024 + 1), "1 Mo"),
    ],
)
def test_a_malformed_file_is_refused_with_a_clear_message(invoices, support_user, data, message):
    events = InvoiceStatusEvent.objects.count()
    with pytest.raises(ValidationError, match=message):
        invoice_lifecycle_import(data=data, actor=support_user)
    assert InvoiceStatusEvent.objects.count() == events


def test_another_accounts_invoice_is_refused_when_the_account_is_given(
    invoices, issue, support_user
):
    stranger = issue(OrganisationFactory())
    data = csv_of(f"{invoices[0].number},200,{stamp(5)}", f"{stranger.number},200,{stamp(5)}")
    with pytest.raises(ValidationError, match=f"Ligne 3 : facture {stranger.number} introuvable"):
        invoice_lifecycle_import(
            data=data, actor=support_user, organisation=invoices[0].organisation
        )
    assert codes(invoices[0]) == [Code.ISSUED]


# --- The support console -------------------------------------------------------------------


def test_support_records_a_status_from_the_invoice_page(client, invoice, support_user):
    client.force_login(support_user)
    page = client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk])).content.decode()
    url = reverse("admin:invoices_invoice_lifecycle", args=[invoice.pk])
    assert f'href="{url}"' in page
    assert "Historique des statuts" in page

    response = client.post(
        url,
        {"status": "210", "occurred_at": stamp(2).replace(" ", "T"), "note": "Montant contesté"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse(
        "admin:invoices_invoice_change", args=[invoice.pk]
    )
    html = response.content.decode()
    assert "Annulez-la par un avoir" in html
    assert "Montant contesté" in html  # the inline history
    event = invoice.status_events.get(code=Code.REFUSED)
    assert event.actor == support_user and event.source == Source.PLATFORM


def test_a_refused_transition_shows_on_the_form(client, invoice, support_user):
    client.force_login(support_user)
    url = reverse("admin:invoices_invoice_lifecycle", args=[invoice.pk])
    response = client.post(url, {"status": "200", "occurred_at": "2999-01-01T10:00"})
    assert response.status_code == 200
    assert "futur" in response.content.decode()
    assert codes(invoice) == [Code.ISSUED]


def upload(client, data, name="statuts.csv", **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        LIFECYCLE_IMPORT, {"file": SimpleUploadedFile(name, data, "text/csv"), **extra}
    )


def test_support_imports_a_good_file(client, invoices, support_user):
    client.force_login(support_user)
    assert (
        reverse("admin:invoices_invoice_lifecycle_import")
        in client.get(reverse("admin:invoices_invoice_changelist")).content.decode()
    )
    response = upload(client, csv_of(*good_rows(invoices)))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "4 statut(s) enregistré(s)" in page
    assert invoices[2].number in page and "Rejetée par la plateforme" in page


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"INV-999999,200,2026-01-01\n", "Ligne 1 : facture INV-999999 introuvable"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "pas un fichier CSV"),
        (b"x" * (1024 * 1024 + 10), "1 Mo"),
        ("a,é,b\n".encode("utf-16"), "pas un fichier CSV"),
    ],
)
def test_a_bad_upload_shows_its_errors_and_saves_nothing(
    client, invoices, support_user, data, shown
):
    client.force_login(support_user)
    events = InvoiceStatusEvent.objects.count()
    response = upload(client, data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Rien n'a été enregistré" in html and shown in html
    assert InvoiceStatusEvent.objects.count() == events


def test_an_upload_without_a_file_is_the_form_again(client, support_user):
    client.force_login(support_user)
    response = client.post(LIFECYCLE_IMPORT, {})
    assert response.status_code == 200


def test_staff_without_the_change_permission_cannot_record(client, invoice):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client.force_login(viewer)
    assert client.get(LIFECYCLE_IMPORT).status_code == 403
    url = reverse("admin:invoices_invoice_lifecycle", args=[invoice.pk])
    assert client.post(url, {"status": "200", "occurred_at": stamp(1)}).status_code == 403
    assert codes(invoice) == [Code.ISSUED]


# --- The owner's invoice page --------------------------------------------------------------


def test_the_owner_sees_the_history(client_for, owner, invoice, support_user):
    record(invoice, "200", ago(minutes=20), actor=support_user)
    record(invoice, "210", ago(minutes=10), actor=support_user, note="Montant contesté")
    client = client_for(owner)
    url = reverse("portal:invoice_detail", args=[invoice.number])
    html = client.get(url).content.decode()
    assert "Historique des statuts" in html
    for text in ("Émise", "200 Déposée", "210 Refusée", "Montant contesté", "Plateforme agréée"):
        assert text in html
    assert "elle sera annulée par un avoir" in html
    assert "support@example.com" not in html  # who typed it is not the owner's business

    client.cookies["django_language"] = "en"
    html = client.get(url, headers={"accept-language": "en"}).content.decode()
    for text in ("Status history", "Issued", "200 Deposited", "210 Refused", "Approved platform"):
        assert text in html


def test_the_invoice_page_runs_the_same_queries_whatever_the_history(
    client_for, owner, invoice, support_user
):
    client = client_for(owner)
    url = reverse("portal:invoice_detail", args=[invoice.number])

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    short = queries()
    record(invoice, "200", ago(minutes=20), actor=support_user)
    record(invoice, "205", ago(minutes=10), actor=support_user)
    invoice_mark_paid(invoice=invoice)
    assert queries() == short


# --- The migration's backfill --------------------------------------------------------------


def test_the_backfill_writes_the_portal_history_of_older_invoices(owner, issue, support_user):
    from importlib import import_module

    from django.apps import apps

    backfill = import_module("invoices.migrations.0004_invoice_status_events").backfill
    day = yesterday()
    open_one = issue(owner.organisation, issue_date=day)
    paid = issue(owner.organisation, issue_date=day)
    invoice_mark_paid(invoice=paid, actor=support_user, by_support=True)
    voided = issue(owner.organisation, issue_date=day)
    credit_note = credit_note_issue(invoice=voided, actor=support_user, reason="En double")
    paid_at = paid.status_events.get(code=Code.PAID).occurred_at
    InvoiceStatusEvent.objects.all().delete()  # as before the migration

    backfill(apps, None)

    assert codes(open_one) == [Code.ISSUED]
    assert codes(paid) == [Code.ISSUED, Code.PAID, Code.CASHED]
    assert codes(voided) == [Code.ISSUED, Code.VOID]
    assert codes(credit_note) == [Code.ISSUED]
    issued = open_one.status_events.get()
    assert timezone.localtime(issued.occurred_at).date() == day
    # Dated by the audit event that recorded the payment.
    assert abs(paid.status_events.get(code=Code.PAID).occurred_at - paid_at) < timedelta(seconds=5)
    assert all(e.source == Source.PORTAL for e in InvoiceStatusEvent.objects.all())
