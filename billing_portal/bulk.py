"""Writing many rows' columns in one statement whose cost grows with the number of rows.

Django's bulk_update writes `SET column = CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END`:
each row walks the CASE, so n rows cost n² comparisons (1,000 invoices, three columns:
~3 s on the bench's database). On PostgreSQL, rows_update joins the table to a VALUES
list instead (a hash join: linear); elsewhere (SQLite, the demo's) it is bulk_update.
"""

from django.db import connection

# Parameters in one statement: PostgreSQL's protocol takes at most 65,535.
MAX_PARAMS = 60_000


def rows_update(model, objs: list, fields: list[str]) -> None:
    """Write `fields` of each of `objs` (instances of `model`, with their pk) to the
    database, as bulk_update does. The model's own checks of bulk_update (an immutable
    record's) are the caller's to make: this writes what it is given."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields)
        return
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    names = ", ".join(connection.ops.quote_name(field.column) for field in columns)
    table = connection.ops.quote_name(meta.db_table)
    assignments = ", ".join(
        f"{connection.ops.quote_name(field.column)} = v.{connection.ops.quote_name(field.column)}"
        for field in columns[1:]
    )
    pk = connection.ops.quote_name(meta.pk.column)
    size = max(1, MAX_PARAMS // len(columns))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start : start + size]
            params = [
                field.get_db_prep_save(getattr(obj, field.attname), connection)
                for obj in batch
                for field in columns
            ]
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM (VALUES {', '.join([row] * len(batch))}) AS v ({names}) "
                f"WHERE {table}.{pk} = v.{pk}",
                params,
            )
