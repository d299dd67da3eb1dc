"""The import's SQL queries are a fixed number for the file (reading the entries, matching
them, the queue) plus a fixed number for each chunk of matched credits it records
(payments_record, statements.CHUNK credits at a time), whatever the file's size and the
accounts' number of open invoices: not a number per credit.

Statements of 50 and 500 credits in the same mix: RF references, invoice numbers in the
text, known payers (IBAN) with the exact amount, partial and over-payments, unmatched
credits and a duplicate. Not a timing test (`make bench` times the import)."""

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction
from stdnum import iban as iban_number

from billing_portal import bulk
from invoices.models import Invoice
from invoices.references import rf_reference
from payments.models import Allocation, BankEntry, Payment
from payments.services import statements as statement_services
from tests.factories import InvoiceFactory, MembershipFactory, OrganisationFactory

from .statements import credit, statement

ACCOUNTS = 4
# Per block of 50 credits (the share of each kind is the same at 50 and at 500).
BLOCK = {
    "reference": 36,
    "number": 4,
    "payer": 3,
    "partial": 2,
    "over": 2,
    "unmatched": 2,
    "duplicate": 1,
}
INVOICES_PER_ACCOUNT = 130  # > 500 x 49 / 50 / 4: each credit names its own invoice


def payer_iban(index: int) -> str:
    bank, branch, account = "30004", "00001", f"{index + 1:011d}"
    key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
    bban = f"{bank}{branch}{account}{key:02d}"
    return f"FR{iban_number.calc_check_digits(f'FR00{bban}')}{bban}"


# The queries of recording one chunk of credits (payments_record): the accounts locked,
# their credit balances, the payments, the invoices named (locked), the invoices' new
# amounts and statuses (their lock, one UPDATE, the audit events and history steps of those
# paid), the allocations, the owners, the payments' audit events, the receipts; and the
# savepoints of the two services; the webhooks of the invoices paid and of the payments
# (twice: the enabled endpoints, the events; no endpoint here, so no deliveries). One more
# when some of the chunk's money goes beyond the invoices its credits name: the accounts'
# oldest open invoices.
CHUNK_QUERIES = 20
BEYOND_NAMED = 1
# On PostgreSQL, from billing_portal.bulk.COPY_MIN_ROWS rows a table's rows are written by
# COPY, after one query that takes their ids: one more query for each of the chunk's eight
# inserts (payments, allocations, the invoices' audit events, history steps and webhook
# events, the payments' audit events, receipts and webhook events).
COPY_INSERTS = 8


class _Counted:
    """Queries of one import: all of them, and those of each payments_record call (one a
    chunk; counted by a wrapper on the connection: CaptureQueriesContext keeps only the last
    9,000)."""

    def __init__(self, monkeypatch):
        self.total = 0
        self.per_chunk: list[int] = []
        record = statement_services.payments_record

        def counted(**kwargs):
            before = self.total
            payments = record(**kwargs)
            if kwargs["payments"]:
                self.per_chunk.append(self.total - before)
            return payments

        monkeypatch.setattr(statement_services, "payments_record", counted)

    def __call__(self, execute, sql, params, many, context):
        self.total += 1
        return execute(sql, params, many, context)


@pytest.fixture
def accounts(db):
    """Four accounts, each with 130 open invoices of distinct amounts, the oldest due a
    large one (what overpayments go on to), and a payment from its own IBAN before."""
    result = []
    sequence = 800_000
    for index in range(ACCOUNTS):
        organisation = OrganisationFactory(name=f"Festival {index}")
        MembershipFactory(organisation=organisation, role="owner")
        invoices = []
        for position in range(INVOICES_PER_ACCOUNT + 2):
            sequence += 1
            total = Decimal(1000 + 7 * position)
            invoices.append(
                InvoiceFactory.build(
                    organisation=organisation,
                    sequence=sequence,
                    number=f"INV-{sequence}",
                    total=Decimal("50000.00") if position == 0 else total,
                    subtotal=Decimal("50000.00") if position == 0 else total,
                    vat_rate=Decimal("0.00"),
                    vat_amount=Decimal("0.00"),
                    issue_date=date(2025, 11, 1) if position == 0 else date(2026, 1, 15),
                )
            )
        invoices = Invoice.objects.bulk_create(invoices)
        paid = invoices.pop()  # paid before, from the account's IBAN: rule 3 knows it
        Invoice.objects.filter(pk=paid.pk).update(
            status=Invoice.Status.PAID, amount_paid=paid.total, paid_on=date(2026, 1, 20)
        )
        payment = Payment.objects.create(
            organisation=organisation,
            amount=paid.total,
            currency="EUR",
            received_on=date(2026, 1, 20),
            method=Payment.Method.TRANSFER,
            payer_iban=payer_iban(index),
            source=Payment.Source.SUPPORT,
        )
        Allocation.objects.create(payment=payment, invoice=paid, amount=paid.total)
        result.append((organisation, payer_iban(index), invoices[1:]))  # [0]: the reserve
    return result


