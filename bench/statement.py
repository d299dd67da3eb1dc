"""The bench's bank statement: a camt.053.001.08 of the seller's account paying the open
invoices of the bench data set (bench/seed.py), written compact, as banks send it (no
indentation), and valid against payments/xsd/.

The mix of its credits, by share of the entries:

- 72 % the invoice's RF reference (structured, `RmtInf/Strd/CdtrRefInf/Ref`), exact amount;
- 8 % only the invoice number in the free text, typed in the ways payers type it;
- 6 % only a known payer: the account's IBAN (bench.seed.payer_iban, which paid it
  before) and the exact amount of one of its open invoices (one of that amount);
- 4 % partial payments (the RF reference, part of the amount), 3 % overpayments (the RF
  reference, more than the amount: the rest goes to the account's next invoices or its
  credit);
- 5 % unmatched: an unknown payer, a text naming nothing of ours;
- 2 % the same entry a second time (same bank reference): recorded once.

    python -m bench.statement 50000 var/bench/statement.xml   # against DATABASE_URL
"""

import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone

from bench.seed import payer_iban
from invoices.models import Invoice
from invoices.references import rf_reference

# (kind, share of the entries): the order entries are drawn in, not written in.
MIX = (
    ("reference", 72),
    ("number", 8),
    ("payer", 6),
    ("partial", 4),
    ("over", 3),
    ("unmatched", 5),
    ("duplicate", 2),
)
# What these kinds are expected to become (a duplicate counts once, and is not new).
MATCHED = {"reference", "number", "payer", "partial", "over"}
NUMBER_FORMS = (
    "Facture {number} merci",
    "REGLEMENT {spaced}",
    "inv{digits} paiement",
    "Paiement facture n {number}",
)
UNKNOWN_IBAN = "DE89370400440532013000"


@dataclass
class Statement:
    data: bytes
    kinds: Counter = field(default_factory=Counter)  # entries written, by kind

    @property
    def entries(self) -> int:
        return sum(self.kinds.values())

    @property
    def expected_matched(self) -> int:
        return sum(n for kind, n in self.kinds.items() if kind in MATCHED)


@dataclass
class _Open:
    number: str
    organisation_id: int
    currency: str
    due: Decimal


def _open_invoices() -> list[_Open]:
    rows = (
        Invoice.objects.filter(kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN)
        .order_by("sequence")
        .values_list("number", "organisation_id", "currency", "total", "amount_paid")
    )
    return [_Open(n, o, c, total - paid) for n, o, c, total, paid in rows if total > paid]


