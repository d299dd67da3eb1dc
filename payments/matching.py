"""Which invoice a bank credit pays: three rules, tried in order, each one query for a
whole file (not one a credit).

1. **RF reference.** A valid ISO 11649 reference (checked by python-stdnum) in the
   structured creditor reference, or typed in the free text, that is one of our invoice's
   (invoices.references.rf_reference).
2. **Invoice number in the text.** The free text names our invoice numbers (INV-10682,
   "inv 10682", "INV10682"...), all of one account.
3. **Known payer, exact amount.** The payer is one account's (its IBAN paid that account
   before, or its name is the account's name or a name it paid under before), and exactly
   one of that account's open invoices in the credit's currency has exactly the amount left
   to pay.

Before them, a credit carrying the end-to-end id of a collection sent to the bank is that
collection, booked (`collections_for`; statement_import).

Anything else waits in the reconciliation queue with the reason in words, and the
invoices it could be for.
"""

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models.functions import Upper
from stdnum import iso11649

from accounts.models import Organisation
from invoices import numbering
from invoices.models import Invoice
from invoices.references import rf_body
from invoices.selectors import with_credit_sums

from .models import BankEntry, Collection, Payment

# Where an ISO 11649 reference starts: "RF" and two digits, at the start of a word.
RF_START = re.compile(r"(?<![A-Z0-9])RF[0-9]{2}", re.I)
_WORD = re.compile(r"[A-Z0-9]+", re.I)
# An invoice number as payers type it: INV-10682, INV 10682, inv10682, INV_10682, INV-010682.
_PREFIX = re.escape(numbering.PREFIX.rstrip("-"))
NUMBER_PATTERN = re.compile(
    rf"(?<![A-Z0-9]){_PREFIX}[ \-_/.]?0*([1-9][0-9]{{0,11}})(?![0-9])", re.I
)
# The RF body of our numbers: the prefix's letters and the number (rf_body("INV-10682")).
_BODY = re.compile(rf"^{re.escape(rf_body(numbering.PREFIX))}0*([1-9][0-9]*)$")
CHUNK = 5000

Reason = BankEntry.Reason


@dataclass
class Match:
    """A credit's account and invoices (`rule` says how they were found), or why not."""

    organisation_id: int | None = None
    invoices: list[Invoice] = field(default_factory=list)
    rule: str = ""
    reason: str = ""
    detail: str = ""
    candidates: list[Invoice] = field(default_factory=list)


def references_in(text: str) -> list[str]:
    """The valid ISO 11649 references in `text`, compact, in order, once each: written
    whole ("RF19INV10682") or in the printed groups of four ("RF19 INV1 0682"), whatever
    words follow ("RF19 INV1 0682 merci": the longest run of groups that checks out)."""
    found = []
    text = text or ""
    for start in RF_START.finditer(text):
        words = _WORD.findall(text[start.start() :])[:7]
        candidates = [words[0]]
        # The printed form: "RF19", then groups of four characters, the last one shorter.
        if len(words[0]) == 4:
            for word in words[1:]:
                if len(word) > 4:
                    break
                candidates.append(candidates[-1] + word)
                if len(word) < 4:
                    break
        valid = [c.upper() for c in candidates if 5 <= len(c) <= 25 and iso11649.is_valid(c)]
        if valid and valid[-1] not in found:
            found.append(valid[-1])
    return found


def number_of_reference(reference: str) -> str | None:
    """Our invoice number behind an RF reference ("RF19INV10682" → "INV-10682"), if its
    reference part has the shape of our numbers."""
    body = _BODY.match(reference[4:])
    return numbering.format_number(int(body.group(1))) if body else None


def numbers_in(text: str) -> list[str]:
    """Our invoice numbers named in `text`, in order, once each."""
    found = []
    for digits in NUMBER_PATTERN.findall(text or ""):
        number = numbering.format_number(int(digits))
        if number not in found:
            found.append(number)
    return found


def normalised_name(name: str) -> str:
    return " ".join((name or "").upper().split())


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _invoices_by_number(numbers: set[str]) -> dict[str, Invoice]:
    found = {}
    for chunk in _chunks(sorted(numbers)):
        for invoice in Invoice.objects.filter(number__in=chunk, kind=Invoice.Kind.INVOICE).only(
            "number", "kind", "organisation_id", "currency", "status", "total", "amount_paid"
        ):
            found[invoice.number] = invoice
    return found


def _payer_accounts(entries: list[BankEntry]) -> dict[str, set[int]]:
    """For each IBAN and each (normalised) name: the accounts it is known to pay for."""
    known: dict[str, set[int]] = defaultdict(set)
    ibans = sorted({e.payer_iban for e in entries if e.payer_iban})
    names = sorted({normalised_name(e.payer_name) for e in entries if e.payer_name})
    for chunk in _chunks(ibans):
        rows = Payment.objects.filter(payer_iban__in=chunk).values_list(
            "payer_iban", "organisation_id"
        )
        for iban, organisation_id in rows.distinct():
            known[f"iban:{iban}"].add(organisation_id)
    for chunk in _chunks(names):
        rows = (
            Organisation.objects.annotate(upper=Upper("name"))
            .filter(upper__in=chunk)
            .values_list("upper", "pk")
        )
        for name, organisation_id in rows:
            known[f"name:{normalised_name(name)}"].add(organisation_id)
        rows = (
            Payment.objects.annotate(upper=Upper("payer_name"))
            .filter(upper__in=chunk)
            .values_list("upper", "organisation_id")
        )
        for name, organisation_id in rows.distinct():
            known[f"name:{normalised_name(name)}"].add(organisation_id)
    return known


