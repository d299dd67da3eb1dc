from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = _("Factures")

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
