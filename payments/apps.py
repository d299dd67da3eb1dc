from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Paiements")

    def ready(self):
        from invoices import hooks

        from .selectors import credit_balances
        from .services import credit_apply_to_new_invoice

        # The Factures tab shows the account's credit; a new invoice takes it at once.
        hooks.credit_balances.register(credit_balances)
        hooks.invoice_issued.register(credit_apply_to_new_invoice)
