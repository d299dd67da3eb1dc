"""Small helpers of SEPA direct debit shared by the services, emails and pages."""


def masked_iban(iban: str) -> str:
    """An IBAN as emails and pages show it: the country and check digits, the last four
    characters ("FR14 •••• 2606"); enough for the owner to recognise the account."""
    compact = "".join((iban or "").split()).upper()
    if len(compact) < 8:
        return compact
    return f"{compact[:4]} •••• {compact[-4:]}"
