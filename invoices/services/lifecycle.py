"""The statuses the e-invoicing platform reports (« cycle de vie »), recorded by support:
one at a time (`invoice_lifecycle_record`) or from a CSV file (`invoice_lifecycle_import`).
The portal's own steps are written by history.py. The rules are in docs/invoices.md,
"Lifecycle"."""

import csv
import io
import unicodedata
from dataclasses import dataclass
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from accounts.audit import audit_record

from ..models import Invoice, InvoiceStatusEvent
from .status import _set_status

Code = InvoiceStatusEvent.Code
Source = InvoiceStatusEvent.Source

# What support may record from the platform. « Encaissée » is not among them: it follows from
# the payment the portal records (invoice_mark_paid), never the other way round.
PLATFORM_CODES = (Code.DEPOSITED, Code.APPROVED, Code.REFUSED, Code.REJECTED)
# After one of these nothing later is accepted: the document's life on the platform is over.
FINAL_CODES = frozenset({Code.REFUSED, Code.CASHED, Code.REJECTED})
# Statuses that cannot stand together, whatever their dates: the buyer approves, refuses
# or pays only a document the platform did not reject, and approval and refusal exclude
# each other.
EXCLUDES = {
    Code.REJECTED: {Code.APPROVED, Code.REFUSED, Code.CASHED},
    Code.REFUSED: {Code.APPROVED, Code.CASHED, Code.REJECTED},
    Code.APPROVED: {Code.REFUSED, Code.REJECTED},
    Code.DEPOSITED: {Code.REJECTED},
}
NOTE_MAX = 500
CSV_MAX_BYTES = 1024 * 1024
CSV_MAX_ROWS = 5000


def _code_of(value) -> str:
    """A lifecycle status from its code ("210") or its French label (« Refusée », any case,
    accents optional); ValidationError otherwise."""
    text = " ".join(str(value or "").split())
    wanted = _fold(text)
    for code in Code:
        if wanted in {_fold(code.value), _fold(_label_fr(code))}:
            return code
    raise ValidationError(_("Statut inconnu : « %(status)s ».") % {"status": text})


def _label_fr(code) -> str:
    with translation.override("fr"):
        return str(code.label)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _validate(*, invoice: Invoice, code: str, occurred_at: datetime, existing) -> None:
    """Refuse (ValidationError) a status that the rules of docs/invoices.md forbid;
    `existing` is the invoice's history, oldest first."""
    label = Code(code).label
    if code not in PLATFORM_CODES:
        if code == Code.CASHED:
            raise ValidationError(
                _(
                    "« Encaissée » découle du paiement : enregistrez le paiement de la facture, "
                    "le statut suit."
                )
            )
        raise ValidationError(
            _("« %(status)s » est un statut du portail, pas de la plateforme.") % {"status": label}
        )
    if occurred_at > timezone.now():
        raise ValidationError(_("Un statut ne peut pas être daté du futur."))
    if timezone.localtime(occurred_at).date() < invoice.issue_date:
        raise ValidationError(_("Un statut ne peut pas précéder la date d'émission."))
    for event in existing:
        if event.code == code:
            raise ValidationError(
                _("La facture %(number)s est déjà « %(status)s » depuis le %(date)s.")
                % {
                    "number": invoice.number,
                    "status": label,
                    "date": timezone.localtime(event.occurred_at).strftime("%d/%m/%Y"),
                }
            )
        if event.code in FINAL_CODES and event.occurred_at <= occurred_at:
            raise ValidationError(
                _("La facture %(number)s est « %(final)s » : aucun statut ne peut suivre.")
                % {"number": invoice.number, "final": event.label}
            )
        if event.code in EXCLUDES[code]:
            raise ValidationError(
                _("Une facture « %(other)s » ne peut pas être « %(status)s ».")
                % {"other": event.label, "status": label}
            )
    if code in (Code.REJECTED, Code.REFUSED):
        if invoice.is_credit_note or invoice.status != Invoice.Status.OPEN:
            raise ValidationError(
                _(
                    "Seule une facture à payer peut être « %(status)s » "
                    "(%(number)s est « %(now)s »)."
                )
                % {"status": label, "number": invoice.number, "now": invoice.status_label}
            )


