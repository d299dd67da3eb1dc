"""The context of an email rendered when it is sent, as stored in its outbox row.

An email queued with `render_on_send` (emails.services.email_queue_many) keeps the values
its template prints, not the rows they came from: what it says is what was true when it
was queued (a receipt's amounts, the balance right after that payment), whatever changes
before the worker sends it. The values are JSON, with the types templates compare and
format tagged so they come back as they were: Decimal, date and datetime.

A model instance, or any other object, is refused when the email is queued (TypeError):
its values must be copied into the context, never re-read at send time.
"""

from datetime import date, datetime
from decimal import Decimal


def context_dump(value):
    """`value` (dicts with str keys, lists, str, int, float, bool, None, Decimal, date,
    datetime) as JSON values; TypeError for anything else."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$"):
                raise TypeError(f"An email's context key is a str, not starting with $: {key!r}")
            out[key] = context_dump(item)
        return out
    if isinstance(value, (list, tuple)):
        return [context_dump(item) for item in value]
    raise TypeError(
        f"An email rendered when sent stores values, not {type(value).__name__}: copy what "
        "its template prints into the context."
    )


def context_load(value):
    """What context_dump() stored, with its Decimal, date and datetime values back."""
    if isinstance(value, list):
        return [context_load(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, item),) = value.items()
        if key == "$decimal":
            return Decimal(item)
        if key == "$date":
            return date.fromisoformat(item)
        if key == "$datetime":
            return datetime.fromisoformat(item)
    return {key: context_load(item) for key, item in value.items()}
