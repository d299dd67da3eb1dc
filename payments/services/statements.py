"""Bank files in, payments out: importing a camt.053 or camt.054 file, and the
reconciliation queue support works from (assign an entry to an invoice, or dismiss it)."""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import iban as iban_number

from accounts.audit import audit_record
from accounts.models import Organisation
from billing_portal.bulk import rows_update
from billing_portal.collector import large_batch
from invoices.models import Invoice

from .. import camt, matching
from ..models import BankEntry, BankStatement, Collection, Payment
from . import _ledger
from .direct_debits import collection_confirm, collection_return
from .payments import Received, payment_record, payments_record

BATCH = 1000
# Matched credits are recorded this many at a time (payments_record): a fixed number of
# queries for each chunk, whatever the number of credits in it. 5,000 rather than 1,000:
# each chunk's fixed work (its locks, reads of open invoices, savepoints) five times less
# often, ~5 % of a 50,000-credit file's time (docs/payments.md, Scale).
CHUNK = 5000


def _our_accounts() -> set[str]:
    return {iban_number.compact(iban) for iban in settings.PAYMENTS_BANK_IBANS if iban}


def _check_accounts(bank_file: camt.BankFile) -> None:
    ours = _our_accounts()
    others = [iban for iban in bank_file.account_ibans if iban_number.compact(iban) not in ours]
    if others:
        raise ValidationError(
            _(
                "Ce fichier est celui du compte %(account)s, qui n'est pas un compte où les "
                "clients paient (%(ours)s) : rien n'a été importé."
            )
            % {"account": ", ".join(others), "ours": ", ".join(sorted(ours)) or "—"},
            code="bank_file",
        )


@transaction.atomic
def statement_import(*, data: bytes, file_name: str, actor, ip: str | None = None) -> BankStatement:
    """Import a camt.053 statement or camt.054 notification: each booked credit the bank
    has not reported before becomes a bank entry; a matched one records a payment
    (payments.matching; payments_record, CHUNK credits at a time, with the same result as
    payment_record one credit after the other), the others wait in the reconciliation
    queue.

    The whole file or nothing: a file with any problem (payments.camt: size, not XML, a
    DOCTYPE, another message or version, the XSD) raises ValidationError naming it, and
    nothing is written. A credit already imported (same bank reference, from this file or
    another, even from an import running at the same moment) is skipped: the unique index
    on `entry_key` decides, and the import that did not insert it records nothing for it.
    """
    with large_batch():
        return _imported(data=data, file_name=file_name, actor=actor, ip=ip)


