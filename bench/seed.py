"""The benchmark's data set: a real customer base's size, written in bulk.

2,000 accounts, 200,000 issued invoices (ten accounts with 10,000 each, ten with exactly
10), 50 billing contacts and 50 program managers on the accounts the benchmark compares,
a few on the others. The invoices of the last OPEN_DAYS are unpaid (about 60,000: what the
bench's bank statement pays, bench/statement.py); each account has one earlier payment
recorded, from an IBAN of its own, so the statement's payers are known (matching rule 3).

On purpose this BYPASSES invoices.services.invoice_issue: issuing 200,000 invoices one by
one (row locks, audit rows, outbox emails, PDF tasks) would take hours. The rows are
written with COPY instead, but with what the service would have written: gapless INV-n
numbers in chronological order, the seller and buyer snapshots, lines and totals computed
by invoices.totals.invoice_preview (the service's own computation), one tax rule per
account, credit notes that correct an invoice of their account. The few PDFs the download
scenario needs are rendered and stored through the real invoices.pdf path.
"""

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import JSONField
from django.utils import timezone, translation
from stdnum import iban as iban_number
from stdnum import luhn

from accounts.models import AuditEvent, BillingContact, Membership, Organisation, User
from accounts.vat import FORMATS
from invoices import numbering, pdf
from invoices.models import Invoice, InvoiceLine, NumberSequence
from invoices.services import buyer_address_lines, buyer_siren
from invoices.totals import LineSpec, Totals, invoice_preview
from payments.models import Allocation, Payment
from subscriptions.demo import PLANS, seed_plans
from subscriptions.demo_invoices import (
    ENTRIES_500,
    ENTRIES_1000,
    SETUP_DAY,
    TRAINING_ADMINS,
    TRAINING_JUDGES,
)
from subscriptions.models import Subscription
from subscriptions.periods import one_year_after, one_year_before

ACCOUNTS = 2_000
INVOICES = 200_000
LARGE_ACCOUNTS = 10  # 10,000 invoices each
LARGE_INVOICES = 10_000
SMALL_ACCOUNTS = 10  # exactly 10 invoices each: the other side of the comparison
SMALL_INVOICES = 10
CROWDED_EXTRA = 30  # other accounts with 50 contacts and 50 program managers
CROWD = 50
FIRST_NUMBER = 100_001
YEARS_OF_HISTORY = 8
# Invoices issued in these last days are open: ~30 % of them, enough for the 50,000
# credits of the bench's statement to pay distinct invoices.
OPEN_DAYS = 900
PASSWORD = "billing-bench"  # noqa: S105

FIRST_NAMES = (
    "Camille Julien Sophie Claire Erik Léa Thomas Manon Hugo Chloé Lucas Inès Louis Jade "
    "Nathan Emma Arthur Alice Paul Louise Jules Lina Gabriel Rose Anna Oscar Elsa Victor"
).split()
LAST_NAMES = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
    "Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard Andre Lund "
    "Mercier Dupont Lambert Bonnet Francois Martinez Legrand Garnier Faure Rousseau Blanc"
).split()
EVENTS = (
    "Festival du Film",
    "Design Awards",
    "Prix de l'Innovation",
    "Trophées du Numérique",
    "Concours d'Architecture",
    "Photo Awards",
    "Prix Littéraire",
    "Startup Challenge",
    "Fonds de Dotation",
    "Bourse de Recherche",
)
# (country, currency, language, weight, (city, postal code, street)).
COUNTRIES = (
    ("FR", "EUR", "fr", 55, ("Lyon", "69002", "14 quai Saint-Antoine")),
    ("BE", "EUR", "fr", 5, ("Bruxelles", "1000", "12 rue Royale")),
    ("DE", "EUR", "en", 5, ("Berlin", "10115", "Invalidenstraße 5")),
    ("IT", "EUR", "en", 3, ("Milano", "20121", "Via Brera 3")),
    ("ES", "EUR", "en", 3, ("Madrid", "28004", "Calle de Hortaleza 8")),
    ("NL", "EUR", "en", 2, ("Amsterdam", "1016 AB", "Keizersgracht 100")),
    ("SE", "EUR", "en", 3, ("Stockholm", "111 57", "Sveavägen 24")),
    ("GB", "GBP", "en", 10, ("London", "EC1A 1BB", "1 King Street")),
    ("US", "USD", "en", 10, ("New York, NY", "10001", "350 Fifth Avenue")),
    ("CH", "EUR", "fr", 4, ("Genève", "1204", "Rue du Rhône 10")),
)
PRICES = {
    spec["code"]: {cur: Decimal(amount) for cur, amount in spec["prices"].items()} for spec in PLANS
}
PLAN_NAMES = {spec["code"]: (spec["name_fr"], spec["name_en"]) for spec in PLANS}
ONE_OFFS = (
    (TRAINING_ADMINS, "1", "650.00"),
    (TRAINING_JUDGES, "1", "650.00"),
    (SETUP_DAY, "2", "900.00"),
    (SETUP_DAY, "1.5", "900.00"),
    (ENTRIES_500, "1", "480.00"),
    (ENTRIES_1000, "1", "850.00"),
)
YEARLY = ("Abonnement annuel — forfait %(plan)s", "Annual subscription — %(plan)s plan")
UPGRADE_CREDIT = (
    "Crédit pour la période non utilisée — forfait %(plan)s",
    "Credit for the unused period — %(plan)s plan",
)
UPGRADE_CHARGE = (
    "Mise à niveau au prorata — forfait %(plan)s",
    "Prorated upgrade — %(plan)s plan",
)