def build(accounts, n: int) -> tuple[bytes, Counter]:
    """A statement of `n` credits (a multiple of 50), the kinds of BLOCK spread over the
    accounts alike; each credit names an invoice of its own."""
    kinds = [kind for kind, count in BLOCK.items() for _ in range(count * n // 50)]
    entries, made = [], Counter()
    available = [list(invoices) for _org, _iban, invoices in accounts]
    for index, kind in enumerate(kinds):
        made[kind] += 1
        if kind == "duplicate":
            entries.append(entries[index % len(entries)])
            continue
        ref = f"Q{n}-{index:05d}"
        if kind == "unmatched":
            entries.append(credit("123.45", text="LOYER", payer="M. DUPONT", bank_ref=ref))
            continue
        slot = index % ACCOUNTS
        invoice = available[slot].pop()
        iban = accounts[slot][1]
        amount = invoice.total
        if kind == "partial":
            amount = invoice.total / 2
        elif kind == "over":
            amount = invoice.total + 100
        if kind == "number":
            entry = credit(f"{amount:.2f}", text=f"Facture {invoice.number}", bank_ref=ref)
        elif kind == "payer":
            entry = credit(f"{amount:.2f}", iban=iban, text="VIREMENT", bank_ref=ref)
        else:
            entry = credit(
                f"{amount:.2f}", reference=rf_reference(invoice.number), iban=iban, bank_ref=ref
            )
        entries.append(entry)
    return statement(*entries, message_id=f"Q{n}"), made


def run(monkeypatch, data: bytes, actor, chunk: int) -> tuple[int, list[int], object]:
    with monkeypatch.context() as patch:
        patch.setattr(statement_services, "CHUNK", chunk)
        counted = _Counted(patch)
        with connection.execute_wrapper(counted):
            result = statement_services.statement_import(data=data, file_name="q.xml", actor=actor)
    return counted.total, counted.per_chunk, result


class _Undo(Exception):
    pass


def _rolled_back(monkeypatch, data, actor, chunk):
    try:
        with transaction.atomic():
            counted = run(monkeypatch, data, actor, chunk)
            raise _Undo  # the same open invoices for the next file
    except _Undo:
        return counted


@pytest.mark.parametrize("copy", [False, True], ids=["insert", "copy"])
def test_queries_are_a_fixed_number_per_chunk_of_credits(accounts, support_user, monkeypatch, copy):
    # Every table's rows written one way, whatever their number: INSERTs, or COPY.
    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1 if copy else 10**9)
    chunk_queries = CHUNK_QUERIES + (COPY_INSERTS if copy else 0)
    small, small_mix = build(accounts, 50)
    large, large_mix = build(accounts, 500)
    # Every credit of the file in one chunk: 500 credits cost what 50 cost.
    total_50, chunks_50, imported_50 = _rolled_back(monkeypatch, small, support_user, 1000)
    total_500, chunks_500, imported_500 = _rolled_back(monkeypatch, large, support_user, 1000)
    assert len(chunks_50) == len(chunks_500) == 1
    assert total_500 == total_50
    assert chunks_500 == chunks_50 == [chunk_queries + BEYOND_NAMED]

    # Chunks of 50 credits: the 465 matched credits of the large file make 10 chunks, each
    # of the same fixed number of queries (one more when its money goes beyond the invoices
    # named); the file's own queries are those of the small file.
    total_50, chunks_50, _imported = _rolled_back(monkeypatch, small, support_user, 50)
    total_500, chunks_500, imported_500 = run(monkeypatch, large, support_user, 50)
    assert len(chunks_50) == 1 and len(chunks_500) == 10
    assert set(chunks_500) <= {chunk_queries, chunk_queries + BEYOND_NAMED}
    assert total_500 - sum(chunks_500) == total_50 - sum(chunks_50)

    # The files were matched as built: every rule at work, at both sizes.
    for imported, mix in ((imported_50, small_mix), (imported_500, large_mix)):
        assert imported.credits == sum(mix.values())
        assert imported.new_entries == imported.credits - mix["duplicate"]
        assert imported.queued == mix["unmatched"]
        assert imported.matched == imported.new_entries - mix["unmatched"]
    rules = Counter(BankEntry.objects.values_list("rule", flat=True))
    assert rules == {
        BankEntry.Rule.REFERENCE: 10 * (36 + 2 + 2),
        BankEntry.Rule.NUMBER: 10 * 4,
        BankEntry.Rule.AMOUNT: 10 * 3,
        "": 10 * 2,
    }
    # And recorded: each matched credit is a payment, each partial one leaves its invoice
    # open, each overpayment's rest went on to its account's oldest open invoice.
    assert Payment.objects.filter(bank_entry__isnull=False).count() == imported_500.matched
    partial = Invoice.objects.filter(status=Invoice.Status.OPEN, amount_paid__gt=0)
    assert partial.count() == 20 + ACCOUNTS  # the partial ones, and each account's reserve
    assert Allocation.objects.filter(invoice__total=Decimal("50000.00")).count() == 20
