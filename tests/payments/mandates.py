"""Helpers for the mandate tests: sign and confirm as the owner would, through the services."""

import re

from emails.models import Email
from subscriptions import services

LINK = re.compile(r"/confirm/([A-Za-z0-9_-]+)/")
DE_IBAN = "DE89370400440532013000"
FR_IBAN = "FR1420041010050500013M02606"


def values(**overrides) -> dict:
    return {
        "scheme": "CORE",
        "iban": "FR14 2004 1010 0505 0001 3M02 606",
        "bic": "",
        "holder_name": "Festival International du Film de Lyon",
        "holder_address": "1 place Bellecour\n69002 Lyon",
        "signed_place": "Lyon",
        **overrides,
    }


def latest_token(kind: str) -> str:
    email = Email.objects.filter(kind=kind).latest("pk")
    return LINK.search(email.body_text).group(1)


def sign(owner, **overrides):
    services.mandate_request(
        organisation=owner.organisation, actor=owner.user, values=values(**overrides)
    )
    return latest_token("mandate_request")


def sign_and_confirm(owner, **overrides):
    token = sign(owner, **overrides)
    services.mandate_confirm(token=token)
    return token


def pdf_text(content: bytes) -> str:
    import subprocess

    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())
