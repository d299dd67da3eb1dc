"""The Factures tab: organisation details, renewal estimate, invoice contacts and history,
each invoice online and as a PDF, a period's invoices as a ZIP or a CSV. Owner only;
lookups scoped to the signed-in account."""

from decimal import Decimal

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.forms import (
    OrganisationAddressForm,
    OrganisationDeliveryAddressForm,
    OrganisationReferencesForm,
    OrganisationSirenForm,
    OrganisationVatForm,
    service_errors,
)
from accounts.permissions import client_ip, portal_view
from accounts.selectors import billing_recipients
from accounts.siren import siren_of_vat_number

from . import exports, hooks, pdf, selectors, ubl
from .forms import ExportPeriodForm

TAB_TEMPLATE = "invoices/invoices.html"


def _renewal_estimate(organisation):
    """What the next renewal will invoice, from subscriptions (through invoices.hooks),
    or None when no app provides it: the tab then says that nothing will renew."""
    estimates = hooks.renewal_estimate(organisation=organisation)
    return estimates[0] if estimates else None


def _credit(organisation):
    """The account's credit balance, per currency, from payments (through invoices.hooks),
    or none when no app provides it."""
    return [
        balance
        for balances in hooks.credit_balances(organisation=organisation)
        for balance in balances
    ]


def _tab_context(request, **extra):
    organisation = request.organisation
    # A closed account: its owner only reads and pays (accounts.permissions.portal_view).
    closed = selectors.closed_account(organisation=organisation)
    # The « Prélèvement SEPA » section, from payments (through invoices.hooks); a closed
    # account shows it only while a mandate still collects its invoices.
    direct_debit = next(iter(hooks.direct_debit(organisation=organisation)), None)
    if closed and direct_debit is not None and not direct_debit.get("live"):
        direct_debit = None
    return {
        "tab": "invoices",
        "organisation": organisation,
        "estimate": _renewal_estimate(organisation),
        "credit": _credit(organisation),
        "direct_debit": direct_debit,
        "closed": closed,
        "overdue": selectors.overdue_summary(organisation=organisation, today=timezone.localdate()),
        # An owner-only tab: the signed-in member is the owner.
        "recipients": billing_recipients(owner=request.membership),
        "invoices": selectors.invoices_page(
            organisation=organisation, page_number=request.GET.get("page") or 1
        ),
        "export_form": ExportPeriodForm(organisation=organisation),
        **extra,
    }


def _render_tab(request, fragment=None, **extra):
    """The whole tab for a browser, or just `fragment` for htmx."""
    template = TAB_TEMPLATE
    if request.htmx and fragment:
        template = f"{TAB_TEMPLATE}#{fragment}"
    return render(request, template, _tab_context(request, **extra))


def _after_save(request, fragment, message, *, estimate=True):
    """Post/redirect/get for a browser; for htmx the saved section, plus the renewal
    estimate swapped out of band when the change may change it (address, VAT number)."""
    messages.success(request, message)
    if not request.htmx:
        return redirect("portal:invoices")
    context = _tab_context(request)
    html = render_to_string(f"{TAB_TEMPLATE}#{fragment}", context, request)
    if estimate:
        html += render_to_string(
            f"{TAB_TEMPLATE}#renewal-estimate", {**context, "oob": True}, request
        )
    return HttpResponse(html)


def _detail_edit(request, *, form_class, initial, service, name, message, estimate=False):
    """One detail of the organisation (Factures tab): its form, saved by its service.

    `name` names the fragment (`organisation-<name>`) and the form in the template
    (`<name>_form`, `editing_<name>`)."""
    form = form_class(request.POST or None, initial=initial)
    fragment = f"organisation-{name.replace('_', '-')}"
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            request.organisation = service(
                organisation=request.organisation,
                actor=request.user,
                ip=client_ip(request),
                **form.cleaned_data,
            )
            return _after_save(request, fragment, message, estimate=estimate)
    return _render_tab(request, fragment, **{f"{name}_form": form, f"editing_{name}": True})


@portal_view(owner_only=True, closed_owner=True)
def invoices_tab(request):
    return _render_tab(request, "invoice-list")


@portal_view(methods=("GET", "POST"), owner_only=True)
def address_edit(request):
    organisation = request.organisation
    return _detail_edit(
        request,
        form_class=OrganisationAddressForm,
        initial={name: getattr(organisation, name) for name in OrganisationAddressForm.base_fields},
        service=account_services.organisation_update_address,
        name="address",
        message=_("L'adresse a été enregistrée."),
        estimate=True,
    )


@portal_view(methods=("GET", "POST"), owner_only=True)
def vat_edit(request):
    return _detail_edit(
        request,
        form_class=OrganisationVatForm,
        initial={"vat_number": request.organisation.vat_number},
        service=account_services.organisation_update_vat,
        name="vat",
        message=_("Le numéro de TVA a été enregistré."),
        estimate=True,
    )


