"""Support's console for payments: record one by hand, undo an allocation, refund or apply
an account's credit, import a bank file, and work the reconciliation queue.

Every page here writes only through payments.services, as the support user, from the
client's address; a ValidationError shows on the form and nothing changes. The records
themselves are read-only: no add, change or delete form.

The invoice page's « Enregistrer le paiement » action (invoices.admin) becomes the payment
form for the selected invoices: the invoice admin is registered again here, with that
action and the invoice's allocations, since invoices may not import payments.
"""

from django.contrib import admin, messages
from django.contrib.admin import ActionLocation
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Organisation
from accounts.permissions import client_ip
from billing_portal.formatting import money
from invoices.admin import InvoiceAdmin
from invoices.models import Invoice

from . import selectors, services
from .camt import size_error
from .console import PAY, RECONCILE, ConsolePages, ReadOnlyRecords, _account_url, _require
from .forms import CandidateSearchForm, PaymentForm, ReasonForm, RefundForm, StatementForm
from .models import Allocation, BankEntry, BankStatement, Payment, Refund


class AllocationInline(admin.TabularInline):
    model = Allocation
    extra = 0
    can_delete = False
    fields = ["created_at", "invoice", "refund", "amount", "actor", "state"]
    readonly_fields = fields
    verbose_name_plural = _("Imputations")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("invoice", "refund", "reversal__credit_note", "actor")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("état"))
    def state(self, allocation):
        if _has_reversal(allocation):
            reversal = allocation.reversal
            values = {
                "date": date_format(timezone.localtime(reversal.created_at), "SHORT_DATE_FORMAT"),
                "reason": reversal.reason,
            }
            if reversal.credit_note_id:
                values["credit_note"] = reversal.credit_note.number
                return (
                    _(
                        "porté au crédit du compte le %(date)s par l'avoir %(credit_note)s : "
                        "%(reason)s"
                    )
                    % values
                )
            return _("annulée le %(date)s : %(reason)s") % values
        if allocation.invoice_id is None:
            return _("remboursement")
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:payments_allocation_reverse", args=[allocation.pk]),
            _("Annuler l'imputation"),
        )


def _has_reversal(allocation) -> bool:
    try:
        allocation.reversal  # noqa: B018 - reading it tells whether it exists
    except Allocation.reversal.RelatedObjectDoesNotExist:
        return False
    return True


class InvoiceAllocationInline(AllocationInline):
    fields = ["created_at", "payment", "amount", "actor", "state"]
    readonly_fields = fields
    verbose_name_plural = _("Paiements imputés")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payment")


