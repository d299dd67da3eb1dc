"""Mandates, collections and the bank's camt.053 files about them, written for the tests:
every file is checked against the ISO 20022 XSD before it is used."""

from datetime import date, timedelta
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils import timezone
from lxml import etree

from payments.camt import schema
from payments.models import Collection, Mandate

from .conftest import LYON_IBAN, SELLER_IBAN

LYON_BIC = "CCBPFRPPLYO"


def mandate(organisation, *, reference="PAL-MDT-0001", scheme="CORE", **extra) -> Mandate:
    values = {
        "status": Mandate.Status.ACTIVE,
        "holder_name": "Festival International du Film de Lyon",
        "holder_address": "14 quai Saint-Antoine\n69002 Lyon",
        "holder_country": "FR",
        "iban": LYON_IBAN,
        "bic": LYON_BIC,
        "signed_place": "Lyon",
        "signed_on": date(2026, 1, 5),
        "language": "fr",
        **extra,
    }
    return Mandate.objects.create(
        organisation=organisation, reference=reference, scheme=scheme, **values
    )


def collection(invoice, mandate, *, collect_on=None, status="planned", **extra) -> Collection:
    notified = status != Collection.Status.PLANNED
    values = {
        "amount": invoice.total,
        "currency": invoice.currency,
        "end_to_end_id": f"E2E-{invoice.number}-{Collection.objects.count() + 1}",
        "notified_at": timezone.now() - timedelta(days=15) if notified else None,
        **extra,
    }
    return Collection.objects.create(
        invoice=invoice,
        mandate=mandate,
        collect_on=collect_on or timezone.localdate() + timedelta(days=20),
        status=status,
        **values,
    )


def transaction(end_to_end_id, amount, *, reason="", version="08", text="") -> str:
    amount_xml = (
        f'<Amt Ccy="EUR">{amount}</Amt>'
        if version == "08"
        else f'<AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
    )
    debtor = (
        "<Dbtr><Pty><Nm>FESTIVAL INTERNATIONAL DU FILM DE LYON</Nm></Pty></Dbtr>"
        if version == "08"
        else "<Dbtr><Nm>FESTIVAL INTERNATIONAL DU FILM DE LYON</Nm></Dbtr>"
    )
    return f"""
          <TxDtls>
            <Refs><EndToEndId>{end_to_end_id}</EndToEndId></Refs>
            {amount_xml}
            <RltdPties>{debtor}<DbtrAcct><Id><IBAN>{LYON_IBAN}</IBAN></Id></DbtrAcct></RltdPties>
            {f"<RmtInf><Ustrd>{escape(text)}</Ustrd></RmtInf>" if text else ""}
            {f"<RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf>" if reason else ""}
          </TxDtls>"""


def entry(
    amount,
    *transactions,
    direction="CRDT",
    bank_ref="",
    booked=None,
    reversal=False,
    version="08",
    family="IDDT",
    sub_family="ESDD",
) -> str:
    booked = booked or timezone.localdate()
    status = "<Sts><Cd>BOOK</Cd></Sts>" if version == "08" else "<Sts>BOOK</Sts>"
    return f"""
      <Ntry>
        <Amt Ccy="EUR">{amount}</Amt>
        <CdtDbtInd>{direction}</CdtDbtInd>
        {"<RvslInd>true</RvslInd>" if reversal else ""}
        {status}
        <BookgDt><Dt>{booked.isoformat()}</Dt></BookgDt>
        {f"<AcctSvcrRef>{bank_ref}</AcctSvcrRef>" if bank_ref else ""}
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub_family}</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>{"".join(transactions)}</NtryDtls>
      </Ntry>"""


def statement(*entries: str, version="08", message_id="DD-TEST-1") -> bytes:
    name = f"camt.053.001.{version}"
    today = timezone.localdate().isoformat()
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{name}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>{today}T23:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>{message_id}</Id>
      <CreDtTm>{today}T23:00:00</CreDtTm>
      <Acct><Id><IBAN>{SELLER_IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{today}</Dt></Dt>
      </Bal>{"".join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()
    xsd = schema(name)
    assert xsd.validate(etree.fromstring(document)), xsd.error_log
    return document


def collected(*collections, bank_ref="DD-BATCH-1", version="08") -> str:
    """The bank's booking of collections: one batch entry, a transaction each."""
    total = sum((c.amount for c in collections), Decimal(0))
    return entry(
        total,
        *(transaction(c.end_to_end_id, c.amount, version=version) for c in collections),
        bank_ref=bank_ref,
        version=version,
    )


def returned(collection, reason, *, bank_ref="", reversal=False, version="08") -> str:
    """The bank taking a collection back: a debit with the return reason."""
    return entry(
        collection.amount,
        transaction(collection.end_to_end_id, collection.amount, reason=reason, version=version),
        direction="DBIT",
        bank_ref=bank_ref or f"RET-{collection.end_to_end_id}",
        reversal=reversal,
        version=version,
        sub_family="UPDD",
    )
