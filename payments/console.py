"""What the payment console's pages share (payments.admin, payments.admin_reminders,
payments.mandate_admin): the permission check, a service's refusal shown on the form, the
form page itself, the read-only records and the link to an account's page."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.admin import ActionLocation
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

FORM_TEMPLATE = "admin/payments/form.html"
PAY = "payments.change_payment"
RECONCILE = "payments.change_bankentry"


def _require(request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _show_errors(form: forms.Form, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class ConsolePages:
    """One helper for the console's form pages, as support.admin's account actions."""

    def _form_page(
        self,
        request,
        *,
        permission: str,
        title,
        form: Callable[[dict | None], forms.Form],
        action: Callable[[dict], object],
        success: Callable[[object], str],
        done_url: Callable[[object], str],
        context: dict | None = None,
        template: str = FORM_TEMPLATE,
    ):
        _require(request, permission)
        bound = form(request.POST if request.method == "POST" else None)
        if request.method == "POST" and bound.is_valid():
            try:
                result = action(bound.cleaned_data)
            except ValidationError as exc:
                _show_errors(bound, exc)
            else:
                messages.success(request, success(result))
                return redirect(done_url(result))
        page = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": bound,
            **(context or {}),
        }
        return TemplateResponse(request, template, page)


def _account_url(organisation_id: int) -> str:
    return reverse("admin:accounts_organisation_change", args=[organisation_id])


class ReadOnlyRecords:
    """Records are written by the services only: shown, never added, changed or deleted."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The list and pages are read-only; "change" only unlocks the support actions.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions
