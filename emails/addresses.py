"""What counts as an email address the portal will store and write to."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# RFC 5321's limit on a forward path, and the length of every email column.
EMAIL_MAX_LENGTH = 254


def is_email_address(value: str) -> bool:
    if len(value) > EMAIL_MAX_LENGTH:
        return False
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True
