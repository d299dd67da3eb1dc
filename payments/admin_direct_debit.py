"""Support's console for direct debits: the pain.008 files sent to the seller's bank.

« Transmettre à la banque » lists the dates with pre-notified collections, per scheme;
exporting one makes the file (payments.services.direct_debit_export), kept as a
DirectDebitExport and downloaded from its page. Registered from payments.admin.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.permissions import client_ip
from billing_portal.formatting import money

from . import selectors, services
from .forms import DirectDebitExportForm
from .models import DirectDebitExport

EXPORT = "payments.change_directdebitexport"


@admin.register(DirectDebitExport)
class DirectDebitExportAdmin(admin.ModelAdmin):
    list_display = ["created_at", "collect_on", "scheme", "count", "total_display", "download"]
    list_display += ["message_id", "created_by"]
    list_filter = ["scheme"]
    list_select_related = ["created_by"]
    search_fields = ["message_id", "collections__end_to_end_id", "collections__invoice__number"]
    date_hierarchy = "collect_on"
    exclude = ["xml"]
    change_list_template = "admin/payments/directdebitexport/change_list.html"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [*(f.name for f in DirectDebitExport._meta.fields if f.name != "xml"), "download"]

    @admin.display(description=_("montant total"), ordering="total")
    def total_display(self, obj):
        return money(obj.total, obj.currency)

    @admin.display(description=_("fichier"))
    def download(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:payments_directdebitexport_download", args=[obj.pk]),
            _("Télécharger"),
        )

    def get_urls(self):
        def view(pattern, method, name):
            return path(pattern, self.admin_site.admin_view(method), name=name)

        return [
            view("export/", self.export_view, "payments_directdebitexport_export"),
            view("<int:pk>/download/", self.download_view, "payments_directdebitexport_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        export = get_object_or_404(DirectDebitExport, pk=pk)
        response = HttpResponse(export.xml.encode(), content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="{export.message_id}.xml"'
        return response

    def export_view(self, request):
        if not request.user.has_perm(EXPORT):
            raise PermissionDenied
        form = DirectDebitExportForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                export = services.direct_debit_export(
                    scheme=form.cleaned_data["scheme"],
                    collect_on=form.cleaned_data["collect_on"],
                    actor=request.user,
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.error_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    _(
                        "Fichier %(file)s : %(count)d prélèvement(s), %(total)s, à prélever le "
                        "%(date)s. Téléchargez-le et transmettez-le à la banque."
                    )
                    % {
                        "file": export.message_id,
                        "count": export.count,
                        "total": money(export.total, export.currency),
                        "date": date_format(export.collect_on, "SHORT_DATE_FORMAT"),
                    },
                )
                if export.skipped:
                    messages.warning(
                        request,
                        _(
                            "Non transmis : %(numbers)s, dont la facture demande maintenant "
                            "moins que le montant pré-notifié (paiement ou avoir depuis)."
                        )
                        % {"numbers": ", ".join(export.skipped)},
                    )
                return redirect(
                    reverse("admin:payments_directdebitexport_change", args=[export.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Transmettre des prélèvements à la banque"),
            "form": form,
            "dates": selectors.export_dates(today=timezone.localdate()),
        }
        return TemplateResponse(request, "admin/payments/directdebitexport/export.html", context)