@admin.register(Payment)
class PaymentAdmin(ConsolePages, ReadOnlyRecords, admin.ModelAdmin):
    list_display = ["received_on", "organisation", "amount_display", "method", "payer_name"]
    list_display += ["source", "bank_reference"]
    list_filter = ["method", "source", "currency"]
    search_fields = ["organisation__name", "payer_name", "payer_iban", "bank_reference"]
    list_select_related = ["organisation"]
    date_hierarchy = "received_on"
    inlines = [AllocationInline]
    change_list_template = "admin/payments/payment/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Payment._meta.fields]

    @admin.display(description=_("montant"), ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount, obj.currency)

    def get_urls(self):
        def view(pattern, method, name):
            return path(pattern, self.admin_site.admin_view(method), name=name)

        return [
            view("record/<int:organisation_pk>/", self.record_view, "payments_payment_record"),
            view("refund/<int:organisation_pk>/", self.refund_view, "payments_payment_refund"),
            view(
                "apply-credit/<int:organisation_pk>/",
                self.apply_credit_view,
                "payments_payment_apply_credit",
            ),
            view(
                "allocation/<int:pk>/reverse/",
                self.reverse_view,
                "payments_allocation_reverse",
            ),
            *super().get_urls(),
        ]

    def record_view(self, request, organisation_pk):
        organisation = get_object_or_404(Organisation, pk=organisation_pk)
        chosen = [pk for pk in request.GET.get("invoices", "").split(",") if pk.isdigit()]
        initial = {}
        if chosen:
            invoices = Invoice.objects.filter(
                organisation=organisation, pk__in=chosen, status=Invoice.Status.OPEN
            )
            initial = {
                "invoices": list(invoices),
                "amount": sum((i.amount_due for i in invoices), 0) or None,
            }

        def action(data):
            return services.payment_record(
                organisation=organisation,
                amount=data["amount"],
                currency=data["currency"],
                received_on=data["received_on"],
                method=data["method"],
                payer_name=data["payer_name"],
                payer_iban=data["payer_iban"],
                bank_reference=data["bank_reference"],
                note=data["note"],
                invoices=list(data["invoices"]),
                actor=request.user,
                by_support=True,
                ip=client_ip(request),
            )

        return self._form_page(
            request,
            permission=PAY,
            title=_("Enregistrer un paiement de %(account)s") % {"account": organisation.name},
            form=lambda data: PaymentForm(data, organisation=organisation, initial=initial),
            action=action,
            success=lambda payment: _recorded_message(payment),
            done_url=lambda payment: _account_url(organisation.pk),
            context={"organisation": organisation},
        )

    def refund_view(self, request, organisation_pk):
        organisation = get_object_or_404(Organisation, pk=organisation_pk)
        credit = selectors.credit_balances(organisation=organisation)
        amount, currency = credit[0] if credit else (None, organisation.currency)

        def action(data):
            return services.refund_record(
                organisation=organisation, actor=request.user, ip=client_ip(request), **data
            )

        return self._form_page(
            request,
            permission=PAY,
            title=_("Rembourser le crédit de %(account)s") % {"account": organisation.name},
            form=lambda data: RefundForm(
                data,
                initial={
                    "amount": amount,
                    "currency": currency,
                    "refunded_on": timezone.localdate(),
                },
            ),
            action=action,
            success=lambda refund: (
                _("Remboursement de %(amount)s enregistré.")
                % {"amount": money(refund.amount, refund.currency)}
            ),
            done_url=lambda refund: _account_url(organisation.pk),
            context={
                "organisation": organisation,
                "intro": _(
                    "Enregistrez ici le virement fait depuis la banque : le crédit du compte "
                    "diminue d'autant. Un remboursement ne s'annule pas."
                ),
            },
        )

    def apply_credit_view(self, request, organisation_pk):
        """A button on the account page: POST only; the outcome as a message."""
        _require(request, PAY)
        organisation = get_object_or_404(Organisation, pk=organisation_pk)
        if request.method == "POST":
            allocations = services.credit_apply(
                organisation=organisation,
                actor=request.user,
                by_support=True,
                ip=client_ip(request),
            )
            if allocations:
                numbers = sorted({a.invoice.number for a in allocations})
                messages.success(
                    request,
                    _("Crédit imputé sur %(numbers)s.") % {"numbers": ", ".join(numbers)},
                )
            else:
                messages.info(request, _("Aucun crédit à imputer, ou aucune facture ouverte."))
        return redirect(_account_url(organisation.pk))

    def reverse_view(self, request, pk):
        allocation = get_object_or_404(
            Allocation.objects.select_related("payment__organisation", "invoice"), pk=pk
        )
        organisation = allocation.payment.organisation

        def action(data):
            return services.allocation_reverse(
                allocation=allocation,
                reason=data["reason"],
                actor=request.user,
                ip=client_ip(request),
            )

        target = allocation.invoice.number if allocation.invoice_id else "—"
        return self._form_page(
            request,
            permission=PAY,
            title=_("Annuler l'imputation de %(amount)s sur %(number)s")
            % {
                "amount": money(allocation.amount, allocation.payment.currency),
                "number": target,
            },
            form=lambda data: ReasonForm(data),
            action=action,
            success=lambda reversal: (
                _("Imputation annulée : %(amount)s reviennent au crédit du compte.")
                % {"amount": money(allocation.amount, allocation.payment.currency)}
            ),
            done_url=lambda reversal: _account_url(organisation.pk),
            context={
                "organisation": organisation,
                "intro": _(
                    "La facture redevient due de ce montant ; le montant rejoint le crédit du "
                    "compte, que vous pourrez imputer sur la bonne facture ou rembourser. "
                    "L'annulation est inscrite au journal d'audit avec la raison et votre nom."
                ),
            },
        )


def _recorded_message(payment: Payment) -> str:
    allocated = {}
    for allocation in payment.allocations.select_related("invoice"):
        allocated[allocation.invoice.number] = allocation.amount
    if not allocated:
        return _("Paiement de %(amount)s enregistré : il devient le crédit du compte.") % {
            "amount": money(payment.amount, payment.currency)
        }
    return _("Paiement de %(amount)s enregistré, imputé sur %(invoices)s.") % {
        "amount": money(payment.amount, payment.currency),
        "invoices": ", ".join(
            f"{number} ({money(amount, payment.currency)})" for number, amount in allocated.items()
        ),
    }


@admin.register(Refund)
class RefundAdmin(ReadOnlyRecords, admin.ModelAdmin):
    list_display = ["refunded_on", "organisation", "amount", "currency", "reference", "actor"]
    list_select_related = ["organisation", "actor"]
    search_fields = ["organisation__name", "reference"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Refund._meta.fields]


