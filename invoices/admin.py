from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Invoice, InvoiceLine, NumberSequence


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "description", "period_start", "period_end", "quantity", "unit_price"]
    fields += ["vat_rate", "amount"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """Issued invoices are read-only: no add (invoice_issue is the only way), no edit, no
    delete. Support may record a payment or void an open invoice: both go through the
    services, which audit them."""

    list_display = ["number", "issue_date", "buyer_legal_name", "kind", "total", "currency"]
    list_display += ["status"]
    list_filter = ["status", "kind", "tax_treatment", "currency"]
    search_fields = ["number", "organisation__name", "buyer_legal_name", "buyer_vat_number"]
    list_select_related = ["organisation"]
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline]
    actions = ["mark_paid", "void"]
    fieldsets = [
        (None, {"fields": ["number", "kind", "corrects", "status", "organisation"]}),
        (_("Dates"), {"fields": ["issue_date", "due_date", "period_start", "period_end"]}),
        (
            _("Montants"),
            {
                "fields": [
                    "currency",
                    "language",
                    "subtotal",
                    "vat_rate",
                    "vat_amount",
                    "total",
                    "tax_treatment",
                    "tax_mention",
                    "payment_method",
                ]
            },
        ),
        (
            _("Vendeur"),
            {
                "fields": [
                    "seller_legal_name",
                    "seller_legal_form",
                    "seller_address_lines",
                    "seller_country",
                    "seller_siren",
                    "seller_rcs",
                    "seller_vat_number",
                    "seller_iban",
                    "seller_bic",
                    "seller_vat_on_debits",
                ]
            },
        ),
        (
            _("Client"),
            {
                "fields": [
                    "buyer_legal_name",
                    "buyer_address_lines",
                    "buyer_country",
                    "buyer_vat_number",
                    "buyer_siren",
                ]
            },
        ),
        (_("PDF"), {"fields": ["pdf_name", "pdf_sha256", "pdf_rendered_at", "created_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Invoice._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # An invoice's page is view-only; "change" only unlocks the status actions below.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _change_status(self, request, queryset, service, done):
        changed = 0
        for invoice in queryset:
            try:
                service(invoice=invoice, actor=request.user, by_support=True)
            except ValidationError as exc:
                self.message_user(request, f"{invoice.number}: {exc.messages[0]}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, done % {"count": changed}, messages.SUCCESS)

    @admin.action(description=_("Enregistrer le paiement"), permissions=["change"])
    def mark_paid(self, request, queryset):
        self._change_status(
            request, queryset, services.invoice_mark_paid, _("%(count)d facture(s) payée(s).")
        )

    @admin.action(description=_("Annuler (la facture reste numérotée)"), permissions=["change"])
    def void(self, request, queryset):
        self._change_status(
            request, queryset, services.invoice_void, _("%(count)d facture(s) annulée(s).")
        )


@admin.register(NumberSequence)
class NumberSequenceAdmin(admin.ModelAdmin):
    list_display = ["name", "next_value", "last_issue_date"]
    readonly_fields = ["name", "next_value", "last_issue_date"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
