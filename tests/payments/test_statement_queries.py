"""The import's SQL queries grow by a fixed number for each credit, whatever the file's size
and the accounts' number of open invoices: a fixed number for the file (reading the
entries, matching them, the queue), plus, for each matched credit, the queries of
recording its payment (payment_record), the same for each payment of one kind.

Statements of 50 and 500 credits in the same mix: RF references, invoice numbers in the
text, known payers (IBAN) with the exact amount, partial and over-payments, unmatched
credits and a duplicate. Not a timing test (`make bench` times the import)."""

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction
from stdnum import iban as iban_number

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


class _Counted:
    """Queries of one import: all of them, and those of each payment_record call (counted
    by a wrapper on the connection: CaptureQueriesContext keeps only the last 9,000)."""

    def __init__(self, monkeypatch):
        self.total = 0
        self.per_payment: list[int] = []
        record = statement_services.payment_record

        def counted(**kwargs):
            before = self.total
            payment = record(**kwargs)
            self.per_payment.append(self.total - before)
            return payment

        monkeypatch.setattr(statement_services, "payment_record", counted)

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


def run(monkeypatch, data: bytes, actor) -> tuple[int, list[int], object]:
    with monkeypatch.context() as patch:
        counted = _Counted(patch)
        with connection.execute_wrapper(counted):
            result = statement_services.statement_import(data=data, file_name="q.xml", actor=actor)
    return counted.total, counted.per_payment, result


class _Undo(Exception):
    pass


def test_queries_grow_by_a_fixed_number_per_credit(accounts, support_user, monkeypatch):
    small, small_mix = build(accounts, 50)
    large, large_mix = build(accounts, 500)
    try:
        with transaction.atomic():
            total_50, payments_50, imported_50 = run(monkeypatch, small, support_user)
            raise _Undo  # the same open invoices for the second file
    except _Undo:
        pass
    total_500, payments_500, imported_500 = run(monkeypatch, large, support_user)

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

    # A payment costs the same whatever the file, the rule that found it and the account's
    # open invoices: one number of queries for each shape of payment (an invoice paid in
    # full, partly paid, overpaid: the rest goes on to the account's oldest open invoice).
    assert set(payments_50) == set(payments_500)
    assert len(set(payments_500)) == 3
    # What is not a payment's is the file's: the same for 50 credits and for 500.
    file_50 = total_50 - sum(payments_50)
    file_500 = total_500 - sum(payments_500)
    assert file_500 == file_50
    # So 500 credits cost 50 credits' queries plus 450 times a fixed number per credit.
    assert total_500 == total_50 + 9 * sum(payments_50)
