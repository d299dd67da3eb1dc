from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Paiements")

    def ready(self):
        from emails.hooks import attachment_renderers
        from invoices import hooks

        from .selectors import credit_balances
        from .services import credit_apply_to_new_invoice, credit_return
        from .services.reminders import QR_ATTACHMENT, reminder_qr_png

        # The Factures tab shows the account's credit; a new invoice takes it at once; a
        # credit note gives money already paid back to it.
        hooks.credit_balances.register(credit_balances)
        hooks.invoice_issued.register(credit_apply_to_new_invoice)
        hooks.invoice_credited.register(credit_return)
        # A payment reminder's QR code, {"payment_qr": {...}}, drawn when the email is sent.
        attachment_renderers.register(QR_ATTACHMENT, reminder_qr_png)
