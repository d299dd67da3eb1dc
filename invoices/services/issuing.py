"""Issuing an invoice: the one way an invoice comes to exist.

Renewals, upgrades, support and the demo all call `invoice_issue`. The amounts come from
invoices.totals, which previews them without writing; the numbering, the snapshots and the
email are shared with credit notes (documents.py).
"""

from collections.abc import Sequence
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Organisation
from webhooks.services import webhook_emit

from .. import exchange_rates, hooks
from ..models import Invoice, InvoiceStatusEvent
from ..totals import LineSpec, compute, invoice_currency, organisation_tax_rule
from ..webhooks import invoice_data
from .documents import _audit_after, _buyer_snapshot, _document_create, _document_send
from .history import lifecycle_day_time, lifecycle_portal_event

PAYMENT_TERM = timedelta(days=30)


@transaction.atomic
def invoice_issue(
    *,
    organisation: Organisation,
    lines: Sequence[LineSpec],
    currency: str | None = None,
    issue_date: date | None = None,
    service_date: date | None = None,
    actor=None,
    by_support: bool = False,
    ip: str | None = None,
) -> Invoice:
    """Issue an invoice to `organisation`, numbered, snapshotted, final.

    The account's credit balance, if any, pays it at once (invoices.hooks.invoice_issued,
    filled by payments). After commit its PDF is rendered (invoices.tasks) and it is
    emailed, PDF attached, to the account owner and billing contacts. Raises
    ValidationError for a date before the last issued invoice or in the future, or with VAT
    in another currency than the euro when no recent exchange rate is known
    (invoices.exchange_rates), ValueError for malformed lines or a negative total (a
    correction is a credit note: `credit_note_issue`).

    Every line is dated (decree 2022-1299): by its period, or, for a one-off service, by
    `service_date`, the day it was rendered — the issue date when not given.
    """
    # Lock the account: the snapshot must not interleave with an address or VAT change.
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    today = timezone.localdate()
    issue_date = issue_date or today
    if issue_date > today:
        raise ValidationError({"issue_date": _("Une facture ne peut pas être datée du futur.")})
    currency = invoice_currency(organisation, currency)
    language = organisation.language or settings.LANGUAGE_CODE
    with translation.override(language):
        totals = compute(lines, organisation_tax_rule(organisation), currency)
        buyer = _buyer_snapshot(organisation, language)
    if totals.total < 0:
        raise ValueError("An invoice total cannot be negative: issue a credit note.")
    # Before a number is taken: refused without the day's exchange rate, nothing written.
    euro_vat = exchange_rates.euro_vat(
        currency=currency, vat_amount=totals.vat_amount, day=issue_date
    )

    invoice = _document_create(
        organisation=organisation,
        kind=Invoice.Kind.INVOICE,
        status=Invoice.Status.OPEN,
        issue_date=issue_date,
        due_date=issue_date + PAYMENT_TERM,
        language=language,
        totals=totals,
        buyer=buyer,
        service_date=service_date or issue_date,
        euro_vat=euro_vat,
    )
    audit_record(
        organisation=organisation,
        action="invoice.issued",
        actor=actor,
        support=by_support,
        after=_audit_after(invoice),
        ip=ip,
    )
    lifecycle_portal_event(
        invoice=invoice,
        code=InvoiceStatusEvent.Code.ISSUED,
        actor=actor,
        occurred_at=lifecycle_day_time(issue_date),
    )
    # Before the credit balance may pay it: the host hears « issued », then « paid ».
    webhook_emit("invoice.issued", invoice_data(invoice))
    if hooks.invoice_issued.handlers:
        # The account's credit balance pays what it can (payments); the email says so.
        hooks.invoice_issued(invoice=invoice, actor=actor)
        invoice = Invoice.objects.get(pk=invoice.pk)
    _document_send(invoice, organisation)
    return invoice
