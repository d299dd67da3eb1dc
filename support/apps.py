from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = _("Support")

    def ready(self):
        from subscriptions import hooks

        from .services import support_requests_anonymise

        hooks.account_anonymised.register(support_requests_anonymise)
