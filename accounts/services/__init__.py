"""Every change to an account, its members and its billing contacts goes through here."""

from .choice import organisation_choose
from .contacts import contact_add, contact_remove, contact_update
from .organisation import (
    organisation_update_address,
    organisation_update_delivery_address,
    organisation_update_references,
    organisation_update_siren,
    organisation_update_vat,
)
from .ownership import ownership_transfer
from .people import people_anonymise
from .sign_in import OidcIdentity, oidc_user_resolve, sign_in_record
from .two_factor import (
    TwoFactorProof,
    TwoFactorRequired,
    two_factor_disable,
    two_factor_enable,
    two_factor_enrol_start,
    two_factor_recovery_regenerate,
    two_factor_require,
    two_factor_reset,
    two_factor_verify,
)

__all__ = [
    "OidcIdentity",
    "contact_add",
    "contact_remove",
    "contact_update",
    "organisation_update_address",
    "organisation_update_delivery_address",
    "organisation_update_references",
    "organisation_update_siren",
    "organisation_update_vat",
    "ownership_transfer",
    "oidc_user_resolve",
    "organisation_choose",
    "people_anonymise",
    "sign_in_record",
    "TwoFactorProof",
    "TwoFactorRequired",
    "two_factor_disable",
    "two_factor_enable",
    "two_factor_enrol_start",
    "two_factor_recovery_regenerate",
    "two_factor_require",
    "two_factor_reset",
    "two_factor_verify",
]
