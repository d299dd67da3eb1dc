"""Writing many rows in statements whose cost grows with the number of rows, not more.

Django's bulk_update writes `SET column = CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END`:
each row walks the CASE, so n rows cost n² comparisons (1,000 invoices, three columns:
~3 s on the bench's database). On PostgreSQL, rows_update joins the table to a VALUES
list instead (a hash join: linear); elsewhere (SQLite, the demo's) it is bulk_update.

Django's bulk_create builds an `INSERT … SELECT FROM UNNEST(arrays)` through its query
compiler, some ten calls a value. On PostgreSQL, rows_insert writes many rows with `COPY`
instead (the ids taken from the table's sequence first): about half the Python time for
the statement import's rows (docs/payments.md, Scale); elsewhere it is bulk_create.
"""

from datetime import date, datetime
from functools import partial
from operator import attrgetter

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import Field

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


# Below this many rows, rows_insert is bulk_create: COPY costs a query more (the ids, a
# round trip), which COPY's ~20 µs of Python saved a row pays back from some 25 rows.
COPY_MIN_ROWS = 50


def rows_insert(model, objs: list) -> list:
    """Insert `objs` (new instances of `model`) as bulk_create does and return them, each
    with its pk: on PostgreSQL, from COPY_MIN_ROWS rows, with `COPY … FROM STDIN` — the ids
    taken from the table's sequence first, in one query, since COPY returns none. What
    bulk_create does to each object before it is written is done here too: its related
    objects' ids taken (`_prepare_related_fields_for_save`), each field's `pre_save` (an
    `auto_now_add` date set), each value through the field's `get_db_prep_save`. Both
    statements go through the connection's execute wrappers and its query log, as any
    query does: the counts of queries see them. Models with columns the database fills
    (`db_default`, generated), with parents or `order_with_respect_to` are inserted by
    bulk_create."""
    objs = list(objs)
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.generated]
    if (
        len(objs) < COPY_MIN_ROWS
        or connection.vendor != "postgresql"
        or any(field.has_db_default() for field in fields)
        or meta.parents  # bulk_create's to refuse
        or meta.order_with_respect_to  # bulk_create's to number
    ):
        return model._default_manager.bulk_create(objs)
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself, not its proxy: per value
    pk = meta.pk
    fields = [field for field in fields if field is not pk]
    columns = [
        (
            # A field's own pre_save (auto_now_add…), or the value as it is.
            attrgetter(field.attname)
            if type(field).pre_save is Field.pre_save
            else partial(_pre_save, field),
            _as_is(field),
            _prepared(field),
        )
        for field in fields
    ]
    rows = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        row = [None]
        for pre_save, as_is, prep in columns:
            value = pre_save(obj)
            if type(value) not in as_is:
                if hasattr(value, "resolve_expression"):  # bulk_create's to write
                    return model._default_manager.bulk_create(objs)
                value = prep(value, db)
            row.append(value)
        rows.append(row)
    table = db.ops.quote_name(meta.db_table)
    with db.cursor() as cursor:
        missing = [obj for obj in objs if obj.pk is None]
        if missing:
            # The sequence named once (OFFSET 0: not pulled up into each row): nextval of
            # a name looks it up in the catalog each time, ~6 µs a row, 10 times this.
            cursor.execute(
                "SELECT nextval(s) FROM (SELECT pg_get_serial_sequence(%s, %s)::regclass "
                "AS s OFFSET 0) AS q, generate_series(1, %s)",
                [meta.db_table, pk.column, len(missing)],
            )
            for obj, (value,) in zip(missing, cursor.fetchall(), strict=True):
                obj.pk = value
        for obj, row in zip(objs, rows, strict=True):
            row[0] = pk.get_db_prep_save(obj.pk, db)
        names = ", ".join(db.ops.quote_name(f.column) for f in [pk, *fields])
        _copy(db, cursor, f"COPY {table} ({names}) FROM STDIN", rows)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db.alias
    return objs


def _pre_save(field, obj):
    return field.pre_save(obj, add=True)


# Fields (of exactly these classes) whose get_db_prep_save returns a value of these types
# unchanged on PostgreSQL: a str to a CharField, an int to an IntegerField… Those values
# skip it (some ten calls a value); any other goes through it.
_AS_IS = {
    models.CharField: str,
    models.EmailField: str,
    models.TextField: str,
    models.SlugField: str,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.SmallIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveBigIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.AutoField: int,
    models.BigAutoField: int,
    models.SmallAutoField: int,
    models.BooleanField: bool,
    models.DateField: date,
}


def _as_is(field) -> frozenset:
    """The types of the values `field` writes as they are (None where it is nullable)."""
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    kind = _AS_IS.get(type(target)) if type(field) in (type(target), *_RELATIONS) else None
    return frozenset(t for t in (kind, type(None) if field.null else None) if t is not None)


_RELATIONS = (models.ForeignKey, models.OneToOneField)


def _prepared(field):
    """get_db_prep_save, and for a date and time with its time zone, the value as it is
    (what DateTimeField's returns for it on PostgreSQL)."""
    if type(field) is not models.DateTimeField:
        return field.get_db_prep_save

    def prep(value, db):
        if type(value) is datetime and value.tzinfo is not None:
            return value
        return field.get_db_prep_save(value, db)

    return prep


def _copy(db, cursor, sql: str, rows: list[list]) -> None:
    """Write `rows` through `sql` (a COPY … FROM STDIN) on Django's `cursor`, as one query
    to the connection's execute wrappers and, when it keeps one, its query log."""

    def execute(sql, params, many, context):
        db.validate_no_broken_transaction()
        with db.wrap_database_errors:
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)

    if hasattr(cursor, "debug_sql"):  # CursorDebugWrapper: connection.queries keeps it
        with cursor.debug_sql(f"{sql} ({len(rows)} rows)"):
            cursor._execute_with_wrappers(sql, None, many=False, executor=execute)
    else:
        cursor._execute_with_wrappers(sql, None, many=False, executor=execute)
