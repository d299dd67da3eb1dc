from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import ActionLocation, helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Organisation
from accounts.permissions import client_ip
from billing_portal.formatting import long_date, money

from . import exchange_rates, selectors, services
from .models import ExchangeRate, Invoice, InvoiceLine, InvoiceStatusEvent, NumberSequence
from .services.exchange_rates import CSV_MAX_BYTES as CSV_RATES_MAX_BYTES
from .services.lifecycle import CSV_MAX_BYTES, PLATFORM_CODES

# Support acts from the list or from an invoice's page.
BOTH = [ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM]


class CreditNoteForm(forms.Form):
    """The intermediate page of « Émettre un avoir »: why (for the audit trail) and, for one
    invoice, what to credit: everything left, chosen lines (a quantity of each) or an
    amount excl. VAT. Several invoices at once are each credited in full."""

    WHOLE, LINES, AMOUNT = "whole", "lines", "amount"

    reason = forms.CharField(
        label=_("Raison de l'avoir"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Inscrite au journal d'audit (le client ne la voit pas). Par exemple : facture "
            "émise en double, geste commercial, demande du client du 12/03."
        ),
    )

    def __init__(self, *args, remaining=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.remaining = remaining
        self.line_fields = []
        if remaining is None:
            return
        invoice = remaining.invoice
        self.fields["scope"] = forms.ChoiceField(
            label=_("Avoir de"),
            choices=[
                (self.WHOLE, _("Tout ce qui reste à créditer sur la facture")),
                (self.LINES, _("Des lignes choisies, pour les quantités indiquées")),
                (self.AMOUNT, _("Un montant HT, au taux de TVA de la facture")),
            ],
            widget=forms.RadioSelect,
            initial=self.WHOLE,
        )
        for position, left in remaining.lines.items():
            name = f"quantity_{position}"
            self.fields[name] = forms.DecimalField(
                label=_("Quantité à créditer, ligne %(position)s") % {"position": position},
                required=False,
                min_value=Decimal(0),
                max_digits=12,
                decimal_places=3,
                localize=True,
                disabled=left.quantity <= 0,
            )
            self.line_fields.append((left, self[name]))
        self.fields["amount"] = forms.DecimalField(
            label=_("Montant HT à créditer (%(currency)s)") % {"currency": invoice.currency},
            required=False,
            min_value=Decimal("0.01"),
            max_digits=14,
            decimal_places=2,
            localize=True,
        )

    def clean(self):
        data = super().clean()
        if self.remaining is None:
            return data
        scope = data.get("scope")
        lines = {
            int(name.removeprefix("quantity_")): value
            for name, value in data.items()
            if name.startswith("quantity_") and value
        }
        amount = data.get("amount")
        if scope == self.LINES:
            if not lines and not self._has_error_on_lines():
                raise ValidationError(_("Indiquez la quantité à créditer d'au moins une ligne."))
            if amount is not None:
                self.add_error("amount", _("Un avoir de lignes ne prend pas de montant."))
            data["lines"] = lines
        elif scope == self.AMOUNT:
            if amount is None and "amount" not in self.errors:
                self.add_error("amount", _("Indiquez le montant HT à créditer."))
            if lines:
                raise ValidationError(_("Un avoir d'un montant ne prend pas de quantités."))
        elif scope == self.WHOLE and (lines or amount is not None):
            # Never credit everything when support typed a part of it.
            raise ValidationError(
                _(
                    "Vous avez indiqué des quantités ou un montant : choisissez « Des lignes "
                    "choisies » ou « Un montant HT », ou videz-les pour tout créditer."
                )
            )
        return data

    def _has_error_on_lines(self) -> bool:
        return any(name.startswith("quantity_") for name in self.errors)

    def service_arguments(self) -> dict:
        """What to credit, as credit_note_issue takes it (nothing: everything left)."""
        scope = self.cleaned_data.get("scope", self.WHOLE)
        if scope == self.LINES:
            return {"lines": self.cleaned_data["lines"]}
        if scope == self.AMOUNT:
            return {"amount": self.cleaned_data["amount"]}
        return {}

    def add_service_errors(self, exc: ValidationError) -> None:
        """A refusal of credit_note_issue on the form: by field where the form has it."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)


def credit_balance_text(invoice: Invoice) -> str:
    """What credit notes and payments leave on a document, as support reads it: what is left
    to pay on an open invoice, what credit notes gave back of the money paid to the account's
    credit (the account page says what is left of that credit); empty when nothing is."""
    parts = []
    reduced = invoice.credited or invoice.amount_paid
    if not invoice.is_credit_note and reduced and invoice.status == Invoice.Status.OPEN:
        parts.append(
            _("reste à régler %(amount)s") % {"amount": money(invoice.amount_due, invoice.currency)}
        )
    if invoice.credit_returned:
        parts.append(
            _("%(amount)s porté au crédit du compte")
            % {"amount": money(invoice.credit_returned, invoice.currency)}
        )
    return " ; ".join(str(part) for part in parts)


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "description", "period_start", "period_end", "quantity"]
    fields += ["unit_price_display", "vat_rate", "amount_display"]
    readonly_fields = fields

    # Amounts as the invoice prints them (billing_portal.formatting.money): the currency,
    # and a credit note's negatives with the minus sign, not Django's bare "-850,00".
    @admin.display(description=_("prix unitaire HT"))
    def unit_price_display(self, line):
        return money(line.unit_price, line.invoice.currency, places=None)

    @admin.display(description=_("montant HT"))
    def amount_display(self, line):
        return money(line.amount, line.invoice.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# ---- Lifecycle (« cycle de vie »): the history inline, recording one status, the CSV import.


def _platform_choices():
    """Code and label, in the support user's language (chosen per request, hence callable)."""
    return [(code.value, f"{code.value} {code.label}") for code in PLATFORM_CODES]


class LifecycleForm(forms.Form):
    """One status the platform reported for an invoice."""

    status = forms.ChoiceField(label=_("Statut"), choices=lambda: _platform_choices())
    occurred_at = forms.DateTimeField(
        label=_("Date du statut"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Quand la plateforme l'a émis (heure de Paris)."),
    )
    note = forms.CharField(
        label=_("Note ou motif"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Le motif de rejet ou de refus transmis par la plateforme. Le client la voit."),
    )


class LifecycleImportForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier CSV"),
        help_text=_(
            "Une ligne par statut : numéro de facture, statut (code ou libellé : 200 ou "
            "Déposée), date (AAAA-MM-JJ, AAAA-MM-JJ HH:MM ou JJ/MM/AAAA), note facultative. "
            "UTF-8, 1 Mo au plus."
        ),
    )
    organisation = forms.ModelChoiceField(
        label=_("Compte client"),
        queryset=Organisation.objects.order_by("name"),
        required=False,
        help_text=_("Facultatif : n'accepter que les factures de ce compte."),
    )


class InvoiceStatusEventInline(admin.TabularInline):
    """The history, read-only: written by the services only."""

    model = InvoiceStatusEvent
    extra = 0
    can_delete = False
    fields = ["occurred_at", "code", "source", "actor", "note", "recorded_at"]
    readonly_fields = fields
    verbose_name = _("statut")
    verbose_name_plural = _("Historique des statuts (cycle de vie)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor").order_by("occurred_at", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LifecycleAdminMixin:
    """The invoice admin's lifecycle pages: record one platform status for an invoice, and
    import a CSV of statuses. Both need the support actions' permission (change invoice)
    and call invoices.services, which validate and audit."""

    change_form_template = "admin/invoices/invoice/change_form.html"
    change_list_template = "admin/invoices/invoice/change_list.html"

    def get_urls(self):
        def view(pattern, method, name):
            return path(pattern, self.admin_site.admin_view(method), name=name)

        return [
            view("<int:pk>/lifecycle/", self.lifecycle_view, "invoices_invoice_lifecycle"),
            view(
                "lifecycle-import/", self.lifecycle_import_view, "invoices_invoice_lifecycle_import"
            ),
            *super().get_urls(),
        ]

    def _lifecycle_allowed(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied

    def _lifecycle_follow_up(self, request, refused=(), rejected=()):
        """What support must do next: the reform's consequence of each status."""
        if refused:
            self.message_user(
                request,
                _(
                    "Refusée par le client : %(numbers)s. Annulez-la par un avoir (action "
                    "« Émettre un avoir »)."
                )
                % {"numbers": ", ".join(refused)},
                messages.WARNING,
            )
        if rejected:
            self.message_user(
                request,
                _(
                    "Rejetée par la plateforme : %(numbers)s. Elle est réputée non émise : "
                    "annulée sans avoir, son numéro reste dans la séquence. Corrigez ce qui a "
                    "été rejeté puis émettez la facture corrigée, sous un nouveau numéro."
                )
                % {"numbers": ", ".join(rejected)},
                messages.WARNING,
            )

    def lifecycle_view(self, request, pk):
        self._lifecycle_allowed(request)
        invoice = get_object_or_404(Invoice, pk=pk)
        form = LifecycleForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                event = services.invoice_lifecycle_record(
                    invoice=invoice,
                    status=form.cleaned_data["status"],
                    occurred_at=form.cleaned_data["occurred_at"],
                    source=InvoiceStatusEvent.Source.PLATFORM,
                    actor=request.user,
                    note=form.cleaned_data["note"],
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                self.message_user(
                    request,
                    _("Statut « %(status)s » enregistré pour %(number)s.")
                    % {"status": event.label, "number": invoice.number},
                    messages.SUCCESS,
                )
                code = event.code
                self._lifecycle_follow_up(
                    request,
                    refused=[invoice.number] if code == InvoiceStatusEvent.Code.REFUSED else [],
                    rejected=[invoice.number] if code == InvoiceStatusEvent.Code.REJECTED else [],
                )
                return redirect(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": invoice,
            "title": _("Enregistrer un statut de la plateforme"),
            "form": form,
        }
        return TemplateResponse(request, "admin/invoices/invoice/lifecycle.html", context)

    def lifecycle_import_view(self, request):
        self._lifecycle_allowed(request)
        errors = []
        form = LifecycleImportForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
        )
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > CSV_MAX_BYTES:
                errors = [str(_("Le fichier dépasse 1 Mo : découpez-le."))]
            else:
                try:
                    result = services.invoice_lifecycle_import(
                        data=upload.read(CSV_MAX_BYTES + 1),
                        actor=request.user,
                        ip=client_ip(request),
                        organisation=form.cleaned_data["organisation"],
                    )
                except ValidationError as exc:
                    errors = exc.messages
                else:
                    self.message_user(
                        request,
                        _(
                            "Import terminé : %(recorded)d statut(s) enregistré(s), "
                            "%(unchanged)d déjà présent(s)."
                        )
                        % {"recorded": result.recorded, "unchanged": result.unchanged},
                        messages.SUCCESS,
                    )
                    self._lifecycle_follow_up(
                        request, refused=result.refused, rejected=result.rejected
                    )
                    return redirect(reverse("admin:invoices_invoice_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Importer des statuts de la plateforme (CSV)"),
            "form": form,
            "errors": errors,
        }
        return TemplateResponse(request, "admin/invoices/invoice/lifecycle_import.html", context)


@admin.register(Invoice)
class InvoiceAdmin(LifecycleAdminMixin, admin.ModelAdmin):
    """Issued invoices and credit notes are read-only: no add (invoice_issue is the only
    way), no edit, no delete. Support may credit an invoice in full or in part by a credit
    note, or email a document again, through the services, which audit them; recording a
    payment is the payments app's (payments.admin registers this admin again with that
    action)."""

    list_display = ["number", "issue_date", "buyer_legal_name", "kind", "total_display"]
    list_display += ["status_display", "balance_display", "corrects"]
    list_filter = ["status", "kind", "tax_treatment", "currency"]
    search_fields = ["number", "organisation__name", "buyer_legal_name", "buyer_vat_number"]
    list_select_related = ["organisation", "corrects"]
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline, InvoiceStatusEventInline]
    # « Enregistrer le paiement » is added by payments.admin, which records a payment.
    actions = ["credit_note", "resend_email"]
    fieldsets = [
        (None, {"fields": ["number", "kind", "corrects", "status", "organisation"]}),
        (
            _("Dates"),
            {"fields": ["issue_date", "due_date", "period_start", "period_end", "service_date"]},
        ),
        (
            _("Montants"),
            {
                "fields": [
                    "currency",
                    "language",
                    "subtotal_display",
                    "vat_rate",
                    "vat_amount_display",
                    "total_display",
                    "tax_treatment",
                    "tax_mention",
                    "exchange_rate",
                    "exchange_rate_date",
                    "vat_amount_eur_display",
                    "payment_method",
                    "credit_balance",
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
                    "buyer_street_lines",
                    "buyer_postal_code",
                    "buyer_city",
                    "buyer_country",
                    "buyer_vat_number",
                    "buyer_siren",
                    "buyer_email",
                    "order_reference",
                    "buyer_reference",
                    "delivery_address_lines",
                ]
            },
        ),
        (_("PDF"), {"fields": ["pdf_name", "pdf_sha256", "pdf_rendered_at", "created_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Invoice._meta.fields] + [
            "credit_balance",
            "subtotal_display",
            "vat_amount_display",
            "total_display",
            "vat_amount_eur_display",
        ]

    def get_queryset(self, request):
        # What the credit notes take off each invoice, in the list's one query.
        return selectors.with_credit_sums(super().get_queryset(request))

    @admin.display(description=_("reste à régler / porté au crédit"))
    def balance_display(self, obj):
        return credit_balance_text(obj)

    @admin.display(description=_("avoirs"))
    def credit_balance(self, obj):
        """The credit notes of an invoice and what they leave; what a credit note gave back."""
        if obj.is_credit_note:
            return credit_balance_text(obj) or "—"
        notes = obj._credit_notes()
        if not notes:
            return "—"
        credited = _("%(amount)s TTC crédités par %(numbers)s") % {
            "amount": money(obj.credited, obj.currency),
            "numbers": ", ".join(note.number for note in notes),
        }
        return " ; ".join(filter(None, [str(credited), credit_balance_text(obj)]))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # An invoice's page is view-only; "change" only unlocks the actions below.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=_("total TTC"), ordering="total")
    def total_display(self, obj):
        return money(obj.total, obj.currency)

    @admin.display(description=_("total HT"))
    def subtotal_display(self, obj):
        return money(obj.subtotal, obj.currency)

    @admin.display(description=_("TVA"))
    def vat_amount_display(self, obj):
        return money(obj.vat_amount, obj.currency)

    @admin.display(description=_("TVA en euros"))
    def vat_amount_eur_display(self, obj):
        return money(obj.vat_amount_eur, "EUR") or "—"

    @admin.display(description=_("statut"), ordering="status")
    def status_display(self, obj):
        return obj.status_label

    def _refused(self, request, invoice, exc: ValidationError):
        self.message_user(request, f"{invoice.number} : {' '.join(exc.messages)}", messages.ERROR)

    def _apply_each(self, request, queryset, service) -> int:
        """Call `service` for each selected invoice, as the support user; a refused one is
        reported and does not stop the others. Returns how many succeeded."""
        done = 0
        for invoice in queryset:
            try:
                service(invoice=invoice, actor=request.user, by_support=True, ip=client_ip(request))
            except ValidationError as exc:
                self._refused(request, invoice, exc)
            else:
                done += 1
        return done

    @admin.action(description=_("Émettre un avoir"), permissions=["change"], location=BOTH)
    def credit_note(self, request, queryset):
        """First a page asking why and, for one invoice, what to credit (everything left,
        chosen lines, an amount), then one credit note per invoice, each in its own
        transaction: a refused one does not stop the others. A refused part of one invoice
        shows on the page again, nothing issued."""
        invoices = list(queryset.order_by("sequence"))
        remaining = None
        if len(invoices) == 1 and not invoices[0].is_credit_note:
            remaining = selectors.invoice_credit_remaining(invoices[0])
        form = CreditNoteForm(
            request.POST if "apply" in request.POST else None, remaining=remaining
        )
        if form.is_bound and form.is_valid():
            part = form.service_arguments()
            for invoice in invoices:
                try:
                    credit_note = services.credit_note_issue(
                        invoice=invoice,
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                        by_support=True,
                        ip=client_ip(request),
                        **part,
                    )
                except ValidationError as exc:
                    if part:
                        form.add_service_errors(exc)
                        break
                    self._refused(request, invoice, exc)
                else:
                    self._issued(request, credit_note)
            else:
                return None  # back to the list, with the messages
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Émettre un avoir"),
            "form": form,
            "invoices": invoices,
            "remaining": remaining,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "credit_note",
        }
        return TemplateResponse(request, "invoices/admin/credit_note_confirm.html", context)

    def _issued(self, request, credit_note):
        invoice = credit_note.corrects  # as the service left it
        values = {
            "number": invoice.number,
            "credit_note": credit_note.number,
            "amount": money(credit_note.credit_amount, credit_note.currency),
            "balance": credit_balance_text(invoice),
        }
        if credit_note.cancels_whole_invoice and invoice.status == Invoice.Status.VOID:
            message = _("Facture %(number)s annulée par l'avoir %(credit_note)s.")
        elif invoice.status == Invoice.Status.VOID:
            message = _(
                "Facture %(number)s : avoir %(credit_note)s de %(amount)s TTC ; entièrement "
                "créditée, la facture est annulée."
            )
        else:
            message = _(
                "Facture %(number)s : avoir %(credit_note)s de %(amount)s TTC ; %(balance)s."
            )
        self.message_user(request, message % values, messages.SUCCESS)

    @admin.action(
        description=_("Renvoyer l'e-mail de la facture"), permissions=["change"], location=BOTH
    )
    def resend_email(self, request, queryset):
        sent = self._apply_each(request, queryset, services.invoice_email_resend)
        if sent:
            message = ngettext(
                "%(count)d e-mail de facture renvoyé aux destinataires actuels.",
                "%(count)d e-mails de facture renvoyés aux destinataires actuels.",
                sent,
            )
            self.message_user(request, message % {"count": sent}, messages.SUCCESS)


@admin.register(NumberSequence)
class NumberSequenceAdmin(admin.ModelAdmin):
    list_display = ["name", "next_value", "last_issue_date"]
    readonly_fields = ["name", "next_value", "last_issue_date"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ExchangeRateForm(forms.ModelForm):
    """One rate, checked by the service's own rules (invoices.services.exchange_rates)."""

    class Meta:
        model = ExchangeRate
        fields = ["currency", "date", "rate"]
        help_texts = {
            "currency": _("Code ISO 4217 de la devise, ex. USD."),
            "rate": _(
                "Le taux de référence publié par la BCE pour ce jour : 1 EUR = combien "
                "d'unités de la devise (ex. 1,0856 pour le dollar)."
            ),
        }
        localized_fields = ["rate"]

    def clean(self):
        cleaned = super().clean()
        currency = self.instance.currency if self.instance.pk else cleaned.get("currency")
        day = self.instance.date if self.instance.pk else cleaned.get("date")
        if currency and day and cleaned.get("rate") is not None:
            try:
                currency, day, rate = services.exchange_rate_clean(
                    currency=currency, day=day, rate=cleaned["rate"]
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
            else:
                cleaned.update(currency=currency, date=day, rate=rate)
        return cleaned


class ExchangeRateImportForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier CSV de la BCE"),
        help_text=_(
            "eurofxref-hist.csv (l'historique) ou eurofxref.csv (les taux du jour), tels que "
            "publiés par la Banque centrale européenne."
        ),
    )
    currencies = forms.CharField(
        label=_("Devises"),
        required=False,
        help_text=_("Séparées par des virgules, ex. USD, GBP. Vide : toutes celles du fichier."),
    )
    since = forms.DateField(
        label=_("À partir du"), required=False, help_text=_("Vide : toutes les dates.")
    )


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Support's console of the ECB rates the VAT in euros is converted at: add or correct
    one, remove one entered by mistake, import a CSV file of them. Every write goes through
    invoices.services (validated, audited); issued invoices keep the rate they copied."""

    form = ExchangeRateForm
    change_list_template = "admin/invoices/exchangerate/change_list.html"
    list_display = ["date", "currency", "rate", "source", "updated_at"]
    list_filter = ["currency", "source"]
    date_hierarchy = "date"
    search_fields = ["currency"]

    def get_readonly_fields(self, request, obj=None):
        # A rate is one currency's on one day: a wrong day is removed, not moved.
        return ["currency", "date", "source", "updated_at"] if obj else []

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="invoices_exchangerate_import",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        # What the next invoices need (the `check --deploy` warning invoices.W003 says it too).
        for stale in exchange_rates.stale_currencies(today=timezone.localdate()):
            self.message_user(request, _stale_message(stale), messages.WARNING)
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        saved = services.exchange_rate_set(
            currency=form.cleaned_data.get("currency", obj.currency),
            day=form.cleaned_data.get("date", obj.date),
            rate=form.cleaned_data["rate"],
            actor=request.user,
            ip=client_ip(request),
        )
        obj.pk, obj.source, obj.updated_at = saved.pk, saved.source, saved.updated_at

    def delete_model(self, request, obj):
        services.exchange_rate_delete(exchange_rate=obj, actor=request.user, ip=client_ip(request))

    def delete_queryset(self, request, queryset):
        for rate in queryset:
            self.delete_model(request, rate)

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        errors = []
        posted = request.method == "POST"
        form = ExchangeRateImportForm(
            request.POST if posted else None, request.FILES if posted else None
        )
        if posted and form.is_valid():
            upload = form.cleaned_data["file"]
            currencies = {
                code.strip() for code in form.cleaned_data["currencies"].split(",") if code.strip()
            }
            if upload.size > CSV_RATES_MAX_BYTES:
                errors = [str(_("Le fichier dépasse 10 Mo."))]
            else:
                try:
                    result = services.exchange_rates_import(
                        data=upload.read(CSV_RATES_MAX_BYTES + 1),
                        actor=request.user,
                        currencies=currencies or None,
                        since=form.cleaned_data["since"],
                        ip=client_ip(request),
                    )
                except ValidationError as exc:
                    errors = exc.messages
                else:
                    self.message_user(
                        request,
                        _(
                            "%(saved)d taux enregistré(s) (%(currencies)s), du %(first)s au "
                            "%(last)s."
                        )
                        % {
                            "saved": result.saved,
                            "currencies": ", ".join(result.currencies),
                            "first": long_date(result.first),
                            "last": long_date(result.last),
                        },
                        messages.SUCCESS,
                    )
                    return redirect(reverse("admin:invoices_exchangerate_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Importer des taux de change de la BCE (CSV)"),
            "form": form,
            "errors": errors,
        }
        return TemplateResponse(request, "admin/invoices/exchangerate/import.html", context)


def _stale_message(stale) -> str:
    if stale.latest is None:
        return _(
            "Aucun taux de change de l'euro en %(currency)s : les factures avec TVA de "
            "%(count)d compte(s) facturé(s) en %(currency)s seront refusées. Importez ou "
            "saisissez le taux BCE du jour."
        ) % {"currency": stale.currency, "count": stale.accounts}
    return _(
        "Le dernier taux de change de l'euro en %(currency)s date du %(date)s : les factures "
        "avec TVA de %(count)d compte(s) facturé(s) en %(currency)s seront refusées. Importez "
        "ou saisissez le taux BCE du jour."
    ) % {
        "currency": stale.currency,
        "date": long_date(stale.latest),
        "count": stale.accounts,
    }
