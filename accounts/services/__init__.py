"""Every change to an account, its members and its billing contacts goes through here."""

from .choice import organisation_choose
from .contacts import contact_add, contact_remove, contact_update
from .members import member_add, member_remove, member_update
from .organisation import (
    clean_currency,
    organisation_create,
    organisation_update_address,
    organisation_update_delivery_address,
    organisation_update_profile,
    organisation_update_references,
    organisation_update_siren,
    organisation_update_vat,
)
from .ownership import ownership_transfer
from .people import machine_user_create, people_anonymise, user_update_by_support
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
    "clean_currency",
    "contact_add",
    "contact_remove",
    "contact_update",
    "machine_user_create",
    "member_add",
    "member_remove",
    "member_update",
    "organisation_create",
    "organisation_update_address",
    "organisation_update_delivery_address",
    "organisation_update_profile",
    "organisation_update_references",
    "organisation_update_siren",
    "organisation_update_vat",
    "ownership_transfer",
    "oidc_user_resolve",
    "organisation_choose",
    "people_anonymise",
    "user_update_by_support",
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
