"""Support's console for direct debits: the export page, the file download, and returns in
the reconciliation queue. Through the services, with a message for bad input, never a 500."""

import threading
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from payments import pain008
from payments.models import Collection, DirectDebitExport
from payments.services import direct_debit_export, statement_import

from .conftest import invoice
from .direct_debit import collection, entry, mandate, statement, transaction

EXPORT_URL = "admin:payments_directdebitexport_export"


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


@pytest.fixture
def day():
    return timezone.localdate() + timedelta(days=20)


@pytest.fixture
def notified(owner, day):
    debit = mandate(owner.organisation)
    return [
        collection(
            invoice(owner.organisation, number, total), debit, collect_on=day, status="notified"
        )
        for number, total in [("INV-10682", "7200.00"), ("INV-10683", "600.00")]
    ]


def test_support_exports_a_date_and_downloads_the_file(support, support_user, notified, day):
    page = unescape(support.get(reverse(EXPORT_URL)).content.decode())
    assert day.strftime("%d/%m/%Y") in page and "7\xa0800,00\xa0€" in page
    assert "Créer le fichier pain.008" in page
    response = support.post(reverse(EXPORT_URL), {"collect_on": day.isoformat(), "scheme": "CORE"})
    made = DirectDebitExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:payments_directdebitexport_change", args=[made.pk]
    )
    shown = unescape(support.get(response["Location"]).content.decode())
    assert "2 prélèvement(s), 7\xa0800,00\xa0€" in shown and "Télécharger" in shown
    download = support.get(reverse("admin:payments_directdebitexport_download", args=[made.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/xml"
    assert f'filename="{made.message_id}.xml"' in download["Content-Disposition"]
    assert pain008.errors(download.content) == []
    assert set(Collection.objects.values_list("status", flat=True)) == {"exported"}
    assert AuditEvent.objects.get(action="direct_debit.exported").actor == support_user
    # The date is gone from the page: nothing is left to send for it.
    page = unescape(support.get(reverse(EXPORT_URL)).content.decode())
    assert "Aucun prélèvement pré-notifié à transmettre" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"collect_on": "", "scheme": "CORE"}, "Ce champ est obligatoire"),
        ({"collect_on": "2026-13-45", "scheme": "CORE"}, "Saisissez une date valide"),
        ({"collect_on": "2020-01-01", "scheme": "CORE"}, "doit être après aujourd'hui"),
        ({"collect_on": "2099-01-01", "scheme": "CORE"}, "Aucun prélèvement à transmettre"),
        ({"collect_on": "2099-01-01", "scheme": "XXX"}, "Sélectionnez un choix valide"),
    ],
)
def test_bad_input_gets_a_message_and_changes_nothing(support, notified, data, message):
    response = support.post(reverse(EXPORT_URL), data)
    assert response.status_code == 200
    assert message in unescape(response.content.decode())
    assert not DirectDebitExport.objects.exists()


def test_only_support_exports(client, owner, notified, day):
    client.force_login(owner.user)
    response = client.post(reverse(EXPORT_URL), {"collect_on": day.isoformat(), "scheme": "CORE"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not DirectDebitExport.objects.exists()


def test_a_return_in_the_queue_can_only_be_dismissed(support, owner):
    data = statement(
        entry(
            "80.00",
            transaction("SOMEONE-ELSES-1", "80.00", reason="MS03"),
            direction="DBIT",
            bank_ref="RET-X",
        )
    )
    statement_import(data=data, file_name="releve.xml", actor=None)
    page = unescape(support.get(reverse("admin:payments_bankentry_changelist")).content.decode())
    assert "−80,00\xa0€" in page
    assert "Rejet d'un prélèvement qui n'est pas en cours : SOMEONE-ELSES-1 MS03" in page
    assert "Écarter…" in page and "Imputer…" not in page


def test_the_import_message_counts_returns(support, owner, notified):
    Collection.objects.update(status="exported")
    returned = notified[0]
    data = statement(
        entry(
            "7200.00",
            transaction(returned.end_to_end_id, "7200.00", reason="AM04"),
            direction="DBIT",
            bank_ref="RET-1",
        )
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = support.post(
        reverse("admin:payments_bankstatement_import"),
        {"file": SimpleUploadedFile("releve.xml", data, content_type="application/xml")},
        follow=True,
    )
    assert "1 prélèvement rejeté lu." in unescape(response.content.decode())
    assert Collection.objects.get(pk=returned.pk).status == Collection.Status.RETURNED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_exports_at_once_never_take_a_collection_twice(owner, day):
    debit = mandate(owner.organisation)
    for number in range(10700, 10720):
        collection(
            invoice(owner.organisation, f"INV-{number}", "100.00"),
            debit,
            collect_on=day,
            status="notified",
        )
    barrier = threading.Barrier(2)
    outcomes = []

    def run():
        try:
            barrier.wait()
            outcomes.append(direct_debit_export(scheme="CORE", collect_on=day, actor=None))
        except Exception as exc:  # noqa: BLE001 - the outcome is what we assert on
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    files = [o for o in outcomes if isinstance(o, DirectDebitExport)]
    refused = [o for o in outcomes if not isinstance(o, DirectDebitExport)]
    assert len(files) == 1 and len(refused) == 1, outcomes
    assert "Aucun prélèvement à transmettre" in str(refused[0])
    assert files[0].count == 20
    assert Collection.objects.filter(export=files[0]).count() == 20
    assert DirectDebitExport.objects.count() == 1


def test_support_is_told_which_collections_were_left_out(support, owner, notified, day):
    from payments.services import payment_record

    payment_record(
        organisation=owner.organisation,
        amount="100.00",
        currency="EUR",
        received_on=timezone.localdate(),
        invoices=[notified[0].invoice],
    )
    response = support.post(
        reverse(EXPORT_URL), {"collect_on": day.isoformat(), "scheme": "CORE"}, follow=True
    )
    page = unescape(response.content.decode())
    assert "1 prélèvement(s), 600,00\xa0€" in page
    assert "Non transmis : INV-10682" in page
