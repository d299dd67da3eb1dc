"""Support's console for payment reminders: the reminders sent (read-only), and pausing or
resuming an account's reminders from its page, with a reason, through the services
(audited as the support user). Imported at the end of payments.admin, which Django
discovers; the pages need the Support group's payments permission, as the other payment
actions."""

from django.contrib import admin
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from accounts.permissions import client_ip
from billing_portal.formatting import money

from . import services
from .console import PAY, ConsolePages
from .forms import ReasonForm
from .models import Reminder


class ReminderAdmin(ConsolePages, admin.ModelAdmin):
    list_display = ["sent_on", "organisation", "invoice", "stage_display", "amount_display"]
    list_display += ["penalty_display", "recipients"]
    list_filter = ["stage", "currency"]
    search_fields = ["organisation__name", "invoice__number"]
    list_select_related = ["organisation", "invoice"]
    date_hierarchy = "sent_on"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("étape"), ordering="stage")
    def stage_display(self, obj):
        if obj.stage < 0:
            return _("J%(days)d avant l'échéance") % {"days": obj.stage}
        return _("J+%(days)d après l'échéance") % {"days": obj.stage}

    @admin.display(description=_("reste à payer"), ordering="amount_due")
    def amount_display(self, obj):
        return money(obj.amount_due, obj.currency)

    @admin.display(description=_("pénalités"))
    def penalty_display(self, obj):
        return money(obj.penalty, obj.currency)

    def get_urls(self):
        def view(pattern, method, name):
            return path(pattern, self.admin_site.admin_view(method), name=name)

        return [
            view("pause/<int:organisation_pk>/", self.pause_view, "payments_reminders_pause"),
            view("resume/<int:organisation_pk>/", self.resume_view, "payments_reminders_resume"),
            *super().get_urls(),
        ]

    def _reason_page(self, request, organisation_pk, *, service, title, success, intro):
        organisation = get_object_or_404(Organisation, pk=organisation_pk)

        def action(data):
            return service(
                organisation=organisation,
                reason=data["reason"],
                actor=request.user,
                ip=client_ip(request),
            )

        return self._form_page(
            request,
            permission=PAY,
            title=title % {"account": organisation.name},
            form=lambda data: ReasonForm(data),
            action=action,
            success=lambda result: success,
            done_url=lambda result: reverse(
                "admin:accounts_organisation_change", args=[organisation.pk]
            ),
            context={"organisation": organisation, "intro": intro},
        )

    def pause_view(self, request, organisation_pk):
        return self._reason_page(
            request,
            organisation_pk,
            service=services.reminders_pause,
            title=_("Suspendre les relances de paiement de %(account)s"),
            success=_("Relances suspendues : aucune relance ne part tant qu'elles le sont."),
            intro=_(
                "Aucune relance de paiement ne sera envoyée à ce compte jusqu'à leur reprise "
                "(un litige, un échéancier convenu). À la reprise, chaque facture impayée "
                "reçoit la dernière relance due, pas celles manquées entre-temps."
            ),
        )

    def resume_view(self, request, organisation_pk):
        return self._reason_page(
            request,
            organisation_pk,
            service=services.reminders_resume,
            title=_("Reprendre les relances de paiement de %(account)s"),
            success=_("Relances reprises."),
            intro=_(
                "Les relances reprennent au prochain passage quotidien : chaque facture "
                "impayée reçoit la dernière relance due."
            ),
        )


admin.site.register(Reminder, ReminderAdmin)
