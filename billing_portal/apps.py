from django.apps import AppConfig


class BillingPortalConfig(AppConfig):
    name = "billing_portal"
    verbose_name = "Palmarès"

    def ready(self):
        from . import brand  # noqa: F401  (registers the brand's system check)
