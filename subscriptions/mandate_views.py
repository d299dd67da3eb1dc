"""The « Prélèvement SEPA » page of the Factures tab: sign a mandate (or change its bank
account), download the signed mandate, revoke it. Owner only; each change is confirmed
from an emailed link (services.mandate_links), through the same confirm page as upgrades."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.permissions import client_ip, portal_view
from payments import mandate_pdf, sepa
from payments.models import Mandate
from payments.selectors import direct_debit_summary

from . import services
from .forms import MandateForm


def _page(request, form=None, status=200):
    organisation = request.organisation
    summary = direct_debit_summary(organisation=organisation)
    live = summary["live"]
    if form is None:
        initial = {"holder_name": organisation.name, "holder_address": _address(organisation)}
        if live is not None:
            initial.update(
                scheme=live.scheme,
                holder_name=live.holder_name,
                holder_address=live.holder_address,
                signed_place=live.signed_place,
            )
        form = MandateForm(initial=initial)
    return render(
        request,
        "payments/direct_debit.html",
        {
            "tab": "invoices",
            "summary": summary,
            "form": form,
            "creditor": mandate_pdf.creditor(),
            "notice_days": settings.DIRECT_DEBIT_NOTICE_DAYS,
        },
        status=status,
    )


def _address(organisation) -> str:
    lines = [
        organisation.address_line1,
        organisation.address_line2,
        f"{organisation.postal_code} {organisation.city}".strip(),
    ]
    return "\n".join(line for line in lines if line)


@portal_view(owner_only=True)
def direct_debit(request):
    return _page(request)


@portal_view(methods=("POST",), owner_only=True)
def mandate_sign(request):
    """« Signer le mandat »: stores the signature and emails the confirmation link. A bad
    IBAN or BIC shows the form again with the message, and changes nothing."""
    form = MandateForm(request.POST)
    if form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "accept"}
        try:
            services.mandate_request(
                organisation=request.organisation,
                actor=request.user,
                values=values,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request, _("Nous vous avons envoyé un e-mail pour confirmer le mandat.")
            )
            return redirect("portal:direct_debit")
    return _page(request, form, status=200)


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@portal_view(methods=("POST",), owner_only=True)
def mandate_revoke(request):
    """« Révoquer le mandat »: emails the confirmation link; nothing changes until then."""
    try:
        services.mandate_revoke_request(
            organisation=request.organisation, actor=request.user, ip=client_ip(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Nous vous avons envoyé un e-mail pour confirmer la révocation du mandat.")
        )
    return redirect("portal:direct_debit")


@portal_view(owner_only=True)
def mandate_pdf_download(request, reference):
    """The signed mandate's PDF (a mandate of the signed-in account, once confirmed)."""
    mandate = (
        Mandate.objects.filter(organisation=request.organisation, reference=reference)
        .exclude(status__in=[Mandate.Status.PENDING, Mandate.Status.ABANDONED])
        .first()
    )
    if mandate is None:
        raise Http404
    response = FileResponse(
        mandate_pdf.mandate_pdf_open(mandate),
        as_attachment=True,
        filename=mandate_pdf.mandate_pdf_filename(mandate),
        content_type="application/pdf",
    )
    response["Cache-Control"] = "private, no-store"
    return response


def mandate_confirm_context(confirmation) -> dict:
    """What the confirm page shows of a mandate link: the mandate (with the new account of
    an amendment), its wording and creditor."""
    mandate = confirmation.mandate
    iban = (confirmation.details or {}).get("iban") or mandate.iban
    return {
        "mandate": mandate,
        "amendment": bool(confirmation.details),
        "masked_iban": sepa.iban_masked(iban),
        "creditor": mandate_pdf.creditor(),
    }
