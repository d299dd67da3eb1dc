"""The demo data (`manage.py seed_demo`, run by `make run`)."""

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuditEvent, Organisation
from accounts.selectors import recent_activity
from invoices.models import Invoice


def test_demo_history_reads_like_the_accounts_past(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    lyon = Organisation.objects.get(name="Festival International du Film de Lyon")
    latest = Invoice.objects.get(number="INV-10682")
    assert latest.organisation == lyon and latest.status == "open"
    # Lyon shows the buyer's details of decree 2022-1299 and its purchase order.
    assert (latest.buyer_siren, latest.order_reference) == ("732829320", "BC-2026-0142")
    assert latest.delivery_address_lines[:3] == [
        "Institut Lumière",
        "25 rue du Premier-Film",
        "69008 Lyon",
    ]
    activity = recent_activity(organisation=lyon)
    # Newest first, each invoice's event on its own issue date (not all at seeding time).
    assert activity[0]["detail"].startswith("INV-10682 du ")
    days = [timezone.localtime(event["when"]).date() for event in activity]
    assert days == sorted(days, reverse=True) and len(set(days)) == len(days)
    issued = AuditEvent.objects.filter(organisation=lyon, action="invoice.issued")
    for event in issued:
        invoice = Invoice.objects.get(number=event.after["number"])
        assert timezone.localtime(event.created_at).date() == invoice.issue_date
    # The paid ones were paid by a transfer twelve days after their issue.
    paid = Invoice.objects.filter(organisation=lyon, status="paid", kind="invoice")
    assert paid.count() == 11
    for invoice in paid:
        payment = invoice.allocations.get().payment
        assert payment.amount == invoice.total and invoice.amount_paid == invoice.total
        assert invoice.paid_on == payment.received_on
        assert payment.received_on == min(
            invoice.issue_date + timedelta(days=12), timezone.localdate()
        )
    # Idempotent: a second run adds nothing.
    count = AuditEvent.objects.count()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert AuditEvent.objects.count() == count