@dataclass
class Seeded:
    """What the load scenarios need to know about the data set."""

    owners: dict[int, int] = field(default_factory=dict)  # organisation id -> owner user id
    large: list[int] = field(default_factory=list)
    small: list[int] = field(default_factory=list)
    crowded: list[int] = field(default_factory=list)
    latest_invoice: dict[int, str] = field(default_factory=dict)  # organisation id -> number
    with_pdf: dict[int, str] = field(default_factory=dict)  # organisation id -> number
    one_page_invoice: str = ""
    counts: dict[str, int] = field(default_factory=dict)


def _fr_vat_number(rng: random.Random) -> str:
    siren = str(rng.randrange(10_000_000, 99_999_999))
    siren += luhn.calc_check_digit(siren)
    key = (12 + 3 * (int(siren) % 97)) % 97
    return f"FR{key:02d}{siren}"


def _text(pair, language, **params):
    text = pair[1] if language.startswith("en") else pair[0]
    return text % params if params else text


def _organisations(rng: random.Random) -> list[Organisation]:
    weights = [c[3] for c in COUNTRIES]
    organisations = []
    for i in range(ACCOUNTS):
        country, currency, language, _weight, (city, postal, street) = rng.choices(
            COUNTRIES, weights
        )[0]
        if country == "FR":
            vat_number = _fr_vat_number(rng)
        elif country in FORMATS and rng.random() < 0.8:
            vat_number = FORMATS[country][1]  # valid: reverse charge
        elif country in FORMATS:
            vat_number = ""  # EU business without a number: French VAT
        else:
            vat_number = f"{country}-{rng.randrange(10**8, 10**9)}"  # free text outside the EU
        organisations.append(
            Organisation(
                name=f"{rng.choice(EVENTS)} {city} {i + 1:04d}",
                address_line1=street,
                address_line2=rng.choice(["", "", "Bâtiment B", "Suite 200"]),
                postal_code=postal,
                city=city,
                country=country,
                vat_number=vat_number,
                currency=currency,
                language=language,
            )
        )
    return organisations


def _people(rng, organisations, roles_for, password):
    """Users, memberships (owner + managers) and billing contacts for every account."""
    users, memberships, contacts = [], [], []
    for organisation in organisations:
        managers, billing = roles_for(organisation)
        for index in range(1 + managers):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            user = User(
                email=f"{first.lower()}.{last.lower()}.{organisation.pk}.{index}@bench.example",
                first_name=first,
                last_name=last,
                password=password,
            )
            users.append(user)
            role = Membership.Role.OWNER if index == 0 else Membership.Role.MANAGER
            memberships.append(Membership(organisation=organisation, user=user, role=role))
        for index in range(billing):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            contacts.append(
                BillingContact(
                    organisation=organisation,
                    first_name=first,
                    last_name=last,
                    email=f"compta{index}.{organisation.pk}@bench.example",
                )
            )
    return users, memberships, contacts