def _record(
    *, invoice, code, occurred_at, source, actor, note, ip
) -> tuple[InvoiceStatusEvent, bool]:
    """Validate and write one platform status, with its audit event and its consequence;
    returns the event and whether it is new. The invoice row is locked: two records for one
    invoice run one after the other."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    existing = list(locked.status_events.order_by("occurred_at", "id"))
    same = [e for e in existing if e.code == code and e.occurred_at == occurred_at]
    if same:
        return same[
            0
        ], False  # the same status at the same time: already recorded (an import re-run)
    _validate(invoice=locked, code=code, occurred_at=occurred_at, existing=existing)
    event = InvoiceStatusEvent.objects.create(
        invoice=locked,
        code=code,
        occurred_at=occurred_at,
        source=source,
        actor=actor,
        note=note,
    )
    audit_record(
        organisation=locked.organisation,
        action="invoice.lifecycle",
        actor=actor,
        support=True,
        after={
            "number": locked.number,
            "status": code,
            "occurred_at": occurred_at.isoformat(),
            "source": source,
            "note": note,
        },
        ip=ip,
    )
    if code == Code.REJECTED:
        # Deemed not issued: nothing is owed, the number stays used (gapless series), and
        # no credit note cancels it. Support issues the corrected invoice, with a new number.
        _set_status(
            invoice=locked,
            new=Invoice.Status.VOID,
            allowed_from={Invoice.Status.OPEN},
            action="invoice.rejected",
            actor=actor,
            by_support=True,
            ip=ip,
            extra={"lifecycle": code, "note": note},
        )
    # A refusal changes nothing here by itself: the invoice stays due until support cancels
    # it by a credit note (credit_note_issue), which the admin prompts for.
    return event, True


def _clean_note(note) -> str:
    note = " ".join(str(note or "").split())
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": _("500 caractères au maximum.")})
    return note


@transaction.atomic
def invoice_lifecycle_record(
    *,
    invoice: Invoice,
    status: str,
    occurred_at: datetime,
    source: str = Source.PLATFORM,
    actor,
    note: str = "",
    ip: str | None = None,
) -> InvoiceStatusEvent:
    """Record a status the platform reported for `invoice` (by code or French label), dated
    when it happened. Refused (ValidationError) for an unknown or portal status, a date in
    the future or before the issue, or a transition the rules forbid. A rejected invoice
    becomes void (deemed not issued, its number kept); a refused one stays due until support
    cancels it by a credit note. The same status at the same time again changes nothing."""
    code = _code_of(status)
    if source not in (Source.PLATFORM, Source.IMPORT):
        raise ValueError(f"Unknown lifecycle source {source!r}.")
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    event, _new = _record(
        invoice=invoice,
        code=code,
        occurred_at=occurred_at,
        source=source,
        actor=actor,
        note=_clean_note(note),
        ip=ip,
    )
    return event


@dataclass(frozen=True)
class ImportRow:
    line: int
    invoice: Invoice
    code: str
    occurred_at: datetime
    note: str


@dataclass(frozen=True)
class ImportResult:
    recorded: int
    unchanged: int
    rejected: list[str]  # numbers of the invoices the import rejected
    refused: list[str]  # numbers of the invoices the import refused


def _parse_when(value: str) -> datetime | None:
    value = value.strip()
    try:
        when = parse_datetime(value)
        if when is None and (day := parse_date(value)) is not None:
            when = datetime.combine(day, time.min)
        if when is None:
            day = datetime.strptime(value, "%d/%m/%Y")
            when = day
    except ValueError:
        return None
    return when if timezone.is_aware(when) else timezone.make_aware(when)


def _read_rows(data: bytes) -> list[list[str]]:
    if not data.strip():
        raise ValidationError(_("Le fichier est vide."))
    if len(data) > CSV_MAX_BYTES:
        raise ValidationError(_("Le fichier dépasse 1 Mo : découpez-le."))
    if b"\x00" in data:
        raise ValidationError(_("Ce fichier n'est pas un fichier CSV (texte)."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(_("Le fichier doit être encodé en UTF-8.")) from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise ValidationError(_("Fichier CSV illisible : %(error)s.") % {"error": exc}) from None
    if len(rows) > CSV_MAX_ROWS + 1:
        raise ValidationError(
            _("%(max)d lignes au plus par fichier : découpez-le.") % {"max": CSV_MAX_ROWS}
        )
    return rows


def _parse(data: bytes) -> tuple[list[tuple[int, str, str, datetime, str]], list]:
    """The file's rows as (line, number, code, when, note), and the errors, by line number.
    An optional first line naming the columns is skipped."""
    rows = _read_rows(data)
    parsed, errors = [], []
    for line, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if line == 1 and cells[0].casefold() in {"invoice_number", "numero", "numéro"}:
            continue
        if len(cells) not in (3, 4):
            _add(
                errors,
                line,
                _("Ligne %(line)d : 3 ou 4 colonnes attendues (numéro, statut, date[, note]).")
                % {"line": line},
            )
            continue
        number, status, when_text = cells[:3]
        note = cells[3] if len(cells) == 4 else ""
        try:
            code = _code_of(status)
            note = _clean_note(note)
        except ValidationError as exc:
            _add(
                errors,
                line,
                _("Ligne %(line)d : %(error)s") % {"line": line, "error": " ".join(exc.messages)},
            )
            continue
        when = _parse_when(when_text)
        if when is None:
            _add(
                errors,
                line,
                _("Ligne %(line)d : date illisible « %(value)s » (AAAA-MM-JJ ou JJ/MM/AAAA).")
                % {"line": line, "value": when_text},
            )
            continue
        parsed.append((line, number, code, when, note))
    if not parsed and not errors:
        raise ValidationError(_("Le fichier ne contient aucune ligne de statut."))
    return parsed, errors


@transaction.atomic
def invoice_lifecycle_import(
    *, data: bytes, actor, ip: str | None = None, organisation=None
) -> ImportResult:
    """Record every status of a CSV file (`invoice_number,status,occurred_at[,note]`), all
    or nothing: each row is checked first, and one bad row anywhere raises ValidationError
    listing every bad row by its line number, with nothing saved. `organisation` limits the
    file to that account's invoices. Rejected and refused invoices are returned for the
    message that prompts support to act."""
    parsed, errors = _parse(data)
    numbers = {number for _line, number, *_rest in parsed}
    invoices = Invoice.objects.filter(number__in=numbers)
    if organisation is not None:
        invoices = invoices.filter(organisation=organisation)
    by_number = {invoice.number: invoice for invoice in invoices}
    for line, number, *_rest in parsed:
        if number not in by_number:
            _add(
                errors,
                line,
                _("Ligne %(line)d : facture %(number)s introuvable.")
                % {"line": line, "number": number},
            )
    if errors:
        raise ValidationError(_messages(errors))
    recorded = unchanged = 0
    rejected, refused = [], []
    # Each row is validated against the history the rows before it wrote, inside one
    # savepoint per row so the first failure can be reported with its line, and then the
    # whole import rolls back (the error is raised out of this transaction).
    for line, number, code, when, note in sorted(parsed, key=lambda row: (row[3], row[0])):
        invoice = by_number[number]
        try:
            with transaction.atomic():
                _event, added = _record(
                    invoice=invoice,
                    code=code,
                    occurred_at=when,
                    source=Source.IMPORT,
                    actor=actor,
                    note=note,
                    ip=ip,
                )
        except ValidationError as exc:
            _add(
                errors,
                line,
                _("Ligne %(line)d (%(number)s) : %(error)s")
                % {"line": line, "number": number, "error": " ".join(exc.messages)},
            )
            continue
        if added:
            recorded += 1
            if code == Code.REJECTED:
                rejected.append(number)
            elif code == Code.REFUSED:
                refused.append(number)
        else:
            unchanged += 1
    if errors:
        raise ValidationError(_messages(errors))
    return ImportResult(recorded=recorded, unchanged=unchanged, rejected=rejected, refused=refused)


def _add(errors: list, line: int, message: str) -> None:
    errors.append((line, message))


def _messages(errors: list) -> list[str]:
    """The errors in the file's order."""
    return [message for _line, message in sorted(errors, key=lambda error: error[0])]
