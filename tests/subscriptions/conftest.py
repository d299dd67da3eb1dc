import re

from emails.models import Email

LINK = re.compile(r"/confirm/([A-Za-z0-9_-]+)/")


def link_token(email: Email) -> str:
    """The token of the confirmation link in an email, as the owner would click it."""
    match = LINK.search(email.body_text)
    assert match, email.body_text
    return match.group(1)


def emails_to(address: str, kind: str | None = None):
    qs = Email.objects.filter(to=address).order_by("pk")
    return list(qs.filter(kind=kind) if kind else qs)