@dataclass
class _Template:
    """One kind of invoice for one account, computed once by invoice_preview."""

    totals: Totals
    periods: str  # "none", "year" (one year from the issue date), "rest" (to period end)


def _templates(organisation: Organisation) -> list[_Template]:
    language = organisation.language
    currency = organisation.currency
    templates = []
    with translation.override(language):
        for code, names in PLAN_NAMES.items():
            plan_name = names[1] if language.startswith("en") else names[0]
            spec = LineSpec(
                _text(YEARLY, language, plan=plan_name), Decimal(1), PRICES[code][currency]
            )
            totals = invoice_preview(organisation=organisation, lines=[spec])
            templates.append(_Template(totals, "year"))
        for pair, quantity, price in ONE_OFFS:
            spec = LineSpec(_text(pair, language), Decimal(quantity), Decimal(price))
            templates.append(
                _Template(invoice_preview(organisation=organisation, lines=[spec]), "none")
            )
        essentiel, pro = PLAN_NAMES["essentiel"], PLAN_NAMES["professionnel"]
        for months_left in (3, 6, 9):
            fraction = Decimal(months_left) / Decimal(12)
            old = (PRICES["essentiel"][currency] * fraction).quantize(Decimal("0.01"))
            new = (PRICES["professionnel"][currency] * fraction).quantize(Decimal("0.01"))
            lines = [
                LineSpec(
                    _text(UPGRADE_CREDIT, language, plan=_text(essentiel, language)),
                    Decimal(1),
                    -old,
                ),
                LineSpec(
                    _text(UPGRADE_CHARGE, language, plan=_text(pro, language)), Decimal(1), new
                ),
            ]
            templates.append(
                _Template(invoice_preview(organisation=organisation, lines=lines), "rest")
            )
    return templates


class _Copy:
    """COPY rows of a model: the columns both the model and the migrated table have (the
    models may be ahead of the migrations while someone works on them). A column the row
    does not give gets the field's default."""

    def __init__(self, cursor, model, *, generated_pk: bool = False):
        table = model._meta.db_table
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
        )
        existing = {row[0] for row in cursor.fetchall()}
        self.fields = [
            f
            for f in model._meta.concrete_fields
            if f.column in existing and not (generated_pk and f.primary_key)
        ]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        self.context = cursor.copy(
            f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
        )

    def __enter__(self):
        self.copy = self.context.__enter__()
        return self

    def __exit__(self, *exc):
        return self.context.__exit__(*exc)

    def write(self, row: dict):
        values = []
        for f in self.fields:
            value = row[f.attname] if f.attname in row else f.get_default()
            if isinstance(f, JSONField) and not isinstance(value, str):
                value = json.dumps(value)
            values.append(value)
        self.copy.write_row(values)


def _invoice_counts(rng, organisations, large, small) -> dict[int, int]:
    counts = {o.pk: LARGE_INVOICES for o in large}
    counts.update({o.pk: SMALL_INVOICES for o in small})
    others = [o for o in organisations if o.pk not in counts]
    left = INVOICES - sum(counts.values())
    base, extra = divmod(left, len(others))
    for index, organisation in enumerate(others):
        counts[organisation.pk] = base + (1 if index < extra else 0)
    return counts


