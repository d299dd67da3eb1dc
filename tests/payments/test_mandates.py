"""SEPA mandates: signed in the portal, confirmed and revoked from emailed links, amended
when only the bank account changes; the collections they plan and cancel."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEvent, Organisation
from accounts.services import ownership_transfer
from emails.models import Email
from invoices.models import Invoice
from payments import mandate_pdf, sepa
from payments.models import Collection, Mandate
from payments.services.collections import collections_cancel
from payments.services.mandates import mandate_revoke_by_support
from subscriptions import services
from subscriptions.models import Confirmation
from subscriptions.services import confirmation_resend
from subscriptions.tokens import LinkError, LinkProblem

from .conftest import invoice
from .mandates import DE_IBAN, FR_IBAN, latest_token, pdf_text, sign, sign_and_confirm, values


@pytest.fixture
def open_invoices(owner):
    organisation = owner.organisation
    today = timezone.localdate()
    return {
        "soon": invoice(organisation, "INV-20001", "1200.00", due_date=today + timedelta(days=3)),
        "later": invoice(organisation, "INV-20002", "600.00", due_date=today + timedelta(days=40)),
        "dollars": invoice(organisation, "INV-20003", "500.00", currency="USD"),
        "paid": invoice(organisation, "INV-20004", "100.00", status="paid", amount_paid="100.00"),
    }


def actions(organisation):
    return list(
        AuditEvent.objects.filter(organisation=organisation)
        .order_by("pk")
        .values_list("action", flat=True)
    )


# --- Signing and confirming ----------------------------------------------------------------


def test_signing_stores_a_pending_mandate_and_emails_the_link_only(owner, open_invoices):
    sign(owner)
    mandate = Mandate.objects.get()
    assert mandate.status == Mandate.Status.PENDING
    assert mandate.iban == FR_IBAN and mandate.signed_on is None
    assert mandate.reference == f"PALM-{owner.organisation.pk:06d}-01"
    assert sepa.SEPA_ID.match(mandate.reference) and len(mandate.reference) <= 35
    assert not Collection.objects.exists()
    email = Email.objects.get(kind="mandate_request")
    assert email.to == owner.user.email
    assert "FR14 **** **** **** **** **** 606" in email.body_text
    assert FR_IBAN not in email.body_text
    assert {"mandate.signed", "mandate.requested"} <= set(actions(owner.organisation))


def test_confirming_activates_it_today_and_plans_the_open_euro_invoices(owner, open_invoices):
    sign_and_confirm(owner)
    mandate = Mandate.objects.get()
    today = timezone.localdate()
    assert mandate.status == Mandate.Status.ACTIVE
    assert mandate.signed_on == today and mandate.confirmed_at is not None
    assert mandate.pdf_name and len(mandate.pdf_sha256) == 64
    planned = {c.invoice.number: c for c in Collection.objects.select_related("invoice")}
    # Euros only, open only: the dollar invoice and the paid one stay out.
    assert set(planned) == {"INV-20001", "INV-20002"}
    soon, later = planned["INV-20001"], planned["INV-20002"]
    # Never before the notice has run, never before the due date.
    assert soon.collect_on == today + timedelta(days=14)
    assert later.collect_on == today + timedelta(days=40)
    assert soon.amount == Decimal("1200.00") and soon.status == Collection.Status.PLANNED
    assert soon.end_to_end_id == "INV-20001-1" and soon.mandate == mandate
    assert "mandate.confirmed" in actions(owner.organisation)
    confirmed = Email.objects.get(kind="mandate_confirmed")
    assert "INV-20001" in confirmed.body_text and "FR72ZZZ123456" in confirmed.body_text


def test_partly_paid_invoice_is_collected_for_what_is_left(owner):
    invoice(owner.organisation, "INV-20010", "1000.00", amount_paid="400.00")
    sign_and_confirm(owner)
    assert Collection.objects.get().amount == Decimal("600.00")


def test_an_invoice_issued_under_an_active_mandate_is_planned(owner, plan):
    from invoices.services import invoice_issue
    from tests.invoices.conftest import one_line

    sign_and_confirm(owner)
    issued = invoice_issue(organisation=owner.organisation, lines=one_line("850.00"))
    collection = Collection.objects.get(invoice=issued)
    assert collection.amount == issued.total
    today = timezone.localdate()
    assert collection.collect_on == max(issued.due_date, today + timedelta(days=14))
    assert collection.end_to_end_id == f"{issued.number}-1"


def test_no_collection_without_an_active_mandate(owner, plan):
    from invoices.services import invoice_issue
    from tests.invoices.conftest import one_line

    sign(owner)  # pending only
    invoice_issue(organisation=owner.organisation, lines=one_line("850.00"))
    assert not Collection.objects.exists()


@pytest.mark.parametrize(
    ("iban", "message"),
    [
        ("FR14 2004 1010 0505 0001 3M02 607", "IBAN n'est pas valide"),
        ("FR14", "IBAN n'est pas valide"),
        ("", "Saisissez l'IBAN"),
        # A valid IBAN, but Brazil is not in the SEPA area.
        ("BR1800360305000010009795493C1", "zone SEPA"),
    ],
)
def test_bad_iban_is_refused_with_a_message_and_changes_nothing(owner, iban, message):
    with pytest.raises(ValidationError) as exc:
        sign(owner, iban=iban)
    assert message in " ".join(exc.value.message_dict["iban"])
    assert not Mandate.objects.exists()
    assert not Confirmation.objects.exists()
    assert not Email.objects.exists()


def test_bad_bic_is_refused(owner):
    with pytest.raises(ValidationError) as exc:
        sign(owner, bic="AGRI")
    assert "BIC" in " ".join(exc.value.message_dict["bic"])
    assert not Mandate.objects.exists()


def test_program_manager_cannot_sign(manager):
    with pytest.raises(PermissionDenied):
        services.mandate_request(
            organisation=manager.organisation, actor=manager.user, values=values()
        )
    assert not Mandate.objects.exists()


# --- Links ----------------------------------------------------------------------------------


def test_a_link_confirms_once(owner):
    token = sign_and_confirm(owner)
    with pytest.raises(LinkError) as exc:
        services.mandate_confirm(token=token)
    assert exc.value.problem == LinkProblem.USED
    assert Mandate.objects.get().status == Mandate.Status.ACTIVE


def test_an_expired_link_changes_nothing(owner, settings):
    token = sign(owner)
    later = timezone.now() + timedelta(hours=settings.CONFIRMATION_LINK_HOURS, minutes=1)
    with pytest.raises(LinkError) as exc:
        services.mandate_confirm(token=token, now=later)
    assert exc.value.problem == LinkProblem.EXPIRED
    assert Mandate.objects.get().status == Mandate.Status.PENDING


def test_a_newer_signature_supersedes_the_pending_one(owner):
    first = sign(owner)
    sign(owner, iban=DE_IBAN)
    with pytest.raises(LinkError) as exc:
        services.mandate_confirm(token=first)
    assert exc.value.problem == LinkProblem.SUPERSEDED
    statuses = dict(Mandate.objects.values_list("iban", "status"))
    assert statuses == {FR_IBAN: "abandoned", DE_IBAN: "pending"}


# --- Amendment and replacement ----------------------------------------------------------------


def test_changing_only_the_bank_account_keeps_the_reference(owner, open_invoices):
    sign_and_confirm(owner)
    mandate = Mandate.objects.get()
    first_pdf = mandate.pdf_name
    sign(owner, iban=DE_IBAN, bic="COBADEFFXXX")
    # Nothing changes before the link is confirmed.
    assert Mandate.objects.get().iban == FR_IBAN
    services.mandate_confirm(token=latest_token("mandate_request"))
    amended = Mandate.objects.get()  # still one mandate
    assert amended.reference == mandate.reference
    assert amended.status == Mandate.Status.ACTIVE
    assert (amended.iban, amended.bic) == (DE_IBAN, "COBADEFFXXX")
    assert (amended.amended_from_iban, amended.amended_from_bic) == (FR_IBAN, "")
    assert amended.pdf_name != first_pdf
    assert "mandate.amended" in actions(owner.organisation)
    # The collections planned stay, under the same mandate: the export carries the change.
    assert Collection.objects.filter(status="planned", mandate=amended).count() == 2


def test_a_second_amendment_keeps_the_account_the_bank_knows(owner):
    sign_and_confirm(owner)
    sign_and_confirm(owner, iban=DE_IBAN)
    sign_and_confirm(owner, iban="GB29NWBK60161331926819")
    mandate = Mandate.objects.get()
    assert mandate.amended_from_iban == FR_IBAN
    assert mandate.iban == "GB29NWBK60161331926819"


def test_new_holder_or_scheme_replaces_the_mandate_under_a_new_reference(owner, open_invoices):
    sign_and_confirm(owner)
    old = Mandate.objects.get()
    sign_and_confirm(owner, scheme="B2B")
    old.refresh_from_db()
    new = Mandate.objects.get(status="active")
    assert old.status == Mandate.Status.REVOKED and new.reference.endswith("-02")
    assert old.end_reason == f"replaced by {new.reference}"
    assert set(Collection.objects.filter(mandate=old).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert Collection.objects.filter(mandate=new, status="planned").count() == 2


# --- Revocation -------------------------------------------------------------------------------


def test_revocation_by_link_cancels_collections_not_yet_sent(owner, open_invoices):
    sign_and_confirm(owner)
    mandate = Mandate.objects.get()
    sent = Collection.objects.get(invoice__number="INV-20002")
    Collection.objects.filter(pk=sent.pk).update(status=Collection.Status.EXPORTED)
    services.mandate_revoke_request(organisation=owner.organisation, actor=owner.user)
    assert Mandate.objects.get().status == Mandate.Status.ACTIVE  # not before the link
    services.mandate_revoke_confirm(token=latest_token("mandate_revoke_request"))
    mandate.refresh_from_db()
    assert mandate.status == Mandate.Status.REVOKED and mandate.ended_at is not None
    statuses = dict(Collection.objects.values_list("invoice__number", "status"))
    assert statuses == {"INV-20001": "cancelled", "INV-20002": "exported"}
    assert {"mandate.revoked", "collection.cancelled"} <= set(actions(owner.organisation))
    revoked = Email.objects.get(kind="mandate_revoked")
    assert revoked.to == owner.user.email and mandate.reference in revoked.subject


def test_revocation_link_is_stale_once_the_mandate_is_replaced(owner):
    sign_and_confirm(owner)
    services.mandate_revoke_request(organisation=owner.organisation, actor=owner.user)
    token = latest_token("mandate_revoke_request")
    sign_and_confirm(owner, holder_name="Lyon Films SAS")
    with pytest.raises(LinkError) as exc:
        services.mandate_revoke_confirm(token=token)
    assert exc.value.problem == LinkProblem.STALE
    assert Mandate.objects.get(status="active").holder_name == "Lyon Films SAS"


def test_revoking_without_a_mandate_is_refused(owner):
    with pytest.raises(ValidationError):
        services.mandate_revoke_request(organisation=owner.organisation, actor=owner.user)
    assert not Confirmation.objects.exists()


def test_support_revokes_with_a_reason(owner, support_user, open_invoices):
    sign_and_confirm(owner)
    mandate = Mandate.objects.get()
    with pytest.raises(ValidationError):
        mandate_revoke_by_support(mandate=mandate, actor=support_user, reason="  ")
    with pytest.raises(PermissionDenied):
        mandate_revoke_by_support(mandate=mandate, actor=owner.user, reason="test")
    assert Mandate.objects.get().status == Mandate.Status.ACTIVE
    mandate_revoke_by_support(mandate=mandate, actor=support_user, reason="Asked by phone")
    mandate.refresh_from_db()
    assert mandate.status == "revoked" and mandate.end_reason == "Asked by phone"
    event = AuditEvent.objects.get(action="mandate.revoked")
    assert event.actor_label.startswith("support:")
    assert not Collection.objects.filter(status="planned").exists()


def test_collections_cancel_leaves_other_mandates_alone(owner, other_owner):
    invoice(owner.organisation, "INV-20020", "100.00")
    invoice(other_owner.organisation, "INV-20021", "100.00")
    sign_and_confirm(owner)
    sign_and_confirm(other_owner, holder_name="Nordic")
    mine = Mandate.objects.get(organisation=owner.organisation)
    cancelled = collections_cancel(mandate=mine, reason="suspended after returns")
    assert [c.invoice.number for c in cancelled] == ["INV-20020"]
    assert Collection.objects.get(invoice__number="INV-20021").status == "planned"
    event = AuditEvent.objects.get(action="collection.cancelled")
    assert event.after["reason"] == "suspended after returns"


def test_collect_on_never_before_the_notice(owner, settings):
    settings.DIRECT_DEBIT_NOTICE_DAYS = 20
    late = invoice(owner.organisation, "INV-20030", "100.00", due_date=date(2026, 2, 14))
    sign_and_confirm(owner)
    collection = Collection.objects.get(invoice=late)
    assert collection.collect_on == timezone.localdate() + timedelta(days=20)
    assert Invoice.objects.get(pk=late.pk).status == "open"


def test_masked_iban_shows_only_the_country_check_digits_and_last_three():
    assert sepa.iban_masked("FR7630006000011234567890189") == "FR76 **** **** **** **** **** 189"
    masked = sepa.iban_masked(DE_IBAN)
    assert masked == "DE89 **** **** **** ***0 00"
    assert masked.replace(" ", "").replace("*", "") == "DE89000"


def test_signing_the_mandate_in_force_again_is_refused(owner):
    sign_and_confirm(owner)
    with pytest.raises(ValidationError) as exc:
        sign(owner)
    assert "déjà en vigueur" in " ".join(exc.value.message_dict["iban"])
    assert Mandate.objects.count() == 1


def test_support_resends_a_pending_mandate_link(owner, support_user):
    first = sign(owner)
    pending = Confirmation.objects.get(kind="mandate")
    confirmation_resend(confirmation=pending, actor=support_user)
    with pytest.raises(LinkError):
        services.mandate_confirm(token=first)
    services.mandate_confirm(token=latest_token("mandate_request"))
    assert Mandate.objects.get().status == Mandate.Status.ACTIVE
    assert Email.objects.filter(kind="mandate_request").count() == 2


def test_a_new_owner_does_not_inherit_the_former_owners_pending_mandate(owner, manager):
    token = sign(owner)
    ownership_transfer(
        organisation=owner.organisation, new_owner_membership_id=manager.pk, actor=owner.user
    )
    assert Mandate.objects.get().status == Mandate.Status.ABANDONED
    with pytest.raises(LinkError):
        services.mandate_confirm(token=token)


def test_an_english_account_gets_english_emails_and_an_english_mandate(owner):
    Organisation.objects.filter(pk=owner.organisation.pk).update(language="en")
    owner.organisation.refresh_from_db()
    sign_and_confirm(owner, scheme="B2B")
    request = Email.objects.get(kind="mandate_request")
    assert request.subject.startswith("Confirm your SEPA Direct Debit mandate")
    mandate = Mandate.objects.get()
    assert mandate.language == "en"
    printed = pdf_text(mandate_pdf.mandate_pdf_open(mandate).read())
    assert "By signing this mandate form, you authorise (A) Palmarès Logiciels SAS" in printed
    assert "only intended for business-to-business transactions" in printed
    assert "Recurrent payment" in printed and "Unique mandate reference" in printed