@portal_view(methods=("GET", "POST"), owner_only=True)
def siren_edit(request):
    organisation = request.organisation
    # Not entered yet: the one the French VAT number contains, for the owner to confirm.
    known = organisation.siren or siren_of_vat_number(organisation.vat_number, organisation.country)
    return _detail_edit(
        request,
        form_class=OrganisationSirenForm,
        initial={"siren": known},
        service=account_services.organisation_update_siren,
        name="siren",
        message=_("Le SIREN a été enregistré."),
    )


@portal_view(methods=("GET", "POST"), owner_only=True)
def delivery_address_edit(request):
    organisation = request.organisation
    initial = {
        name: getattr(organisation, name) for name in OrganisationDeliveryAddressForm.base_fields
    }
    initial["delivery_country"] = organisation.delivery_country or organisation.country
    return _detail_edit(
        request,
        form_class=OrganisationDeliveryAddressForm,
        initial=initial,
        service=account_services.organisation_update_delivery_address,
        name="delivery_address",
        message=_("L'adresse de livraison a été enregistrée."),
    )


@portal_view(methods=("GET", "POST"), owner_only=True)
def references_edit(request):
    organisation = request.organisation
    return _detail_edit(
        request,
        form_class=OrganisationReferencesForm,
        initial={
            name: getattr(organisation, name) for name in OrganisationReferencesForm.base_fields
        },
        service=account_services.organisation_update_references,
        name="references",
        message=_("Vos références ont été enregistrées."),
    )


def _invoice_or_404(request, number):
    invoice = selectors.invoice_document(organisation=request.organisation, number=number)
    if invoice is None:
        raise Http404
    return invoice


@portal_view(owner_only=True, closed_owner=True)
def invoice_detail(request, number):
    """The invoice online: the same document as its PDF."""
    invoice = _invoice_or_404(request, number)
    # Money a credit note gave back: what the account still has of its credit today.
    available = None
    if invoice.credit_returned:
        available = sum(
            (
                amount
                for amount, currency in _credit(request.organisation)
                if currency == invoice.currency
            ),
            Decimal(0),
        )
    return render(
        request,
        "invoices/invoice_detail.html",
        {
            "tab": "invoices",
            "invoice": invoice,
            "available": available,
            "lines": list(invoice.lines.all()),
            "credit_notes": invoice.credit_notes,
            "history": invoice.history,
            # The platform's latest word, shown beside the portal's status.
            "platform_status": next(
                (event for event in reversed(invoice.history) if event.is_lifecycle), None
            ),
        },
    )


@portal_view(owner_only=True, closed_owner=True)
def invoice_pdf(request, number):
    """Download the stored PDF (rendered now, once, if the task has not run yet)."""
    invoice = selectors.invoice_file(organisation=request.organisation, number=number)
    if invoice is None:
        raise Http404
    response = FileResponse(
        pdf.invoice_pdf_open(invoice),
        as_attachment=True,
        filename=invoice.pdf_filename,
        content_type="application/pdf",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@portal_view(owner_only=True, closed_owner=True)
def invoice_facturx(request, number):
    """Download the invoice's Factur-X XML alone: the one embedded in its stored PDF."""
    invoice = _invoice_or_404(request, number)
    response = HttpResponse(pdf.invoice_facturx_xml(invoice), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{invoice.facturx_filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@portal_view(owner_only=True, closed_owner=True)
def invoice_ubl(request, number):
    """Download the invoice as UBL 2.1: the same EN 16931 data as its Factur-X XML."""
    invoice = _invoice_or_404(request, number)
    response = HttpResponse(ubl.invoice_xml(invoice), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{invoice.ubl_filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _export(request, extension, stream, content_type):
    """A period's export, streamed; the tab with the form's errors when the period is wrong
    or holds no invoice (a GET form: works without JavaScript). No period asked: the
    current year."""
    organisation = request.organisation
    form = ExportPeriodForm(request.GET or None, organisation=organisation)
    if not form.is_bound:
        form = ExportPeriodForm(form.initial, organisation=organisation)
    if not form.is_valid():
        return _render_tab(request, export_form=form)
    period = form.period
    response = StreamingHttpResponse(
        stream(organisation=organisation, period=period), content_type=content_type
    )
    filename = exports.export_filename(
        organisation=organisation, period=period, extension=extension
    )
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    return response


@portal_view(owner_only=True, closed_owner=True)
def invoices_export_zip(request):
    """Every invoice and credit note of the period: PDFs and Factur-X XML in one ZIP."""
    return _export(request, "zip", exports.zip_stream, "application/zip")


@portal_view(owner_only=True, closed_owner=True)
def invoices_export_csv(request):
    """The period's invoices and credit notes as a CSV, for the accountant."""
    return _export(request, "csv", exports.csv_stream, "text/csv; charset=utf-8")
