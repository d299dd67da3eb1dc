"""The API's clients and keys, for support: a key is made here (its secret shown once),
revoked here, and listed with its last use. Every write goes through api.services, which
records it in the audit trail."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.permissions import client_ip

from . import services
from .models import SCOPES, ApiClient, ApiKey, ClientAccount


class KeyInline(admin.TabularInline):
    model = ApiKey
    fields = ["name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]
    fields = ["name", "description", "created_at"]
    inlines = [KeyInline]

    def get_readonly_fields(self, request, obj=None):
        return ["name", "created_at"] if obj else ["created_at"]

    def get_inlines(self, request, obj):
        return self.inlines if obj else []  # a new client has no key yet

    def save_model(self, request, obj, form, change):
        ip = client_ip(request)
        if change:
            services.client_update(
                client=obj, description=obj.description, actor=request.user, ip=ip
            )
            return
        created = services.client_create(
            name=obj.name, description=obj.description, actor=request.user, ip=ip
        )
        obj.pk, obj.user_id, obj.created_at = created.pk, created.user_id, created.created_at

    def has_delete_permission(self, request, obj=None):
        return False


class KeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("droits"),
        choices=list(SCOPES.items()),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiKey
        fields = ["client", "name", "scopes"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = KeyForm
    list_display = [
        "prefix",
        "name",
        "client",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["client", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "client__name"]
    list_select_related = ["client"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["client", "name", "scopes"]
        return ["client", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        # The form has checked the name and the scopes, as the service does.
        issued = services.key_create(
            client=obj.client,
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            actor=request.user,
            ip=client_ip(request),
        )
        obj.pk, obj.prefix = issued.key.pk, issued.key.prefix
        messages.warning(
            request,
            _("Clé créée. Copiez-la maintenant, elle ne sera plus jamais affichée : %(key)s")
            % {"key": issued.secret},
        )

    @admin.action(description=_("Révoquer"), permissions=["change"])
    def revoke(self, request, queryset):
        count = services.keys_revoke(
            key_ids=list(queryset.values_list("pk", flat=True)),
            actor=request.user,
            ip=client_ip(request),
        )
        messages.success(
            request,
            ngettext("%(count)d clé révoquée.", "%(count)d clés révoquées.", count)
            % {"count": count},
        )


@admin.register(ClientAccount)
class ClientAccountAdmin(admin.ModelAdmin):
    list_display = ["organisation", "client", "external_id", "created_at"]
    list_filter = ["client"]
    search_fields = ["organisation__name", "external_id"]
    list_select_related = ["organisation", "client"]
    fields = ["client", "organisation", "external_id", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