def _shares(n: int) -> dict[str, int]:
    counts = {kind: n * share // 100 for kind, share in MIX}
    counts["reference"] += n - sum(counts.values())
    return counts


def _entry(
    ref: str,
    amount: Decimal,
    currency: str,
    booked: date,
    *,
    payer: str = "",
    iban: str = "",
    rf: str = "",
    text: str = "",
) -> str:
    parties = ""
    if payer or iban:
        parties = "<RltdPties>"
        if payer:
            parties += f"<Dbtr><Pty><Nm>{escape(payer[:140])}</Nm></Pty></Dbtr>"
        if iban:
            parties += f"<DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct>"
        parties += "</RltdPties>"
    remittance = ""
    if text or rf:
        remittance = "<RmtInf>"
        if text:
            remittance += f"<Ustrd>{escape(text)}</Ustrd>"
        if rf:
            remittance += f"<Strd><CdtrRefInf><Ref>{rf}</Ref></CdtrRefInf></Strd>"
        remittance += "</RmtInf>"
    day = booked.isoformat()
    return (
        f'<Ntry><Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        f"<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt>"
        f"</ValDt><AcctSvcrRef>{ref}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly>"
        f"<Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls>"
        f"<Refs><AcctSvcrRef>{ref}</AcctSvcrRef><EndToEndId>E2E{ref[-9:]}</EndToEndId></Refs>"
        f'<Amt Ccy="{currency}">{amount}</Amt>{parties}{remittance}</TxDtls></NtryDtls></Ntry>'
    )


def build(n: int, *, seed_value: int = 53, prefix: str = "BNK") -> Statement:
    """A statement of `n` entries paying distinct open invoices of the database (read once),
    in the mix above, shuffled. `prefix` makes the bank references of two statements built
    from one database differ."""
    rng = random.Random(seed_value)
    booked = timezone.localdate()
    names = dict(
        Invoice.objects.filter(kind=Invoice.Kind.INVOICE)
        .values_list("organisation_id", "buyer_legal_name")
        .distinct()
    )
    candidates = _open_invoices()
    rng.shuffle(candidates)
    # Rule 3 needs an invoice whose amount no other open invoice of its account asks.
    same_amount = Counter((c.organisation_id, c.currency, c.due) for c in candidates)
    by_payer = [c for c in candidates if same_amount[(c.organisation_id, c.currency, c.due)] == 1]
    payer_numbers = {c.number for c in by_payer}
    pool = [c for c in candidates if c.number not in payer_numbers]
    counts = _shares(n)
    if counts["payer"] > len(by_payer) or n - counts["payer"] > len(pool):
        raise SystemExit(f"{len(candidates)} open invoices: too few for {n} entries")
    kinds: Counter = Counter()
    entries: list[str] = []

    def add(kind: str, xml: str) -> None:
        kinds[kind] += 1
        entries.append(xml)

    order = [kind for kind, _share in MIX if kind != "duplicate" for _ in range(counts[kind])]
    rng.shuffle(order)
    for index, kind in enumerate(order):
        ref = f"{prefix}{booked:%Y%m%d}{index:09d}"
        if kind == "unmatched":
            amount = Decimal(rng.randrange(1000, 500000)) / 100
            add(
                kind,
                _entry(
                    ref,
                    amount,
                    "EUR",
                    booked,
                    payer="M. DUPONT",
                    iban=UNKNOWN_IBAN,
                    text=f"VIR SEPA {rng.randrange(10**8)} LOYER",
                ),
            )
            continue
        invoice = by_payer.pop() if kind == "payer" else pool.pop()
        payer = names.get(invoice.organisation_id, "").upper()
        iban = payer_iban(invoice.organisation_id)
        amount = invoice.due
        if kind == "partial":
            amount = (invoice.due / 2).quantize(Decimal("0.01"))
        elif kind == "over":
            amount = invoice.due + Decimal("100.00")
        if kind == "payer":
            add(
                kind,
                _entry(
                    ref,
                    amount,
                    invoice.currency,
                    booked,
                    payer=payer,
                    iban=iban,
                    text="VIREMENT ANNUEL",
                ),
            )
        elif kind == "number":
            digits = invoice.number.split("-", 1)[1]
            text = rng.choice(NUMBER_FORMS).format(
                number=invoice.number, digits=digits, spaced=f"INV {digits}"
            )
            add(
                kind,
                _entry(ref, amount, invoice.currency, booked, payer=payer, iban=iban, text=text),
            )
        else:
            add(
                kind,
                _entry(
                    ref,
                    amount,
                    invoice.currency,
                    booked,
                    payer=payer,
                    iban=iban,
                    rf=rf_reference(invoice.number),
                ),
            )
    # The bank lists a few credits twice (the same AcctSvcrRef): recorded once.
    entries += [entries[i] for i in rng.sample(range(len(entries)), counts["duplicate"])]
    kinds["duplicate"] += counts["duplicate"]
    rng.shuffle(entries)
    return Statement(data=_document(entries, booked, prefix), kinds=kinds)


def _document(entries: list[str], booked: date, prefix: str) -> bytes:
    account = settings.PAYMENTS_BANK_IBANS[0]
    stamp = f"{booked.isoformat()}T23:00:00+01:00"
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{prefix}-{booked:%Y%m%d}</MsgId><CreDtTm>{stamp}</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{prefix}-{booked:%Y%m%d}-1</Id><CreDtTm>{stamp}</CreDtTm>"
        f"<Acct><Id><IBAN>{account}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        '<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{booked.isoformat()}</Dt></Dt></Bal>"
    )
    return (head + "".join(entries) + "</Stmt></BkToCstmrStmt></Document>\n").encode()


def main(argv=None) -> int:
    import django

    args = sys.argv[1:] if argv is None else argv
    django.setup()
    statement = build(int(args[0]))
    Path(args[1]).write_bytes(statement.data)
    print(f"{statement.entries} entries, {len(statement.data):,} bytes: {dict(statement.kinds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
