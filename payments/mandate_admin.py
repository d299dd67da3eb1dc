"""Support's console for direct debit: the SEPA mandates (read-only, with the signed PDF and
« Révoquer le mandat », which goes through the owner's service with a reason) and the
collections planned for invoices (read-only). Imported by payments.admin."""

from django.contrib import admin
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.permissions import client_ip
from billing_portal.formatting import money

from . import mandate_pdf, sepa
from .console import ConsolePages, ReadOnlyRecords, _account_url
from .forms import ReasonForm
from .models import Collection, Mandate
from .services.mandates import mandate_revoke_by_support

REVOKE = "payments.change_mandate"


@admin.register(Mandate)
class MandateAdmin(ConsolePages, ReadOnlyRecords, admin.ModelAdmin):
    list_display = ["reference", "organisation", "status", "scheme", "masked_iban", "signed_on"]
    list_display += ["pdf_link"]
    list_filter = ["status", "scheme"]
    search_fields = ["reference", "organisation__name", "holder_name"]
    list_select_related = ["organisation"]
    exclude = ["iban", "amended_from_iban"]

    def get_readonly_fields(self, request, obj=None):
        hidden = set(self.exclude)
        fields = [f.name for f in Mandate._meta.fields if f.name not in hidden]
        return [*fields, "masked_iban", "pdf_link", "revoke_link"]

    @admin.display(description=_("IBAN"))
    def masked_iban(self, obj):
        return sepa.iban_masked(obj.iban)

    @admin.display(description=_("PDF"))
    def pdf_link(self, obj):
        if obj.status in (Mandate.Status.PENDING, Mandate.Status.ABANDONED):
            return "—"
        url = reverse("admin:payments_mandate_pdf", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Mandat signé (PDF)"))

    @admin.display(description=_("Révocation"))
    def revoke_link(self, obj):
        if obj.status not in Mandate.LIVE:
            return "—"
        url = reverse("admin:payments_mandate_revoke", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Révoquer le mandat"))

    def get_urls(self):
        def view(pattern, method, name):
            return path(pattern, self.admin_site.admin_view(method), name=name)

        return [
            view("<int:pk>/pdf/", self.pdf_view, "payments_mandate_pdf"),
            view("<int:pk>/revoke/", self.revoke_view, "payments_mandate_revoke"),
            *super().get_urls(),
        ]

    def pdf_view(self, request, pk):
        if not self.has_view_permission(request):
            raise Http404
        mandate = get_object_or_404(
            Mandate.objects.exclude(status__in=[Mandate.Status.PENDING, Mandate.Status.ABANDONED]),
            pk=pk,
        )
        return FileResponse(
            mandate_pdf.mandate_pdf_open(mandate),
            as_attachment=True,
            filename=mandate_pdf.mandate_pdf_filename(mandate),
            content_type="application/pdf",
        )

    def revoke_view(self, request, pk):
        mandate = get_object_or_404(Mandate.objects.select_related("organisation"), pk=pk)
        return self._form_page(
            request,
            permission=REVOKE,
            title=_("Révoquer le mandat %(reference)s") % {"reference": mandate.reference},
            form=lambda data: ReasonForm(data),
            action=lambda data: mandate_revoke_by_support(
                mandate=mandate, actor=request.user, reason=data["reason"], ip=client_ip(request)
            ),
            success=lambda revoked: (
                _("Mandat %(reference)s révoqué.") % {"reference": revoked.reference}
            ),
            done_url=lambda revoked: _account_url(revoked.organisation_id),
            context={
                "organisation": mandate.organisation,
                "intro": _(
                    "Plus aucune facture ne sera prélevée sous ce mandat ; les prélèvements "
                    "prévus ou pré-notifiés sont annulés, ceux déjà transmis à la banque ne le "
                    "sont pas. Le propriétaire du compte en est informé par e-mail ; la "
                    "révocation est inscrite au journal d'audit avec la raison et votre nom."
                ),
            },
        )


@admin.register(Collection)
class CollectionAdmin(ReadOnlyRecords, admin.ModelAdmin):
    list_display = ["end_to_end_id", "invoice", "mandate", "amount_display", "collect_on"]
    list_display += ["status"]
    list_filter = ["status", "collect_on"]
    search_fields = ["end_to_end_id", "invoice__number", "mandate__reference"]
    list_select_related = ["invoice", "mandate"]
    date_hierarchy = "collect_on"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Collection._meta.fields]

    @admin.display(description=_("montant"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.currency)