@admin.register(BankStatement)
class BankStatementAdmin(ConsolePages, ReadOnlyRecords, admin.ModelAdmin):
    list_display = ["imported_at", "kind", "message_id", "file_name", "credits", "new_entries"]
    list_display += ["matched", "queued", "ignored", "imported_by"]
    list_select_related = ["imported_by"]
    search_fields = ["message_id", "file_name", "sha256"]
    change_list_template = "admin/payments/bankstatement/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in BankStatement._meta.fields]

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="payments_bankstatement_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        def action(data):
            upload = data["file"]
            if (error := size_error(upload.size)) is not None:
                raise ValidationError({"file": error})
            return services.statement_import(
                data=upload.read(),
                file_name=upload.name,
                actor=request.user,
                ip=client_ip(request),
            )

        def form(data):
            return StatementForm(data, request.FILES if data is not None else None)

        return self._form_page(
            request,
            permission=RECONCILE,
            title=_("Importer un relevé bancaire"),
            form=form,
            action=action,
            success=_imported_message,
            done_url=lambda statement: reverse("admin:payments_bankentry_changelist"),
            template="admin/payments/bankstatement/import.html",
        )


def _imported_message(statement: BankStatement) -> str:
    message = _(
        "Import de %(file)s terminé : %(credits)d crédit(s) lu(s), %(new)d nouveau(x), "
        "%(matched)d rapproché(s) et enregistré(s), %(queued)d à rapprocher, %(ignored)d "
        "autre(s) écriture(s) ignorée(s) (débits, en attente)."
    ) % {
        "file": statement.file_name,
        "credits": statement.credits,
        "new": statement.new_entries,
        "matched": statement.matched,
        "queued": statement.queued,
        "ignored": statement.ignored,
    }
    if statement.returns:
        message += " " + ngettext(
            "%(count)d prélèvement rejeté lu.",
            "%(count)d prélèvements rejetés lus.",
            statement.returns,
        ) % {"count": statement.returns}
    if statement.duplicates:
        message += " " + ngettext(
            "%(count)d crédit était déjà importé : il n'est pas enregistré deux fois.",
            "%(count)d crédits étaient déjà importés : ils ne sont pas enregistrés deux fois.",
            statement.duplicates,
        ) % {"count": statement.duplicates}
    return message


class QueueFilter(admin.SimpleListFilter):
    """The reconciliation queue by default; the other entries on demand."""

    title = _("statut")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*BankEntry.Status.choices, ("all", _("Toutes"))]

    def choices(self, changelist):
        value = self.value() or BankEntry.Status.QUEUED
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or BankEntry.Status.QUEUED
        if value == "all":
            return queryset
        if value not in BankEntry.Status.values:
            return queryset.none()
        return queryset.filter(status=value)


