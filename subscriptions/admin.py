"""Read-only views for support. Changes go through subscriptions.services: the support
actions (change the plan, reopen, resend a confirmation) are on the account page
(support.admin.OrganisationAdmin); the pricing page's features are maintained here
(FeatureAdmin, through services.feature_save)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.permissions import client_ip

from . import services
from .models import AccountClosure, Confirmation, Feature, Plan, PlanPrice, Subscription


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PlanPriceInline(admin.TabularInline):
    model = PlanPrice
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["rank", "code", "name_fr", "name_en", "is_public"]
    ordering = ["rank"]
    inlines = [PlanPriceInline]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "plan", "next_plan", "period_start", "period_end", "status"]
    list_filter = ["status", "plan"]
    search_fields = ["organisation__name"]
    list_select_related = ["organisation", "plan", "next_plan"]


@admin.register(Confirmation)
class ConfirmationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organisation", "kind", "plan", "status", "expires_at", "used_at"]
    list_filter = ["kind", "status"]
    search_fields = ["organisation__name"]
    exclude = ["token_hash"]
    list_select_related = ["organisation", "plan"]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f != "token_hash"]


@admin.register(AccountClosure)
class AccountClosureAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "closed_at", "anonymise_after", "anonymised_at", "reopened_at"]
    search_fields = ["organisation__name"]
    list_select_related = ["organisation"]


class FeatureForm(forms.ModelForm):
    """A row of the comparison and, for each plan, what it offers of it. The per-plan
    fields are added by feature_form() for the plans of the moment."""

    plans: tuple[Plan, ...] = ()

    class Meta:
        model = Feature
        fields = ["label_fr", "label_en", "code", "position"]

    @staticmethod
    def names(plan: Plan) -> tuple[str, str, str]:
        return (f"plan_{plan.pk}_included", f"plan_{plan.pk}_value_fr", f"plan_{plan.pk}_value_en")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            stored = {value.plan_id: value for value in self.instance.plan_values.all()}
            for plan in self.plans:
                included, value_fr, value_en = self.names(plan)
                value = stored.get(plan.pk)
                self.initial[included] = value is not None and value.included
                self.initial[value_fr] = value.value_fr if value else ""
                self.initial[value_en] = value.value_en if value else ""

    def cells(self) -> list[services.FeatureCell]:
        cells = []
        for plan in self.plans:
            included, value_fr, value_en = self.names(plan)
            cells.append(
                services.FeatureCell(
                    plan=plan,
                    included=bool(self.cleaned_data.get(included)),
                    value_fr=self.cleaned_data.get(value_fr) or "",
                    value_en=self.cleaned_data.get(value_en) or "",
                )
            )
        return cells

    def clean(self):
        cleaned = super().clean()
        for plan, cell in zip(self.plans, self.cells(), strict=True):
            try:
                services.feature_cell_clean(cell)
            except ValidationError as exc:
                self.add_error(self.names(plan)[1], exc)
        return cleaned


def feature_form(plans) -> type[FeatureForm]:
    fields = {"plans": tuple(plans)}
    for plan in plans:
        included, value_fr, value_en = FeatureForm.names(plan)
        fields[included] = forms.BooleanField(label=_("Inclus"), required=False)
        fields[value_fr] = forms.CharField(
            label=_("Valeur (français)"),
            max_length=60,
            required=False,
            help_text=_("Affichée à la place de la coche, ex. « 5 000 ». Vide : une coche."),
        )
        fields[value_en] = forms.CharField(
            label=_("Valeur (anglais)"), max_length=60, required=False, help_text=_("ex. 5,000")
        )
    return type("FeatureForm", (FeatureForm,), fields)


@admin.register(Feature)
class FeatureAdmin(admin.ModelAdmin):
    """The rows of the pricing page's comparison, one per feature, with each plan's cell.
    Saved and deleted through services.feature_save / feature_delete (audited)."""

    list_display = ["position", "label_fr", "label_en", "code"]
    list_display_links = ["label_fr"]
    ordering = ["position", "pk"]
    search_fields = ["label_fr", "label_en", "code"]

    def _plans(self):
        return list(Plan.objects.order_by("rank"))

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = feature_form(self._plans())
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": ["label_fr", "label_en", "code", "position"]})]
        for plan in self._plans():
            fieldsets.append(
                (
                    _("Forfait %(plan)s") % {"plan": plan.name},
                    {"fields": [FeatureForm.names(plan)]},
                )
            )
        return fieldsets

    def save_model(self, request, obj, form, change):
        services.feature_save(
            feature=obj, cells=form.cells(), actor=request.user, ip=client_ip(request)
        )

    def delete_model(self, request, obj):
        services.feature_delete(feature=obj, actor=request.user, ip=client_ip(request))

    def delete_queryset(self, request, queryset):
        for feature in queryset:
            self.delete_model(request, feature)
