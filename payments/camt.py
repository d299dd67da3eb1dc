"""Reading the bank's files: ISO 20022 camt.053 statements and camt.054 notifications.

A pure function of the file's bytes (`read`), no database: the file is checked in this
order, and the first problem found is the error, in words that name it:

1. its size (settings.PAYMENTS_STATEMENT_MAX_BYTES) and that it is XML at all;
2. no DOCTYPE: an ISO 20022 message never has one, and a DTD is how XML carries external
   entities (XXE) and entity bombs. lxml parses with entities neither resolved nor
   loaded and no network (a DTD is never read, an entity never expanded), then any
   DOCTYPE is refused;
3. the message type and version, from the root element's namespace: camt.053.001.02,
   camt.053.001.08, camt.054.001.02 or camt.054.001.08;
4. the ISO 20022 XSD of that version (payments/xsd/, the schemas ISO 20022 publishes),
   with lxml; the error names the line and the element.

What comes out is the booked credits (`Credit`), one per transaction: the entry's, or each
of a batch's transactions; and the direct debits the bank took back (a booked debit, or a
reversal, whose transactions carry return information, `RtrInf`): a `Credit` too, with
`is_return` and the bank's reason code. Other debits, pending or information-only entries
and other reversals are counted (`ignored`), not returned. docs/payments.md says why no
parsing library is used.
"""

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from lxml import etree

XSD_DIR = Path(__file__).resolve().parent / "xsd"
NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"

# version → (kind, message element, report element)
SUPPORTED = {
    "camt.053.001.02": ("camt.053", "BkToCstmrStmt", "Stmt"),
    "camt.053.001.08": ("camt.053", "BkToCstmrStmt", "Stmt"),
    "camt.054.001.02": ("camt.054", "BkToCstmrDbtCdtNtfctn", "Ntfctn"),
    "camt.054.001.08": ("camt.054", "BkToCstmrDbtCdtNtfctn", "Ntfctn"),
}
# At most this many schema errors are listed: the first is usually the cause.
MAX_ERRORS = 5
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Credit:
    """One booked credit on the account, as the bank reported it."""

    key: str  # unique for the bank: account, its reference, the transaction's in a batch
    account_iban: str
    bank_reference: str
    end_to_end_id: str
    amount: Decimal
    currency: str
    booked_on: date
    payer_name: str
    payer_iban: str
    creditor_reference: str  # the structured reference (RF...), as given
    remittance: str  # the free text: unstructured remittance and the bank's notes
    # A direct debit returned or refused (the money goes back to the payer): the entry is a
    # debit of the seller's account, `end_to_end_id` is the collection's own, and
    # `return_reason` the ISO 20022 reason code (AM04, MD06...).
    is_return: bool = False
    return_reason: str = ""

    @property
    def text(self) -> str:
        """Everything a payer may have typed a reference or an invoice number into."""
        return f"{self.creditor_reference} {self.remittance}".strip()


@dataclass
class BankFile:
    kind: str  # "camt.053" or "camt.054"
    version: str  # "camt.053.001.08"
    message_id: str
    account_ibans: list[str]
    credits: list[Credit] = field(default_factory=list)
    ignored: int = 0


def _error(message: str) -> ValidationError:
    return ValidationError(message, code="bank_file")


def max_bytes() -> int:
    return settings.PAYMENTS_STATEMENT_MAX_BYTES


def size_error(size: int) -> ValidationError | None:
    """The error for a file of `size` bytes, or None: the upload is checked before it is
    read."""
    if size == 0:
        return _error(_("Le fichier est vide."))
    if size > max_bytes():
        return _error(
            _(
                "Le fichier fait %(size)s Mo : un relevé importé fait au plus %(max)s Mo. "
                "Demandez à la banque des relevés par jour, ou découpez la période."
            )
            % {"size": _megabytes(size), "max": _megabytes(max_bytes())}
        )
    return None


def _megabytes(size: int) -> str:
    """Mebibytes to one decimal, as the language writes them: "47,7", "40"."""
    value = (Decimal(size) / (1024 * 1024)).quantize(Decimal("0.1"))
    return number_format(value if value % 1 else value.quantize(Decimal(1)))


@cache
def schema(version: str) -> etree.XMLSchema:
    """The ISO 20022 XSD of `version`, compiled once per process."""
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{version}.xsd")))


def _parse_xml(data: bytes) -> etree._ElementTree:
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise _error(
            _(
                "Ce fichier n'est pas du XML : importez le relevé au format ISO 20022 "
                "(camt.053 ou camt.054), pas un PDF, un CSV ou un MT940."
            )
        )
    parser = etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser))
    except etree.XMLSyntaxError as exc:
        if _declares_doctype(data):
            raise _doctype_error() from None
        raise _error(
            _("Le fichier n'est pas un XML bien formé (ligne %(line)s) : %(detail)s")
            % {"line": exc.lineno or "?", "detail": exc.msg}
        ) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _doctype_error()
    return tree


def _declares_doctype(data: bytes) -> bool:
    return b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data[:65536].upper()


def _doctype_error() -> ValidationError:
    return _error(
        _(
            "Le fichier déclare une DTD ou des entités (<!DOCTYPE …>) : un relevé ISO 20022 "
            "n'en contient jamais, et c'est ainsi qu'un fichier malveillant lit des fichiers "
            "du serveur (entités externes). Rien n'a été importé."
        )
    )


def _version_of(root) -> str:
    qname = etree.QName(root)
    namespace = qname.namespace or ""
    if qname.localname != "Document" or not namespace.startswith(NAMESPACE_PREFIX):
        raise _error(
            _(
                "Ce fichier XML n'est pas un message ISO 20022 (élément racine « %(root)s », "
                "espace de noms « %(namespace)s ») : importez un relevé camt.053 ou un avis "
                "camt.054."
            )
            % {"root": qname.localname, "namespace": namespace or "—"}
        )
    version = namespace.removeprefix(NAMESPACE_PREFIX)
    if version not in SUPPORTED:
        raise _error(
            _(
                "Message %(version)s non pris en charge : le portail lit les relevés "
                "%(supported)s. Demandez à la banque l'un de ces formats."
            )
            % {"version": version, "supported": ", ".join(SUPPORTED)}
        )
    return version


def _validate(tree, version: str) -> None:
    xsd = schema(version)
    if xsd.validate(tree):
        return
    errors = [
        _("ligne %(line)s : %(message)s") % {"line": error.line, "message": error.message}
        for error in list(xsd.error_log)[:MAX_ERRORS]
    ]
    raise ValidationError(
        [
            _error(
                _("Le fichier ne respecte pas le schéma ISO 20022 %(version)s :")
                % {"version": version}
            ),
            *[_error(error) for error in errors],
        ]
    )


def read(data: bytes) -> BankFile:
    """The booked credits of a camt.053 or camt.054 file; ValidationError naming the
    problem otherwise (nothing is returned for a file with any problem)."""
    if (error := size_error(len(data))) is not None:
        raise error
    tree = _parse_xml(data)
    root = tree.getroot()
    version = _version_of(root)
    _validate(tree, version)
    kind, message_name, report_name = SUPPORTED[version]
    ns = {"c": etree.QName(root).namespace}
    message = root.find(f"c:{message_name}", ns)
    result = BankFile(
        kind=kind,
        version=version,
        message_id=message.findtext("c:GrpHdr/c:MsgId", "", ns).strip(),
        account_ibans=[],
    )
    for report in message.iterfind(f"c:{report_name}", ns):
        account = (
            report.findtext("c:Acct/c:Id/c:IBAN", None, ns)
            or report.findtext("c:Acct/c:Id/c:Othr/c:Id", "", ns)
        ).strip()
        if account not in result.account_ibans:
            result.account_ibans.append(account)
        for entry in report.iterfind("c:Ntry", ns):
            credits = _entry_credits(entry, ns["c"], account)
            if credits is None:
                result.ignored += 1
            else:
                result.credits += credits
    return result


class _Node:
    """An element's descendants in the message's namespace, by their path of local names
    ("Refs/AcctSvcrRef"), in document order: read in one walk, where each `findtext` of a
    path would walk the element again (a credit reads some twenty paths). Below a path of
    `cut`, nothing is read (a transaction's details are a _Node of their own)."""

    __slots__ = ("element", "found")

    def __init__(self, element, namespace: str, cut: frozenset = frozenset()):
        self.element = element
        self.found: dict[str, list] = {}
        if element is not None:
            self._walk(element, "", f"{{{namespace}}}", len(namespace) + 2, cut)

    def _walk(self, element, prefix, tag_start, skip, cut):
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or not tag.startswith(tag_start):
                continue
            path = prefix + tag[skip:]
            self.found.setdefault(path, []).append(child)
            if path not in cut:
                self._walk(child, path + "/", tag_start, skip, cut)

    def find(self, path: str):
        elements = self.found.get(path)
        return elements[0] if elements else None

    def all(self, path: str) -> list:
        return self.found.get(path, [])

    def text(self, path: str) -> str:
        """The text of the first element at `path`, its spaces collapsed; "" if none."""
        element = self.find(path)
        if element is None:
            return ""
        return " ".join((element.text or "").split())


def _status(entry: _Node) -> str:
    # 001.02: <Sts>BOOK</Sts>; 001.08: <Sts><Cd>BOOK</Cd></Sts>.
    return entry.text("Sts/Cd") or entry.text("Sts")


def _amount(node: _Node, path: str) -> tuple[Decimal, str] | None:
    element = node.find(path)
    if element is None:
        return None
    amount = Decimal(element.text.strip())
    if amount != amount.quantize(CENT):
        raise _error(
            _("Montant de plus de deux décimales (ligne %(line)s) : %(amount)s.")
            % {"line": element.sourceline, "amount": amount}
        )
    return amount, element.get("Ccy")


