"""The Factures tab: organisation details, renewal estimate, invoice contacts and history,
each invoice online and as a PDF, a period's invoices as a ZIP or a CSV. Owner only;
lookups scoped to the signed-in account."""

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.forms import OrganisationAddressForm, OrganisationVatForm, service_errors
from accounts.permissions import client_ip, portal_view
from accounts.selectors import billing_recipients

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
    return {
        "tab": "invoices",
        "organisation": organisation,
        "estimate": _renewal_estimate(organisation),
        "credit": _credit(organisation),
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


def _after_save(request, fragment, message):
    """Post/redirect/get for a browser; for htmx the saved section plus the renewal
    estimate, swapped out of band, since the address and VAT number change it."""
    messages.success(request, message)
    if not request.htmx:
        return redirect("portal:invoices")
    context = _tab_context(request)
    html = render_to_string(f"{TAB_TEMPLATE}#{fragment}", context, request)
    html += render_to_string(f"{TAB_TEMPLATE}#renewal-estimate", {**context, "oob": True}, request)
    return HttpResponse(html)


@portal_view(owner_only=True)
def invoices_tab(request):
    return _render_tab(request, "invoice-list")


@portal_view(methods=("GET", "POST"), owner_only=True)
def address_edit(request):
    organisation = request.organisation
    initial = {
        "address_line1": organisation.address_line1,
        "address_line2": organisation.address_line2,
        "postal_code": organisation.postal_code,
        "city": organisation.city,
        "country": organisation.country,
    }
    form = OrganisationAddressForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            request.organisation = account_services.organisation_update_address(
                organisation=organisation,
                actor=request.user,
                ip=client_ip(request),
                **form.cleaned_data,
            )
            return _after_save(request, "organisation-address", _("L'adresse a été enregistrée."))
    return _render_tab(request, "organisation-address", address_form=form, editing_address=True)


@portal_view(methods=("GET", "POST"), owner_only=True)
def vat_edit(request):
    form = OrganisationVatForm(
        request.POST or None, initial={"vat_number": request.organisation.vat_number}
    )
    if request.method == "POST" and form.is_valid():
        with service_errors(form):
            request.organisation = account_services.organisation_update_vat(
                organisation=request.organisation,
                vat_number=form.cleaned_data["vat_number"],
                actor=request.user,
                ip=client_ip(request),
            )
            return _after_save(request, "organisation-vat", _("Le numéro de TVA a été enregistré."))
    return _render_tab(request, "organisation-vat", vat_form=form, editing_vat=True)


def _invoice_or_404(request, number):
    invoice = selectors.invoice_document(organisation=request.organisation, number=number)
    if invoice is None:
        raise Http404
    return invoice


@portal_view(owner_only=True)
def invoice_detail(request, number):
    """The invoice online: the same document as its PDF."""
    invoice = _invoice_or_404(request, number)
    return render(
        request,
        "invoices/invoice_detail.html",
        {
            "tab": "invoices",
            "invoice": invoice,
            "lines": list(invoice.lines.all()),
            "credit_notes": invoice.credit_notes,
            "history": invoice.history,
            # The platform's latest word, shown beside the portal's status.
            "platform_status": next(
                (event for event in reversed(invoice.history) if event.is_lifecycle), None
            ),
        },
    )


@portal_view(owner_only=True)
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


@portal_view(owner_only=True)
def invoice_facturx(request, number):
    """Download the invoice's Factur-X XML alone: the one embedded in its stored PDF."""
    invoice = _invoice_or_404(request, number)
    response = HttpResponse(pdf.invoice_facturx_xml(invoice), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="{invoice.facturx_filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@portal_view(owner_only=True)
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


@portal_view(owner_only=True)
def invoices_export_zip(request):
    """Every invoice and credit note of the period: PDFs and Factur-X XML in one ZIP."""
    return _export(request, "zip", exports.zip_stream, "application/zip")


@portal_view(owner_only=True)
def invoices_export_csv(request):
    """The period's invoices and credit notes as a CSV, for the accountant."""
    return _export(request, "csv", exports.csv_stream, "text/csv; charset=utf-8")
