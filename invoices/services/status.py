"""An issued document's status and what payments settled of it: the columns that change
after issue (status, amount paid, paid date)."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record, audit_record_many
from billing_portal.bulk import rows_insert, rows_update
from webhooks.services import webhook_emit, webhook_emit_many

from ..models import Invoice, InvoiceStatusEvent
from ..selectors import SETTLEMENT_FIELDS, with_credit_sums
from ..webhooks import invoice_data
from .history import lifecycle_day_time, lifecycle_portal_event


def _set_status(
    *,
    invoice,
    new: str,
    allowed_from: set[str],
    action: str,
    actor,
    by_support,
    ip,
    extra=None,
    events=(),
    columns=None,
    occurred_at=None,
):
    """Change the status (and `columns` with it), audit it, and add `events` (portal steps)
    to the history, dated `occurred_at` (now by default)."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status == new:
        return locked
    if locked.status not in allowed_from:
        raise ValidationError(
            _("Une facture « %(status)s » ne peut pas passer à « %(new)s ».")
            % {"status": locked.get_status_display(), "new": Invoice.Status(new).label}
        )
    # The immutability guard lets exactly these columns change.
    Invoice.objects.filter(pk=locked.pk).update(status=new, **(columns or {}))
    audit_record(
        organisation=locked.organisation,
        action=action,
        actor=actor,
        support=by_support,
        before={"number": locked.number, "status": locked.status},
        after={"number": locked.number, "status": new, **(extra or {})},
        ip=ip,
    )
    for code in events:
        lifecycle_portal_event(invoice=locked, code=code, actor=actor, occurred_at=occurred_at)
    return Invoice.objects.get(pk=locked.pk)


def _paid(paid_on: date) -> dict:
    """What becoming paid changes, records and adds to the history: one place for
    invoice_mark_paid and invoices_payments_record."""
    return {
        "new": Invoice.Status.PAID,
        "action": "invoice.paid",
        "extra": {"paid_on": paid_on.isoformat()},
        # « Encaissée » (212), the status the seller transmits for services: it follows
        # from the payment, on the payment's date.
        "events": (InvoiceStatusEvent.Code.PAID, InvoiceStatusEvent.Code.CASHED),
        "columns": {"paid_on": paid_on},
        "occurred_at": lifecycle_day_time(paid_on),
    }


@transaction.atomic
def invoice_mark_paid(
    *,
    invoice: Invoice,
    paid_on: date | None = None,
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
) -> Invoice:
    """Record that an open invoice was paid on `paid_on` (the payment's date; today when not
    given). The payments app calls it when allocations settle the invoice in full."""
    paid_on = _paid_on_checked(paid_on or timezone.localdate())
    was_paid = (
        Invoice.objects.select_for_update()
        .filter(pk=invoice.pk, status=Invoice.Status.PAID)
        .exists()
    )
    invoice = _set_status(
        invoice=invoice,
        allowed_from={Invoice.Status.OPEN},
        actor=actor,
        by_support=by_support,
        ip=ip,
        **_paid(paid_on),
    )
    if not was_paid:
        webhook_emit("invoice.paid", invoice_data(invoice))
    return invoice


def _paid_on_checked(paid_on: date) -> date:
    if paid_on > timezone.localdate():
        raise ValidationError({"paid_on": _("Un paiement ne peut pas être daté du futur.")})
    return paid_on


def invoice_settled_by(invoice: Invoice, amount_paid: Decimal) -> bool:
    """Whether payments of `amount_paid` settle `invoice` in full, so that, open, it becomes
    paid: what payments must settle is its total less what credit notes took off it. Nothing
    asked (credited in full) is not « paid »: credit_note_issue voids the invoice. The
    payments app asks it too, to know what a payment leaves of an invoice before writing."""
    asked = invoice.total - invoice.credited
    return invoice.status == Invoice.Status.OPEN and asked > 0 and amount_paid >= asked


@transaction.atomic
def invoice_payments_record(
    *,
    invoice: Invoice,
    amount_paid: Decimal,
    paid_on: date | None,
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
) -> Invoice:
    """What payments have settled of `invoice` now: `amount_paid`, the sum of the
    allocations to it (the payments app computes it, in the transaction that changes them),
    and `paid_on`, the date of the payment that completes it.

    Settled in full (its total less its credit notes), an open invoice becomes paid
    (« Payée » and « Encaissée » on that date). An allocation undone below that makes a paid
    invoice open again (« Paiement annulé »); a credit note that gives paid money back
    lowers `amount_paid` with what the invoice asks, and it stays paid. A void invoice takes
    nothing more; a credit note is never paid. invoices_payments_record with one invoice.
    """
    return invoices_payments_record(
        settlements=[(invoice, amount_paid, paid_on)],
        actor=actor,
        by_support=by_support,
        ip=ip,
    )[invoice.pk]


