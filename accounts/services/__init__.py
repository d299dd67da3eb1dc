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
]