@admin.register(BankEntry)
class BankEntryAdmin(ConsolePages, ReadOnlyRecords, admin.ModelAdmin):
    """The reconciliation queue: every account's credits that no rule matched."""

    list_display = ["booked_on", "amount_display", "payer_name", "text", "reason", "actions_"]
    list_filter = [QueueFilter, "rule", "currency"]
    search_fields = ["payer_name", "payer_iban", "remittance", "creditor_reference"]
    search_fields += ["bank_reference"]
    list_select_related = ["statement"]
    date_hierarchy = "booked_on"
    change_list_template = "admin/payments/bankentry/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in BankEntry._meta.fields]

    @admin.display(description=_("montant"), ordering="amount")
    def amount_display(self, obj):
        # A returned direct debit is money taken back: shown as the debit it is.
        sign = -1 if obj.kind == BankEntry.Kind.RETURN else 1
        return money(sign * obj.amount, obj.currency)

    @admin.display(description=_("libellé"))
    def text(self, obj):
        return " ".join(filter(None, [obj.creditor_reference, obj.remittance]))[:140]

    @admin.display(description=_("motif"))
    def reason(self, obj):
        if obj.status != BankEntry.Status.QUEUED:
            return obj.get_rule_display() or obj.get_status_display()
        label = obj.get_queue_reason_display()
        return f"{label} : {obj.queue_detail}" if obj.queue_detail else label

    @admin.display(description="")
    def actions_(self, obj):
        if obj.status != BankEntry.Status.QUEUED:
            return ""
        if obj.kind == BankEntry.Kind.RETURN:  # no invoice to pay: dismissed once handled
            return format_html(
                '<a href="{}">{}</a>',
                reverse("admin:payments_bankentry_dismiss", args=[obj.pk]),
                _("Écarter…"),
            )
        return format_html(
            '<a class="button" href="{}">{}</a> <a href="{}">{}</a>',
            reverse("admin:payments_bankentry_assign", args=[obj.pk]),
            _("Imputer…"),
            reverse("admin:payments_bankentry_dismiss", args=[obj.pk]),
            _("Écarter…"),
        )

    def changelist_view(self, request, extra_context=None):
        counts = dict(
            BankEntry.objects.values("status").annotate(n=Count("pk")).values_list("status", "n")
        )
        extra = {"queued_count": counts.get(BankEntry.Status.QUEUED, 0)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def get_urls(self):
        def view(pattern, method, name):
            return path(pattern, self.admin_site.admin_view(method), name=name)

        return [
            view("<int:pk>/assign/", self.assign_view, "payments_bankentry_assign"),
            view("<int:pk>/dismiss/", self.dismiss_view, "payments_bankentry_dismiss"),
            *super().get_urls(),
        ]

    def assign_view(self, request, pk):
        """Second click: each likely invoice has its own button (POST invoice=pk); a search
        finds another; an account alone makes the money its credit."""
        _require(request, RECONCILE)
        entry = get_object_or_404(BankEntry, pk=pk)
        queue_url = reverse("admin:payments_bankentry_changelist")
        if request.method == "POST":
            invoice = organisation = None
            if (value := request.POST.get("invoice", "")).isdigit():
                invoice = Invoice.objects.filter(pk=value).select_related("organisation").first()
            elif (value := request.POST.get("organisation", "")).isdigit():
                organisation = Organisation.objects.filter(pk=value).first()
            if invoice is None and organisation is None:
                messages.error(request, _("Choisissez une facture ou un compte."))
                return redirect(reverse("admin:payments_bankentry_assign", args=[pk]))
            try:
                payment = services.bank_entry_assign(
                    entry=entry,
                    invoice=invoice,
                    organisation=organisation,
                    actor=request.user,
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect(queue_url)
            messages.success(request, _recorded_message(payment))
            return redirect(queue_url)
        search = CandidateSearchForm(request.GET or None)
        query = search.cleaned_data["q"] if search.is_valid() else ""
        accounts = []
        if query:
            accounts = list(
                Organisation.objects.filter(name__icontains=query).order_by("name")[:10]
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Imputer un crédit de %(amount)s")
            % {"amount": money(entry.amount, entry.currency)},
            "entry": entry,
            "candidates": selectors.entry_candidates(entry=entry, query=query),
            "accounts": accounts,
            "search": search,
            "query": query,
            "queue_url": queue_url,
        }
        return TemplateResponse(request, "admin/payments/bankentry/assign.html", context)

    def dismiss_view(self, request, pk):
        entry = get_object_or_404(BankEntry, pk=pk)

        def action(data):
            return services.bank_entry_dismiss(
                entry=entry, reason=data["reason"], actor=request.user, ip=client_ip(request)
            )

        return self._form_page(
            request,
            permission=RECONCILE,
            title=_("Écarter un crédit de %(amount)s")
            % {"amount": money(entry.amount, entry.currency)},
            form=lambda data: ReasonForm(data),
            action=action,
            success=lambda entry: _("Écriture écartée : aucun paiement enregistré."),
            done_url=lambda entry: reverse("admin:payments_bankentry_changelist"),
            context={
                "entry": entry,
                "intro": _(
                    "Pour un crédit qui n'est le paiement d'aucun client (intérêts, virement "
                    "entre vos comptes) : il quitte la file, rien n'est enregistré."
                ),
            },
        )


# The invoice page and list, with payments: « Enregistrer le paiement » opens the payment
# form for the selected invoices, and an invoice shows the payments allocated to it.
admin.site.unregister(Invoice)


@admin.register(Invoice)
class InvoiceWithPaymentsAdmin(InvoiceAdmin):
    actions = ["record_payment", *InvoiceAdmin.actions]
    inlines = [*InvoiceAdmin.inlines, InvoiceAllocationInline]

    @admin.action(
        description=_("Enregistrer le paiement"),
        permissions=["change"],
        location=[ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM],
    )
    def record_payment(self, request, queryset):
        """The payment form, for the selected open invoices of one account."""
        invoices = list(queryset.filter(status=Invoice.Status.OPEN, kind=Invoice.Kind.INVOICE))
        accounts = {invoice.organisation_id for invoice in invoices}
        if len(accounts) != 1:
            self.message_user(
                request,
                _("Choisissez des factures ouvertes d'un seul compte."),
                messages.ERROR,
            )
            return None
        url = reverse("admin:payments_payment_record", args=[accounts.pop()])
        return redirect(f"{url}?{urlencode({'invoices': ','.join(str(i.pk) for i in invoices)})}")


# Their own modules (this one is long enough): the pain.008 files of direct debits; payment
# reminders (the reminders sent, pausing and resuming an account's); SEPA mandates and the
# collections planned under them.
from . import admin_direct_debit, admin_reminders, mandate_admin  # noqa: E402, F401