def _imported(*, data: bytes, file_name: str, actor, ip: str | None) -> BankStatement:
    bank_file = camt.read(data)
    _check_accounts(bank_file)
    statement = BankStatement.objects.create(
        kind=bank_file.kind,
        version=bank_file.version,
        message_id=bank_file.message_id[:35],
        file_name=str(file_name or "")[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        account_iban=", ".join(bank_file.account_ibans)[:34],
        imported_by=actor,
    )
    # One row per credit: a credit listed twice in the file counts once.
    credits = {credit.key: credit for credit in bank_file.credits}
    # Inserted in key order: two imports of overlapping files wait on each other's keys in
    # the same order, and never deadlock.
    BankEntry.objects.bulk_create(
        [_entry(statement, credits[key]) for key in sorted(credits)],
        ignore_conflicts=True,
        batch_size=BATCH,
    )
    entries = list(BankEntry.objects.filter(statement=statement).order_by("pk"))
    collections = _collections(entries)
    matches = matching.match_entries(
        [e for e in entries if e.kind == BankEntry.Kind.CREDIT and e.pk not in collections]
    )
    for entry in entries:
        if entry.pk in collections:
            matches[entry.pk] = matching.Match(
                organisation_id=collections[entry.pk].invoice.organisation_id
            )
        elif entry.kind == BankEntry.Kind.RETURN:
            matches[entry.pk] = _unknown_return(entry)
    organisations = Organisation.objects.in_bulk(
        {m.organisation_id for m in matches.values() if m.organisation_id}
    )
    matched, queued, pending = 0, [], []

    def record_pending():
        payments_record(payments=pending, actor=actor, by_support=True, ip=ip)
        pending.clear()

    # One account after another, in the order of their ids (a collection's credit before
    # its return): the same lock order as any other import running at the same time.
    order = {BankEntry.Kind.CREDIT: 0, BankEntry.Kind.RETURN: 1}
    for entry in sorted(
        entries, key=lambda e: (matches[e.pk].organisation_id or 0, order[e.kind], e.pk)
    ):
        match = matches[entry.pk]
        if entry.pk in collections:
            record_pending()  # what comes before it first: the same order as one by one
            _collection_booked(entry, collections[entry.pk], actor=actor, ip=ip)
            entry.status, entry.rule = BankEntry.Status.MATCHED, BankEntry.Rule.COLLECTION
            matched += 1
            continue
        if match.organisation_id is None:
            entry.queue_reason, entry.queue_detail = match.reason, match.detail[:300]
            queued.append((entry, match.candidates))
            continue
        pending.append(
            Received(
                organisation=organisations[match.organisation_id],
                amount=entry.amount,
                currency=entry.currency,
                received_on=min(entry.booked_on, timezone.localdate()),
                method=Payment.Method.TRANSFER,
                payer_name=entry.payer_name,
                payer_iban=_payer_iban(entry.payer_iban),
                bank_reference=entry.bank_reference or entry.end_to_end_id,
                invoices=match.invoices,
                bank_entry=entry,
            )
        )
        entry.status, entry.rule = BankEntry.Status.MATCHED, match.rule
        matched += 1
        if len(pending) >= CHUNK:
            record_pending()
    record_pending()
    rows_update(BankEntry, entries, ["status", "rule", "queue_reason", "queue_detail"])
    Through = BankEntry.candidates.through
    Through.objects.bulk_create(
        [
            Through(bankentry_id=entry.pk, invoice_id=invoice.pk)
            for entry, candidates in queued
            for invoice in candidates[:20]
        ],
        batch_size=BATCH,
    )
    statement.returns = sum(1 for credit in bank_file.credits if credit.is_return)
    statement.credits = len(bank_file.credits) - statement.returns
    statement.new_entries = len(entries)
    statement.matched = matched
    statement.queued = len(queued)
    statement.ignored = bank_file.ignored
    statement.save(
        update_fields=["credits", "returns", "new_entries", "matched", "queued", "ignored"]
    )
    audit_record(
        organisation=None,
        action="bank_statement.imported",
        actor=actor,
        support=True,
        after={
            "file": statement.file_name,
            "kind": statement.version,
            "message_id": statement.message_id,
            "sha256": statement.sha256,
            "credits": statement.credits,
            "returns": statement.returns,
            "new": statement.new_entries,
            "matched": matched,
            "queued": statement.queued,
            "ignored": statement.ignored,
        },
        ip=ip,
    )
    return statement


def _collections(entries: list[BankEntry]) -> dict[int, Collection]:
    """The entries that are a collection's: a credit of the collection's exact amount
    while it is at the bank; a return of one at the bank or booked. Any other credit goes
    through the matching rules; any other return waits in the queue."""
    by_pk = {entry.pk: entry for entry in entries}
    found, booked, returned = {}, set(), set()
    for pk, collection in sorted(matching.collections_for(entries).items()):
        entry = by_pk[pk]
        if entry.kind == BankEntry.Kind.RETURN:
            if (
                collection.status in (Collection.Status.EXPORTED, Collection.Status.PAID)
                and collection.pk not in returned  # returned once
            ):
                found[pk] = collection
                returned.add(collection.pk)
        elif (
            collection.status == Collection.Status.EXPORTED
            and collection.pk not in booked  # a second credit for it is no collection
            and (entry.amount, entry.currency) == (collection.amount, collection.currency)
        ):
            found[pk] = collection
            booked.add(collection.pk)
    return found


def _unknown_return(entry: BankEntry) -> matching.Match:
    return matching.Match(
        reason=BankEntry.Reason.UNKNOWN_RETURN,
        detail=" ".join(filter(None, [entry.end_to_end_id, entry.return_reason])),
    )


def _collection_booked(entry: BankEntry, collection: Collection, *, actor, ip) -> None:
    if entry.kind == BankEntry.Kind.CREDIT:
        collection_confirm(collection=collection, entry=entry, actor=actor, ip=ip)
    else:
        collection_return(collection=collection, entry=entry, actor=actor, ip=ip)


def _payer_iban(value: str) -> str:
    # The bank's word, kept when it is a valid IBAN (a proprietary account id is not one).
    return (_ledger.valid_iban(value) or "") if value else ""


def _entry(statement: BankStatement, credit: camt.Credit) -> BankEntry:
    return BankEntry(
        statement=statement,
        entry_key=credit.key,
        account_iban=credit.account_iban[:34],
        bank_reference=credit.bank_reference,
        end_to_end_id=credit.end_to_end_id,
        amount=credit.amount,
        currency=credit.currency,
        booked_on=credit.booked_on,
        payer_name=credit.payer_name,
        payer_iban=credit.payer_iban[:34],
        creditor_reference=credit.creditor_reference[:35],
        remittance=credit.remittance,
        kind=BankEntry.Kind.RETURN if credit.is_return else BankEntry.Kind.CREDIT,
        return_reason=credit.return_reason,
        status=BankEntry.Status.QUEUED,
    )


def _locked_queued(entry: BankEntry) -> BankEntry:
    locked = BankEntry.objects.select_for_update().get(pk=entry.pk)
    if locked.status != BankEntry.Status.QUEUED:
        raise ValidationError(
            _("Cette écriture n'est plus à rapprocher : %(status)s.")
            % {"status": locked.get_status_display()}
        )
    return locked


@transaction.atomic
def bank_entry_assign(
    *,
    entry: BankEntry,
    invoice: Invoice | None = None,
    organisation: Organisation | None = None,
    actor,
    ip: str | None = None,
) -> Payment:
    """Support's answer for a queued entry: it pays `invoice` (then, like any payment, the
    account's oldest open invoices, then its credit), or, with `organisation` alone, it is
    that account's money (credit, or its open invoices). Records the payment; the entry
    leaves the queue."""
    entry = _locked_queued(entry)
    if entry.kind == BankEntry.Kind.RETURN:
        raise ValidationError(
            _(
                "Ce débit est le rejet d'un prélèvement : il ne paie aucune facture. "
                "Écartez-le une fois traité."
            )
        )
    if invoice is not None:
        if invoice.is_credit_note:
            raise ValidationError({"invoice": _("Un avoir ne reçoit pas de paiement.")})
        organisation = invoice.organisation
    if organisation is None:
        raise ValidationError({"invoice": _("Choisissez une facture ou un compte.")})
    payment = payment_record(
        organisation=organisation,
        amount=entry.amount,
        currency=entry.currency,
        received_on=min(entry.booked_on, timezone.localdate()),
        method=Payment.Method.TRANSFER,
        payer_name=entry.payer_name,
        payer_iban=_payer_iban(entry.payer_iban),
        bank_reference=entry.bank_reference or entry.end_to_end_id,
        invoices=[invoice] if invoice is not None else [],
        bank_entry=entry,
        actor=actor,
        by_support=True,
        ip=ip,
    )
    entry.status, entry.rule = BankEntry.Status.ASSIGNED, BankEntry.Rule.SUPPORT
    entry.resolved_by, entry.resolved_at = actor, timezone.now()
    entry.save(update_fields=["status", "rule", "resolved_by", "resolved_at"])
    return payment


@transaction.atomic
def bank_entry_dismiss(*, entry: BankEntry, reason: str, actor, ip: str | None = None) -> BankEntry:
    """A queued credit that is no customer's payment (interest, a transfer between the
    seller's own accounts...): it leaves the queue, with the reason; nothing is recorded."""
    reason = _ledger.clean_text(reason, 500)
    if not reason:
        raise ValidationError({"reason": _("Indiquez pourquoi cette écriture est écartée.")})
    entry = _locked_queued(entry)
    entry.status, entry.note = BankEntry.Status.DISMISSED, reason
    entry.resolved_by, entry.resolved_at = actor, timezone.now()
    entry.save(update_fields=["status", "note", "resolved_by", "resolved_at"])
    audit_record(
        organisation=None,
        action="bank_entry.dismissed",
        actor=actor,
        support=True,
        after={
            "entry": entry.entry_key,
            "amount": str(entry.amount),
            "currency": entry.currency,
            "reason": reason,
        },
        ip=ip,
    )
    return entry
