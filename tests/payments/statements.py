"""Small camt.053.001.08 statements built for one test each (the full samples are files in
data/): every one is checked against the ISO 20022 XSD before it is used."""

from xml.sax.saxutils import escape

from payments.camt import schema

from .conftest import SELLER_IBAN


def credit(
    amount: str,
    *,
    reference: str = "",
    text: str = "",
    payer: str = "",
    iban: str = "",
    bank_ref: str = "",
    currency: str = "EUR",
    booked: str = "2026-02-10",
    direction: str = "CRDT",
    status: str = "BOOK",
) -> str:
    parties = ""
    if payer or iban:
        parties = "<RltdPties>"
        if payer:
            parties += f"<Dbtr><Pty><Nm>{escape(payer)}</Nm></Pty></Dbtr>"
        if iban:
            parties += f"<DbtrAcct><Id><IBAN>{iban}</IBAN></Id></DbtrAcct>"
        parties += "</RltdPties>"
    remittance = ""
    if reference or text:
        remittance = "<RmtInf>"
        if text:
            remittance += f"<Ustrd>{escape(text)}</Ustrd>"
        if reference:
            remittance += f"<Strd><CdtrRefInf><Ref>{reference}</Ref></CdtrRefInf></Strd>"
        remittance += "</RmtInf>"
    return f"""
      <Ntry>
        <Amt Ccy="{currency}">{amount}</Amt>
        <CdtDbtInd>{direction}</CdtDbtInd>
        <Sts><Cd>{status}</Cd></Sts>
        <BookgDt><Dt>{booked}</Dt></BookgDt>
        {f"<AcctSvcrRef>{bank_ref}</AcctSvcrRef>" if bank_ref else ""}
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls><TxDtls>{parties}{remittance}</TxDtls></NtryDtls>
      </Ntry>"""


def statement(*entries: str, account: str = SELLER_IBAN, message_id: str = "TEST-1") -> bytes:
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>2026-02-10T23:00:00+01:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>{message_id}</Id>
      <Acct><Id><IBAN>{account}</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="EUR">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-02-10</Dt></Dt>
      </Bal>{"".join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()
    from lxml import etree

    assert schema("camt.053.001.08").validate(etree.fromstring(document)), "not a camt.053"
    return document