def _open_invoices(organisation_ids: set[int]) -> dict[int, list[Invoice]]:
    by_account: dict[int, list[Invoice]] = defaultdict(list)
    for chunk in _chunks(sorted(organisation_ids)):
        invoices = (
            with_credit_sums(
                Invoice.objects.filter(
                    organisation_id__in=chunk,
                    kind=Invoice.Kind.INVOICE,
                    status=Invoice.Status.OPEN,
                )
            )
            .only("number", "kind", "organisation_id", "currency", "status", "total", "amount_paid")
            .order_by("due_date", "sequence")
        )
        for invoice in invoices:
            by_account[invoice.organisation_id].append(invoice)
    return by_account


def match_entries(entries: Iterable[BankEntry]) -> dict[int, Match]:
    """A Match for each entry (by pk), in a fixed number of queries for all of them."""
    entries = list(entries)
    named: dict[int, list[str]] = {}
    for entry in entries:
        text = f"{entry.creditor_reference} {entry.remittance}"
        numbers = [number_of_reference(ref) or ref for ref in references_in(text)]
        named[entry.pk] = list(dict.fromkeys([*numbers, *numbers_in(text)]))
    invoices = _invoices_by_number({n for numbers in named.values() for n in numbers})

    matches: dict[int, Match] = {}
    by_payer: list[BankEntry] = []
    for entry in entries:
        if not named[entry.pk]:
            by_payer.append(entry)
            continue
        found = [invoices[n] for n in named[entry.pk] if n in invoices]
        if not found:
            matches[entry.pk] = Match(
                reason=Reason.UNKNOWN_REFERENCE, detail=", ".join(named[entry.pk])
            )
            by_payer.append(entry)  # the payer may still say whose it is
            continue
        accounts = {invoice.organisation_id for invoice in found}
        if len(accounts) > 1:
            numbers = ", ".join(invoice.number for invoice in found)
            matches[entry.pk] = Match(
                reason=Reason.SEVERAL_ACCOUNTS, detail=numbers, candidates=found
            )
            continue
        in_currency = [invoice for invoice in found if invoice.currency == entry.currency]
        if not in_currency:
            matches[entry.pk] = Match(
                reason=Reason.CURRENCY, detail=entry.currency, candidates=found
            )
            continue
        first_is_reference = bool(references_in(f"{entry.creditor_reference} {entry.remittance}"))
        matches[entry.pk] = Match(
            organisation_id=in_currency[0].organisation_id,
            invoices=in_currency,
            rule=BankEntry.Rule.REFERENCE if first_is_reference else BankEntry.Rule.NUMBER,
        )
    if by_payer:
        _match_by_payer(by_payer, matches)
    return matches


def _match_by_payer(entries: list[BankEntry], matches: dict[int, Match]) -> None:
    known = _payer_accounts(entries)
    accounts_of = {}
    for entry in entries:
        accounts = set(known.get(f"iban:{entry.payer_iban}", ())) if entry.payer_iban else set()
        if not accounts and entry.payer_name:
            accounts = set(known.get(f"name:{normalised_name(entry.payer_name)}", ()))
        accounts_of[entry.pk] = accounts
    single = {next(iter(a)) for a in accounts_of.values() if len(a) == 1}
    open_invoices = _open_invoices(single)
    # Each account's open invoices by what they ask: a credit finds those of its amount
    # without walking the account's thousands of open invoices.
    asking: dict[tuple, list[Invoice]] = defaultdict(list)
    for account, invoices in open_invoices.items():
        for invoice in invoices:
            asking[account, invoice.currency, invoice.amount_due].append(invoice)
    names = dict(Organisation.objects.filter(pk__in=single).values_list("pk", "name"))
    for entry in entries:
        accounts = accounts_of[entry.pk]
        earlier = matches.get(entry.pk)
        if not accounts:
            matches[entry.pk] = earlier or Match(reason=Reason.NO_MATCH)
            continue
        if len(accounts) > 1:
            matches[entry.pk] = earlier or Match(reason=Reason.SEVERAL_PAYERS)
            continue
        (account,) = accounts
        same = asking.get((account, entry.currency, entry.amount), [])
        if len(same) == 1:
            matches[entry.pk] = Match(
                organisation_id=account, invoices=same, rule=BankEntry.Rule.AMOUNT
            )
        elif earlier is not None:
            earlier.candidates = earlier.candidates or same
        else:
            matches[entry.pk] = Match(
                reason=Reason.SEVERAL_AMOUNTS if same else Reason.NO_AMOUNT,
                detail=names.get(account, ""),
                candidates=same or open_invoices.get(account, [])[:10],
            )


def collections_for(entries: Iterable[BankEntry]) -> dict[int, Collection]:
    """The collection each entry carries the end-to-end id of (by entry pk), in one query
    per chunk: a direct debit booked (a credit) or taken back (a return)."""
    by_id: dict[str, list[int]] = defaultdict(list)
    for entry in entries:
        if entry.end_to_end_id:
            by_id[entry.end_to_end_id].append(entry.pk)
    found = {}
    for chunk in _chunks(sorted(by_id)):
        for collection in Collection.objects.filter(end_to_end_id__in=chunk).select_related(
            "invoice"
        ):
            for pk in by_id[collection.end_to_end_id]:
                found[pk] = collection
    return found
