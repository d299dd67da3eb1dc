"""Writing the collection file the seller's bank takes: ISO 20022 pain.008.001.02
(CustomerDirectDebitInitiation), as the EPC SEPA Direct Debit implementation guidelines
use it. A pure function of its input (`build`), no database.

One file is one requested collection date and one scheme (Core or B2B: banks take them in
separate files); inside, one payment information block (PmtInf) per sequence type, since
pain.008.001.02 puts the sequence type at that level. Written with lxml rather than a SEPA
library: the amendment details (AmdmntInd, OrgnlDbtrAcct, SMNDA) that a mandate whose
account changed must carry are not in what the libraries write (docs/payments.md).
"""

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from lxml import etree

from .camt import XSD_DIR

VERSION = "pain.008.001.02"
NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{VERSION}"
# The characters every SEPA bank must accept (EPC guidelines, "SEPA character set").
_ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")


@dataclass(frozen=True)
class Creditor:
    name: str
    iban: str
    bic: str
    creditor_id: str  # the SEPA creditor identifier (ICS in France)


@dataclass(frozen=True)
class Transaction:
    end_to_end_id: str
    amount: Decimal
    sequence_type: str  # FRST or RCUR
    mandate_reference: str
    signed_on: date
    debtor_name: str
    debtor_iban: str
    debtor_bic: str
    remittance: str
    # The mandate's account before it changed, when this collection carries the
    # amendment; `other_bank` when the bank changed too (then the EPC's SMNDA).
    original_iban: str = ""
    other_bank: bool = False


def sepa_text(value: str, limit: int) -> str:
    """`value` in the SEPA character set: accents taken off, anything else a space."""
    plain = unicodedata.normalize("NFKD", str(value or ""))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    plain = "".join(c if c in _ALLOWED else " " for c in plain)
    return " ".join(plain.split())[:limit] or "NOTPROVIDED"


def _add(parent, tag: str, text: str | None = None, **attributes):
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}", **attributes)
    if text is not None:
        element.text = text
    return element


def _path(parent, tags: str, text: str):
    """Nested elements "A/B/C", the last one holding `text`."""
    for tag in tags.split("/"):
        parent = _add(parent, tag)
    parent.text = text
    return parent


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def build(
    *,
    message_id: str,
    created_at: datetime,
    scheme: str,
    collect_on: date,
    creditor: Creditor,
    transactions: list[Transaction],
    currency: str = "EUR",
) -> bytes:
    """The pain.008 file for these transactions, one date and scheme (CORE or B2B)."""
    for transaction in transactions:
        if transaction.sequence_type not in ("FRST", "RCUR"):
            raise ValueError(f"sequence type {transaction.sequence_type!r}")
    root = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})
    message = _add(root, "CstmrDrctDbtInitn")
    header = _add(message, "GrpHdr")
    _add(header, "MsgId", message_id)
    _add(header, "CreDtTm", created_at.replace(microsecond=0).isoformat())
    _add(header, "NbOfTxs", str(len(transactions)))
    _add(header, "CtrlSum", _amount(sum((t.amount for t in transactions), Decimal(0))))
    _path(header, "InitgPty/Nm", sepa_text(creditor.name, 70))
    for sequence in ("FRST", "RCUR"):
        group = [t for t in transactions if t.sequence_type == sequence]
        if group:
            _payment_information(
                message,
                f"{message_id}-{sequence}",
                scheme,
                sequence,
                collect_on,
                creditor,
                group,
                currency,
            )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _payment_information(
    message, block_id, scheme, sequence, collect_on, creditor, group, currency
):
    block = _add(message, "PmtInf")
    _add(block, "PmtInfId", block_id[:35])
    _add(block, "PmtMtd", "DD")
    _add(block, "BtchBookg", "true")
    _add(block, "NbOfTxs", str(len(group)))
    _add(block, "CtrlSum", _amount(sum((t.amount for t in group), Decimal(0))))
    kind = _add(block, "PmtTpInf")
    _path(kind, "SvcLvl/Cd", "SEPA")
    _path(kind, "LclInstrm/Cd", scheme)
    _add(kind, "SeqTp", sequence)
    _add(block, "ReqdColltnDt", collect_on.isoformat())
    _path(block, "Cdtr/Nm", sepa_text(creditor.name, 70))
    _path(block, "CdtrAcct/Id/IBAN", creditor.iban)
    _path(block, "CdtrAgt/FinInstnId/BIC", creditor.bic)
    _add(block, "ChrgBr", "SLEV")
    scheme_id = _path(block, "CdtrSchmeId/Id/PrvtId/Othr/Id", creditor.creditor_id)
    _path(scheme_id.getparent(), "SchmeNm/Prtry", "SEPA")
    for transaction in group:
        _transaction(block, transaction, currency)


def _transaction(block, t: Transaction, currency: str):
    info = _add(block, "DrctDbtTxInf")
    _path(info, "PmtId/EndToEndId", t.end_to_end_id)
    _add(info, "InstdAmt", _amount(t.amount), Ccy=currency)
    mandate = _path(info, "DrctDbtTx/MndtRltdInf/MndtId", t.mandate_reference).getparent()
    _add(mandate, "DtOfSgntr", t.signed_on.isoformat())
    if t.original_iban:
        _add(mandate, "AmdmntInd", "true")
        details = _add(mandate, "AmdmntInfDtls")
        _path(details, "OrgnlDbtrAcct/Id/IBAN", t.original_iban)
        if t.other_bank:
            # "SMNDA": same mandate, new debtor agent (EPC implementation guidelines).
            _path(details, "OrgnlDbtrAgt/FinInstnId/Othr/Id", "SMNDA")
    else:
        _add(mandate, "AmdmntInd", "false")
    agent = _add(_add(info, "DbtrAgt"), "FinInstnId")
    if t.debtor_bic:
        _add(agent, "BIC", t.debtor_bic)
    else:
        # The IBAN alone is enough inside SEPA ("IBAN only"); the guidelines say so here.
        _path(agent, "Othr/Id", "NOTPROVIDED")
    _path(info, "Dbtr/Nm", sepa_text(t.debtor_name, 70))
    _path(info, "DbtrAcct/Id/IBAN", t.debtor_iban)
    _path(info, "RmtInf/Ustrd", sepa_text(t.remittance, 140))


@cache
def schema() -> etree.XMLSchema:
    """The ISO 20022 XSD of pain.008.001.02 (payments/xsd/), compiled once per process."""
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{VERSION}.xsd")))


def errors(data: bytes) -> list[str]:
    """What the XSD finds wrong with a pain.008 file: empty when it is valid."""
    xsd = schema()
    if xsd.validate(etree.fromstring(data)):
        return []
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]
