"""What the apps above invoices provide to it.

invoices sits below subscriptions and must not import it. The Factures tab shows what the
next renewal will invoice, which subscriptions computes: subscriptions registers that
function here from its AppConfig.ready() (billing_portal.hooks).
"""

from billing_portal.hooks import Hook

renewal_estimate = Hook(
    "renewal_estimate",
    "handler(*, organisation) -> estimate: what the account's next renewal will invoice "
    "(subscriptions.pricing.renewal_estimate). At most one handler; none means no estimate.",
)