def _issue_dates(total: int, today: date) -> list[date]:
    start = today - timedelta(days=365 * YEARS_OF_HISTORY)
    span = (today - start).days
    return [start + timedelta(days=span * i // total) for i in range(total)]


def _write_invoices(rng, organisations, counts, today, events) -> dict[int, str]:
    """COPY the invoices and their lines in chronological order; returns the latest number
    of each account."""
    seller = settings.SELLER
    seller_fields = {
        "seller_legal_name": seller["legal_name"],
        "seller_legal_form": seller.get("legal_form", ""),
        "seller_address_lines": json.dumps(list(seller["address_lines"])),
        "seller_country": seller["country"],
        "seller_siren": seller.get("siren", ""),
        "seller_rcs": seller.get("rcs", ""),
        "seller_vat_number": seller.get("vat_number", ""),
        "seller_iban": seller.get("iban", ""),
        "seller_bic": seller.get("bic", ""),
        "seller_vat_on_debits": bool(seller.get("vat_on_debits", False)),
    }
    by_pk = {o.pk: o for o in organisations}
    buyer = {}
    templates = {}
    for organisation in organisations:
        with translation.override(organisation.language):
            buyer[organisation.pk] = {
                "buyer_legal_name": organisation.name,
                "buyer_address_lines": json.dumps(
                    buyer_address_lines(organisation, organisation.language)
                ),
                "buyer_country": organisation.country,
                "buyer_vat_number": organisation.vat_number,
                "buyer_siren": buyer_siren(organisation),
                # Address parts (newer models keep them apart; ignored when absent).
                "buyer_street_lines": json.dumps(
                    [x for x in (organisation.address_line1, organisation.address_line2) if x]
                ),
                "buyer_postal_code": organisation.postal_code,
                "buyer_city": organisation.city,
            }
        templates[organisation.pk] = _templates(organisation)

    slots = [pk for pk, n in counts.items() for _ in range(n)]
    rng.shuffle(slots)
    dates = _issue_dates(len(slots), today)
    last_invoice = {}  # organisation id -> (id, template, issue date) of its last invoice
    latest_number = {}
    line_id = 0
    open_after = today - timedelta(days=OPEN_DAYS)
    tz = timezone.get_current_timezone()
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # the psycopg cursor, for COPY
        with _Copy(cursor, Invoice) as invoices:
            lines_out = []
            for index, (organisation_id, day) in enumerate(zip(slots, dates, strict=True)):
                invoice_id = index + 1
                sequence = FIRST_NUMBER + index
                organisation = by_pk[organisation_id]
                previous = last_invoice.get(organisation_id)
                credit_note = (
                    previous is not None and previous[1] is not None and rng.random() < 0.01
                )
                if credit_note:
                    template = previous[1]
                    sign = Decimal(-1)
                    kind, corrects = Invoice.Kind.CREDIT_NOTE, previous[0]
                else:
                    template = rng.choice(templates[organisation_id])
                    sign = Decimal(1)
                    kind, corrects = Invoice.Kind.INVOICE, None
                totals = template.totals
                if template.periods == "year":
                    period = (day, one_year_after(day))
                elif template.periods == "rest":
                    period = (day, day + timedelta(days=rng.choice((91, 182, 273))))
                else:
                    period = (None, None)
                status = Invoice.Status.OPEN if day >= open_after else Invoice.Status.PAID
                if kind == Invoice.Kind.CREDIT_NOTE:
                    status = Invoice.Status.PAID
                created = timezone.make_aware(datetime.combine(day, time(9, 0)), tz)
                invoices.write(
                    {
                        "id": invoice_id,
                        "number": numbering.format_number(sequence),
                        "sequence": sequence,
                        "organisation_id": organisation_id,
                        "kind": kind,
                        "corrects_id": corrects,
                        "status": status,
                        "issue_date": day,
                        "due_date": day + timedelta(days=30),
                        "period_start": period[0],
                        "period_end": period[1],
                        "currency": organisation.currency,
                        "language": organisation.language,
                        "subtotal": sign * totals.subtotal,
                        "vat_rate": totals.vat_rate,
                        "vat_amount": sign * totals.vat_amount,
                        "total": sign * totals.total,
                        "tax_treatment": totals.treatment,
                        "tax_mention": totals.mention,
                        "payment_method": Invoice.PaymentMethod.BANK_TRANSFER,
                        **seller_fields,
                        **buyer[organisation_id],
                        "pdf_name": "",
                        "pdf_sha256": "",
                        "pdf_rendered_at": None,
                        "created_at": created,
                    }
                )
                for position, line in enumerate(totals.lines, start=1):
                    line_id += 1
                    lines_out.append(
                        {
                            "id": line_id,
                            "invoice_id": invoice_id,
                            "position": position,
                            "description": line.description,
                            "period_start": period[0],
                            "period_end": period[1],
                            "quantity": line.quantity,
                            "unit_price": sign * line.unit_price,
                            "vat_rate": line.vat_rate,
                            "amount": sign * line.amount,
                        }
                    )
                number = numbering.format_number(sequence)
                after = {
                    "number": number,
                    "kind": kind,
                    "issue_date": day.isoformat(),
                    "total": str(sign * totals.total),
                    "currency": organisation.currency,
                }
                if credit_note:
                    after["corrects"] = numbering.format_number(FIRST_NUMBER + corrects - 1)
                events.append(
                    (
                        organisation_id,
                        "credit_note.issued" if credit_note else "invoice.issued",
                        {},
                        after,
                        created,
                    )
                )
                if status == Invoice.Status.PAID and not credit_note:
                    paid = min(day + timedelta(days=rng.randrange(1, 31)), today)
                    events.append(
                        (
                            organisation_id,
                            "invoice.paid",
                            {"number": number, "status": "open"},
                            {"number": number, "status": "paid"},
                            timezone.make_aware(datetime.combine(paid, time(11, 0)), tz),
                        )
                    )
                last_invoice[organisation_id] = (
                    invoice_id,
                    None if credit_note else template,
                    day,
                )
                latest_number[organisation_id] = numbering.format_number(sequence)
        with _Copy(cursor, InvoiceLine) as lines:
            for row in lines_out:
                lines.write(row)
        # In time order, as they would have been appended.
        events.sort(key=lambda event: event[4])
        with _Copy(cursor, AuditEvent, generated_pk=True) as audit:
            for organisation_id, action, before, after, created in events:
                audit.write(
                    {
                        "organisation_id": organisation_id,
                        "actor_id": None,
                        "actor_label": "system",
                        "action": action,
                        "before": before,
                        "after": after,
                        "ip_address": None,
                        "created_at": created,
                    }
                )
        # Corrected invoices are void, as invoice_void would have left them.
        cursor.execute(
            "UPDATE invoices_invoice SET status = 'void' WHERE id IN "
            "(SELECT corrects_id FROM invoices_invoice WHERE corrects_id IS NOT NULL)"
        )
        for model in (Invoice, InvoiceLine):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
    NumberSequence.objects.update_or_create(
        name=numbering.SEQUENCE,
        defaults={"next_value": FIRST_NUMBER + len(slots), "last_issue_date": dates[-1]},
    )
    return latest_number


def _subscriptions(rng, organisations, plans, today):
    subscriptions = []
    for organisation in organisations:
        period_end = today + timedelta(days=rng.randrange(5, 360))
        subscriptions.append(
            Subscription(
                organisation=organisation,
                plan=plans[rng.choice(list(plans))],
                period_start=one_year_before(period_end),
                period_end=period_end,
                status=Subscription.Status.ACTIVE
                if rng.random() < 0.95
                else Subscription.Status.CANCELLED,
            )
        )
    Subscription.objects.bulk_create(subscriptions, batch_size=2000)


def payer_iban(organisation_id: int) -> str:
    """The IBAN an account pays from: a valid French IBAN (RIB key and check digits)."""
    bank, branch, account = "30004", "00001", f"{organisation_id:011d}"
    key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
    bban = f"{bank}{branch}{account}{key:02d}"
    return f"FR{iban_number.calc_check_digits(f'FR00{bban}')}{bban}"


def _payments_history(organisations, today) -> int:
    """One payment recorded per account, from its own IBAN, for its latest paid invoice
    (allocated in full, as payment_record leaves it): the payer is known to the matching."""
    names = {o.pk: o.name for o in organisations}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ON (organisation_id) id, organisation_id, total, currency, "
            "issue_date FROM invoices_invoice WHERE kind = %s AND status = %s "
            "ORDER BY organisation_id, sequence DESC",
            [Invoice.Kind.INVOICE, Invoice.Status.PAID],
        )
        rows = cursor.fetchall()
    paid = {}
    payments = []
    for invoice_id, organisation_id, total, currency, issued in rows:
        paid_on = min(issued + timedelta(days=20), today)
        paid[invoice_id] = paid_on
        payments.append(
            Payment(
                organisation_id=organisation_id,
                amount=total,
                currency=currency,
                received_on=paid_on,
                method=Payment.Method.TRANSFER,
                payer_name=names[organisation_id].upper(),
                payer_iban=payer_iban(organisation_id),
                bank_reference=f"HIST-{invoice_id}",
                source=Payment.Source.SUPPORT,
            )
        )
    payments = Payment.objects.bulk_create(payments, batch_size=2000)
    Allocation.objects.bulk_create(
        [
            Allocation(payment=payment, invoice_id=invoice_id, amount=payment.amount)
            for payment, (invoice_id, *_rest) in zip(payments, rows, strict=True)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE invoices_invoice SET amount_paid = total, paid_on = %s WHERE id = %s",
            [(day, invoice_id) for invoice_id, day in paid.items()],
        )
    return len(payments)


def seed(*, seed_value: int = 20251126, pdfs: int = 20, log=print) -> Seeded:
    """Fill the (empty, migrated) database. Deterministic for a given seed_value."""
    rng = random.Random(seed_value)
    today = timezone.localdate()
    result = Seeded()
    with transaction.atomic():
        plans = seed_plans()
        organisations = Organisation.objects.bulk_create(_organisations(rng), batch_size=2000)
        large = organisations[:LARGE_ACCOUNTS]
        small = organisations[LARGE_ACCOUNTS : LARGE_ACCOUNTS + SMALL_ACCOUNTS]
        crowded = {o.pk for o in large + small}
        crowded |= {
            o.pk
            for o in rng.sample(organisations[LARGE_ACCOUNTS + SMALL_ACCOUNTS :], CROWDED_EXTRA)
        }

        def roles_for(organisation):
            if organisation.pk in crowded:
                return CROWD, CROWD
            return rng.choice((0, 1, 1, 2, 3)), rng.choice((0, 1, 1, 2, 3))

        users, memberships, contacts = _people(
            rng, organisations, roles_for, make_password(PASSWORD)
        )
        User.objects.bulk_create(users, batch_size=5000)
        for membership in memberships:
            membership.user_id = membership.user.pk
        Membership.objects.bulk_create(memberships, batch_size=5000)
        BillingContact.objects.bulk_create(contacts, batch_size=5000)
        _subscriptions(rng, organisations, plans, today)
        log(f"  {len(organisations)} accounts, {len(users)} users, {len(contacts)} contacts")

        counts = _invoice_counts(rng, organisations, large, small)
        # The audit trail the services would have written: contact_add, then invoice_issue
        # and invoice_mark_paid (added by _write_invoices).
        tz = timezone.get_current_timezone()
        history = YEARS_OF_HISTORY * 365
        events = [
            (
                contact.organisation_id,
                "contact.added",
                {},
                {"name": contact.full_name, "email": contact.email},
                timezone.make_aware(
                    datetime.combine(today - timedelta(days=rng.randrange(history)), time(15)),
                    tz,
                ),
            )
            for contact in contacts
        ]
        result.latest_invoice = _write_invoices(rng, organisations, counts, today, events)
        _payments_history(organisations, today)

    result.owners = {m.organisation_id: m.user_id for m in memberships if m.is_owner}
    result.large = [o.pk for o in large]
    result.small = [o.pk for o in small]
    result.crowded = sorted(crowded)
    result.counts = {
        "accounts": Organisation.objects.count(),
        "users": User.objects.count(),
        "program_managers": Membership.objects.filter(role=Membership.Role.MANAGER).count(),
        "billing_contacts": BillingContact.objects.count(),
        "invoices": Invoice.objects.count(),
        "invoice_lines": InvoiceLine.objects.count(),
        "credit_notes": Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).count(),
        "audit_events": AuditEvent.objects.count(),
        "open_invoices": Invoice.objects.filter(
            kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN
        ).count(),
        "payments": Payment.objects.count(),
    }
    log(f"  {result.counts['invoices']} invoices, {result.counts['invoice_lines']} lines")

    # A stored PDF for the latest one-line invoice of a few accounts (the real path).
    candidates = [pk for pk in rng.sample(sorted(result.owners), pdfs * 3)]
    for organisation_id in candidates:
        if len(result.with_pdf) >= pdfs:
            break
        invoice = (
            Invoice.objects.filter(organisation_id=organisation_id, kind=Invoice.Kind.INVOICE)
            .order_by("-sequence")
            .first()
        )
        if invoice is None or invoice.lines.count() != 1:
            continue
        pdf.invoice_pdf_ensure(invoice_id=invoice.pk)
        result.with_pdf[organisation_id] = invoice.number
    result.one_page_invoice = next(iter(result.with_pdf.values()))
    log(f"  {len(result.with_pdf)} PDFs rendered and stored")
    return result
