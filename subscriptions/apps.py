from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = _("Abonnements")

    def ready(self):
        from accounts import hooks as account_hooks
        from invoices import hooks as invoice_hooks

        from .pricing import renewal_estimate
        from .selectors import plan_names
        from .services import confirmations_cancel_for_former_owner

        account_hooks.ownership_transferred.register(confirmations_cancel_for_former_owner)
        account_hooks.audit_plan_names.register(plan_names)
        invoice_hooks.renewal_estimate.register(renewal_estimate)
