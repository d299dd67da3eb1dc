"""Every change to a subscription, and the closure of an account, goes through here.

One module per noun: links (confirmation links), upgrades, closure (and reopening),
mandate_links (SEPA mandates signed and revoked by the owner), anonymisation, renewals,
support_plans (support's and the host's plan change), signup (the host creates an account),
resend (support sends a link again), features (support's rows of the pricing page's
comparison). Upgrades and closures take two steps:
`*_request` stores a Confirmation and emails its link to the owner; `*_confirm` applies it
when the owner posts the link's form. Renewals, reminders and anonymisation are run by the
periodic tasks in tasks.py. Prices, quotes and the one downgrade rule are in
subscriptions/pricing.py.
"""

from .anonymisation import account_anonymise
from .closure import account_close, account_reopen, closure_confirm, closure_request
from .features import FeatureCell, feature_cell_clean, feature_delete, feature_save
from .links import IssuedLink, confirmations_cancel_for_former_owner
from .mandate_links import (
    mandate_confirm,
    mandate_request,
    mandate_revoke_confirm,
    mandate_revoke_request,
)
from .renewals import renewal_issue, renewal_remind
from .resend import confirmation_resend
from .signup import account_create, account_currency_change
from .support_plans import plan_change_by_host, plan_change_by_support
from .upgrades import upgrade_confirm, upgrade_request

__all__ = [
    "FeatureCell",
    "IssuedLink",
    "account_anonymise",
    "account_close",
    "account_create",
    "account_currency_change",
    "account_reopen",
    "closure_confirm",
    "closure_request",
    "confirmation_resend",
    "confirmations_cancel_for_former_owner",
    "feature_cell_clean",
    "feature_delete",
    "feature_save",
    "mandate_confirm",
    "mandate_request",
    "mandate_revoke_confirm",
    "mandate_revoke_request",
    "plan_change_by_host",
    "plan_change_by_support",
    "renewal_issue",
    "renewal_remind",
    "upgrade_confirm",
    "upgrade_request",
]
