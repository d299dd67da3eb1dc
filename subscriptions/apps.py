from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = _("Abonnements")

    def ready(self):
        from accounts import hooks

        from .services import confirmations_cancel_for_former_owner

        hooks.ownership_transferred.register(confirmations_cancel_for_former_owner)

        from .selectors import plan_names

        hooks.audit_plan_names.register(plan_names)
