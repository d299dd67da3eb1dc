"""What the apps above subscriptions do when something happens to a subscription's account.

support sits above subscriptions; subscriptions must not import it. An app that must act
registers a handler here from its AppConfig.ready(); the subscriptions service calls every
handler inside its own transaction (billing_portal.hooks).
"""

from billing_portal.hooks import Hook

account_anonymised = Hook(
    "account_anonymised",
    "handler(*, organisation): a closed account's people have just been anonymised; erase "
    "the personal data the app keeps about them.",
)
