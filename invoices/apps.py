from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = _("Factures")

    def ready(self):
        from emails.hooks import attachment_renderers

        from . import checks  # noqa: F401  (registers the system checks)
        from .pdf import invoice_pdf_bytes

        # An invoice email's PDF, {"invoice_id": ...}, is rendered (or read from storage)
        # when the email is sent: the outbox may send before the PDF task has run.
        attachment_renderers.register("invoice_id", invoice_pdf_bytes)
