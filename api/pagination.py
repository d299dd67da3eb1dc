"""Cursor pagination: a page is the rows after the last one seen, by primary key.

The cursor is that key, signed (django.core.signing): opaque to the client, and a forged or
damaged one is refused (400). Walking the pages sees every row that existed when it began
exactly once, whatever is added meanwhile (new rows come after the last page)."""

from django.core import signing
from django.utils.translation import gettext as _

SALT = "api.pagination"
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class BadCursor(Exception):
    pass


def cursor_encode(last_pk: int) -> str:
    return signing.dumps(last_pk, salt=SALT, compress=False)


def cursor_decode(cursor: str) -> int:
    try:
        value = signing.loads(cursor, salt=SALT)
    except signing.BadSignature:
        raise BadCursor(_("Curseur invalide : reprenez celui de la page précédente.")) from None
    if not isinstance(value, int) or value < 0:
        raise BadCursor(_("Curseur invalide : reprenez celui de la page précédente."))
    return value


def page(queryset, *, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """(rows of this page, the next page's cursor or None after the last page)."""
    queryset = queryset.order_by("pk")
    if cursor:
        queryset = queryset.filter(pk__gt=cursor_decode(cursor))
    rows = list(queryset[: limit + 1])
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, cursor_encode(rows[-1].pk)
    return rows, None