@transaction.atomic
def invoices_payments_record(
    *,
    settlements: Sequence[tuple[Invoice, Decimal, date | None]],
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
) -> dict[int, Invoice]:
    """invoice_payments_record for many invoices at once, each given (invoice, amount_paid,
    paid_on), in a fixed number of queries whatever their number: one lock, one UPDATE, the
    audit events and the history steps of the invoices that became paid each in one INSERT
    (a bank statement's payments). An invoice given twice takes its last amount. Returns the
    invoices as they now are, by pk.

    All or nothing: ValidationError for the first invoice that may not take its amount.
    """
    wanted = {invoice.pk: (amount_paid, paid_on) for invoice, amount_paid, paid_on in settlements}
    locked = {
        invoice.pk: invoice
        for invoice in with_credit_sums(
            Invoice.objects.select_for_update(of=("self",))
            .select_related("organisation")
            .only(*SETTLEMENT_FIELDS, "organisation__name")
            .filter(pk__in=wanted)
            .order_by("pk")
        )
    }
    changed, paid, unpaid = {}, [], []
    for pk, (amount_paid, paid_on) in wanted.items():
        invoice = locked[pk]
        _payments_allowed(invoice, amount_paid)
        before, invoice.amount_paid = invoice.amount_paid, amount_paid
        if amount_paid != before:
            changed[pk] = invoice
        if invoice_settled_by(invoice, amount_paid):
            change = _paid(_paid_on_checked(paid_on or timezone.localdate()))
            paid.append((invoice, change))
            invoice.status = change["new"]
            for column, value in change["columns"].items():
                setattr(invoice, column, value)
            changed[pk] = invoice
        # Paid by its allocations (not ticked before payments were recorded), and no more.
        elif (
            invoice.status == Invoice.Status.PAID
            and before >= invoice.total - invoice.credited > amount_paid
        ):
            unpaid.append(invoice)
    # The immutability guard (MUTABLE_AFTER_ISSUE) lets exactly these columns change.
    rows_update(Invoice, list(changed.values()), ["amount_paid", "status", "paid_on"])
    audit_record_many(
        events=[
            {
                "organisation": invoice.organisation,
                "action": change["action"],
                "actor": actor,
                "support": by_support,
                "before": {"number": invoice.number, "status": Invoice.Status.OPEN},
                "after": {"number": invoice.number, "status": change["new"], **change["extra"]},
                "ip": ip,
            }
            for invoice, change in paid
        ]
    )
    rows_insert(
        InvoiceStatusEvent,
        [
            InvoiceStatusEvent(
                invoice=invoice,
                code=code,
                occurred_at=change["occurred_at"],
                source=InvoiceStatusEvent.Source.PORTAL,
                actor=actor,
            )
            for invoice, change in paid
            for code in change["events"]
        ],
    )
    webhook_emit_many(("invoice.paid", invoice_data(invoice)) for invoice, _change in paid)
    for invoice in unpaid:
        locked[invoice.pk] = _set_status(
            invoice=invoice,
            new=Invoice.Status.OPEN,
            allowed_from={Invoice.Status.PAID},
            action="invoice.unpaid",
            actor=actor,
            by_support=by_support,
            ip=ip,
            extra={"amount_paid": str(invoice.amount_paid)},
            events=(InvoiceStatusEvent.Code.UNPAID,),
            columns={"paid_on": None},
        )
    return locked


def _payments_allowed(invoice: Invoice, amount_paid: Decimal) -> None:
    if invoice.is_credit_note:
        raise ValidationError(
            _("%(number)s est un avoir : il ne reçoit pas de paiement.")
            % {"number": invoice.number}
        )
    if amount_paid < 0 or amount_paid > invoice.total:
        raise ValidationError(
            _("Le montant réglé de %(number)s doit être entre zéro et son total.")
            % {"number": invoice.number}
        )
    if amount_paid > invoice.amount_paid and invoice.status != Invoice.Status.OPEN:
        raise ValidationError(
            _("La facture %(number)s est « %(status)s » : elle ne reçoit plus de paiement.")
            % {"number": invoice.number, "status": invoice.status_label}
        )