_DETAILS = "NtryDtls/TxDtls"


def _entry_credits(element, namespace: str, account: str) -> list[Credit] | None:
    """The credits (or returned direct debits) of one booked entry, or None for an entry
    that is neither (another debit, pending or for information only, another reversal)."""
    entry = _Node(element, namespace, cut=frozenset({_DETAILS}))
    details = [_Node(tx, namespace) for tx in entry.all(_DETAILS)]
    direction = entry.text("CdtDbtInd")
    reversal = entry.text("RvslInd").lower() in {"true", "1"}
    if _status(entry) != "BOOK":
        return None
    # A debit is ours to read only when it takes back a direct debit: a reversal, or
    # transactions with return information. Fees, transfers made, a reversed debit: ignored.
    is_return = direction == "DBIT" and (
        reversal or any(tx.find("RtrInf") is not None for tx in details)
    )
    if not is_return and (direction != "CRDT" or reversal):
        return None
    entry_amount, currency = _amount(entry, "Amt")
    booked = (
        entry.text("BookgDt/Dt")
        or entry.text("BookgDt/DtTm")[:10]
        or entry.text("ValDt/Dt")
        or entry.text("ValDt/DtTm")[:10]
    )
    if not booked:
        raise _error(
            _("Écriture comptabilisée sans date (ligne %(line)s).") % {"line": element.sourceline}
        )
    entry_reference = entry.text("AcctSvcrRef")
    notes = entry.text("AddtlNtryInf")
    amounts = [_amount(tx, "Amt") or _amount(tx, "AmtDtls/TxAmt/Amt") for tx in details]
    # A batch is split into its transactions when each says its amount and they add up to
    # the entry's; otherwise the entry is one credit, described by its first transaction.
    split = (
        len(details) > 1
        and all(amounts)
        and all(ccy == currency for _amount_, ccy in amounts)
        and sum(amount for amount, _ccy in amounts) == entry_amount
    )
    parts = (
        list(zip(details, amounts, strict=True))
        if split
        else [(details[0] if details else _Node(None, namespace), None)]
    )
    credits = []
    for position, (tx, tx_amount) in enumerate(parts, start=1):
        tx_reference = tx.text("Refs/AcctSvcrRef")
        end_to_end = tx.text("Refs/EndToEndId")
        if end_to_end.upper() == "NOTPROVIDED":
            end_to_end = ""
        remittance = " ".join(
            part
            for part in [
                *(" ".join(u.text.split()) for u in tx.all("RmtInf/Ustrd") if u.text),
                tx.text("AddtlTxInf"),
                notes,
            ]
            if part
        )
        amount = tx_amount[0] if tx_amount else entry_amount
        credit = Credit(
            key="",
            account_iban=account,
            bank_reference=(tx_reference if split else entry_reference or tx_reference)[:140],
            end_to_end_id=end_to_end[:140],
            amount=amount,
            currency=currency,
            booked_on=date.fromisoformat(booked),
            payer_name=(
                tx.text("RltdPties/Dbtr/Pty/Nm")  # 001.08
                or tx.text("RltdPties/Dbtr/Nm")  # 001.02
                or tx.text("RltdPties/UltmtDbtr/Pty/Nm")
                or tx.text("RltdPties/UltmtDbtr/Nm")
            )[:140],
            payer_iban=tx.text("RltdPties/DbtrAcct/Id/IBAN"),
            creditor_reference=tx.text("RmtInf/Strd/CdtrRefInf/Ref"),
            remittance=remittance,
            is_return=is_return,
            return_reason=(tx.text("RtrInf/Rsn/Cd") or tx.text("RtrInf/Rsn/Prtry"))[:4]
            if is_return
            else "",
        )
        key = _key(credit, entry_reference, tx_reference, position if split else 0)
        credits.append(replace(credit, key=key))
    return credits


def _key(credit: Credit, entry_reference: str, tx_reference: str, position: int) -> str:
    """The credit's identity for the bank: the account and the bank's reference of the
    entry (AcctSvcrRef, "unique … assigned by the account servicer"), with the
    transaction's own reference, or its position, inside a batch. Without any bank
    reference, a digest of what the bank said about it: the same booking in two files
    has the same one."""
    if entry_reference or tx_reference:
        parts = [credit.account_iban, entry_reference or tx_reference]
        if position:
            parts.append(tx_reference or str(position))
        return "|".join(parts)[:200]
    digest = hashlib.sha256(
        "|".join(
            str(value)
            for value in (
                credit.booked_on,
                credit.amount,
                credit.currency,
                credit.end_to_end_id,
                credit.payer_iban,
                credit.payer_name,
                credit.text,
                position,
                *(["return"] if credit.is_return else []),
            )
        ).encode()
    ).hexdigest()
    return f"{credit.account_iban}|sha256:{digest}"
