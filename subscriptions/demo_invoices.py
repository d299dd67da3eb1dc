"""Demo invoices (idempotent: nothing happens once the demo accounts have invoices).

Here rather than in invoices/: the history is made of the plans' yearly lines and an
upgrade, which subscriptions knows and invoices, a lower layer, must not import.

Eighteen invoices over four years, issued in date order through invoice_issue from the
one gapless sequence started at 10665: twelve to the Lyon festival (French VAT, the last
one, still open, is INV-10682 as in the help article) and six to the Stockholm awards
(reverse charge, in English). Their PDFs are rendered and their emails printed once.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from accounts.models import Organisation
from invoices import numbering, services
from invoices.models import Invoice
from invoices.references import rf_reference
from invoices.totals import LineSpec, round_money
from payments import services as payment_services

from .models import Plan, PlanPrice, Subscription
from .pricing import yearly_line

FIRST_NUMBER = 10665
LYON = "Festival International du Film de Lyon"
NORDIC = "Nordic Design Awards"

# (French, English) descriptions of the one-off services.
TRAINING_ADMINS = (
    "Formation des administrateurs (demi-journée, à distance)",
    "Administrator training (half day, remote)",
)
TRAINING_JUDGES = (
    "Formation des jurés (demi-journée, à distance)",
    "Judge training (half day, remote)",
)
SETUP_DAY = ("Accompagnement au paramétrage (jour)", "Setup assistance (day)")
ENTRIES_500 = ("Pack de 500 candidatures supplémentaires", "Additional 500 entries pack")
ENTRIES_1000 = ("Pack de 1 000 candidatures supplémentaires", "Additional 1,000 entries pack")
UPGRADE_NEW = ("Passage au forfait %(plan)s, au prorata", "Upgrade to the %(plan)s plan, prorated")
UPGRADE_CREDIT = (
    "Crédit pour la période non utilisée du forfait %(plan)s",
    "Credit for the unused period of the %(plan)s plan",
)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _text(pair, organisation, **params):
    text = pair[1] if organisation.language.startswith("en") else pair[0]
    return text % params if params else text


def _one_off(organisation, pair, quantity, unit_price):
    return LineSpec(
        description=_text(pair, organisation),
        quantity=Decimal(quantity),
        unit_price=Decimal(unit_price),
    )


def _yearly(organisation, plan, start):
    return yearly_line(plan=plan, organisation=organisation, start=start)


def _upgrade(organisation, old, new, start, end):
    """A mid-period upgrade: the new plan for the rest of the period, less the old one."""
    fraction = Decimal((end - start).days) / Decimal(365)
    lines = []
    for plan, pair, sign in ((new, UPGRADE_NEW, 1), (old, UPGRADE_CREDIT, -1)):
        price = PlanPrice.objects.get(plan=plan, currency=organisation.currency).yearly_amount
        with translation.override(organisation.language):
            description = _text(pair, organisation, plan=plan.name)
        lines.append(
            LineSpec(
                description=description,
                quantity=Decimal(1),
                unit_price=sign * round_money(price * fraction),
                period_start=start,
                period_end=end,
            )
        )
    return lines


def _period_start(organisation, today, renews_in):
    subscription = Subscription.objects.filter(organisation=organisation).first()
    if subscription is not None:
        return subscription.period_start
    return _years_before(today + timedelta(days=renews_in), 1)


def _lyon(organisation, today):
    essentiel = Plan.objects.get(code="essentiel")
    pro = Plan.objects.get(code="professionnel")
    y0 = _period_start(organisation, today, 95)
    y = {k: _years_before(y0, -k) for k in (-3, -2, -1, 0)}
    upgrade_day = y[-2] + timedelta(days=210)
    return [
        (y[-3], [_yearly(organisation, essentiel, y[-3])]),
        (y[-3] + timedelta(days=120), [_one_off(organisation, TRAINING_ADMINS, 1, "650.00")]),
        (y[-2], [_yearly(organisation, essentiel, y[-2])]),
        (y[-2] + timedelta(days=90), [_one_off(organisation, ENTRIES_500, 1, "480.00")]),
        (upgrade_day, _upgrade(organisation, essentiel, pro, upgrade_day, y[-1])),
        (y[-1], [_yearly(organisation, pro, y[-1])]),
        (y[-1] + timedelta(days=60), [_one_off(organisation, SETUP_DAY, 2, "900.00")]),
        (y[-1] + timedelta(days=150), [_one_off(organisation, ENTRIES_1000, 1, "850.00")]),
        (y[-1] + timedelta(days=240), [_one_off(organisation, TRAINING_JUDGES, 1, "650.00")]),
        (y[0], [_yearly(organisation, pro, y[0])]),
        (y[0] + timedelta(days=100), [_one_off(organisation, SETUP_DAY, "1.5", "900.00")]),
        # The most recent one, still to pay: INV-10682.
        (today - timedelta(days=12), [_one_off(organisation, ENTRIES_1000, 1, "850.00")]),
    ]


def _nordic(organisation, today):
    essentiel = Plan.objects.get(code="essentiel")
    n0 = _period_start(organisation, today, 210)
    n = {k: _years_before(n0, -k) for k in (-2, -1, 0)}
    return [
        (n[-2], [_yearly(organisation, essentiel, n[-2])]),
        (n[-2] + timedelta(days=45), [_one_off(organisation, TRAINING_ADMINS, 1, "650.00")]),
        (n[-1], [_yearly(organisation, essentiel, n[-1])]),
        (n[-1] + timedelta(days=200), [_one_off(organisation, ENTRIES_500, 1, "480.00")]),
        (n[0], [_yearly(organisation, essentiel, n[0])]),
        (n[0] + timedelta(days=60), [_one_off(organisation, TRAINING_JUDGES, 1, "650.00")]),
    ]


def _backdate_audit(invoice, day: date) -> None:
    """Demo history only: the audit rows of an invoice issued "years ago" carry that day,
    not the seeding time, so the recent activity reads like the account's history. (An
    update() of the rows, as the erasure does; never done outside the demo.)"""
    from accounts.models import AuditEvent

    moment = timezone.make_aware(datetime.combine(day, time(9, 0)))
    AuditEvent.objects.filter(
        organisation_id=invoice.organisation_id, after__number=invoice.number
    ).update(created_at=moment)


# The demo's customers pay by transfer twelve days after the invoice, quoting its reference.
PAID_AFTER = timedelta(days=12)


def _pay(invoice: Invoice, organisation: Organisation, day: date) -> None:
    if invoice.total <= 0:
        services.invoice_mark_paid(invoice=invoice, paid_on=day)
        return
    payment_services.payment_record(
        organisation=organisation,
        amount=invoice.total,
        currency=invoice.currency,
        received_on=day,
        payer_name=organisation.name.upper(),
        bank_reference=rf_reference(invoice.number),
        invoices=[invoice],
    )


def seed():
    accounts = {o.name: o for o in Organisation.objects.filter(name__in=[LYON, NORDIC])}
    if len(accounts) < 2 or Invoice.objects.filter(organisation__in=accounts.values()).exists():
        return
    try:
        numbering.sequence_start(first=FIRST_NUMBER)
    except ValidationError:
        pass  # the sequence is in use (invoices of other accounts): continue it
    today = timezone.localdate()
    plan = [(day, accounts[LYON], lines) for day, lines in _lyon(accounts[LYON], today)]
    plan += [(day, accounts[NORDIC], lines) for day, lines in _nordic(accounts[NORDIC], today)]
    plan.sort(key=lambda item: (item[0], item[1].name == LYON))
    last = len(plan) - 1
    for position, (day, organisation, lines) in enumerate(plan):
        invoice = services.invoice_issue(organisation=organisation, lines=lines, issue_date=day)
        if position != last:
            _pay(invoice, organisation, min(day + PAID_AFTER, today))
        _backdate_audit(invoice, day)
