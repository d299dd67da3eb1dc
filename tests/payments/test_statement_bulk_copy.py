"""test_statement_bulk's comparisons again, with every table's rows of the bulk path
written by COPY (billing_portal.bulk.rows_insert, whatever their number) and those of the
credits recorded one by one by INSERTs, as a file of a few credits is: the rows must be
the same both ways."""

import pytest

from billing_portal import bulk

from . import test_statement_bulk as base
from .test_statement_bulk import (  # noqa: F401 (collected here again, with its fixture)
    lyon_many,
    test_a_mixed_statement_writes_the_same_rows_in_bulk,
    test_collections_and_returns_among_transfers_write_the_same_rows_in_bulk,
    test_the_sample_files_write_the_same_rows_in_bulk,
)


@pytest.fixture(autouse=True)
def bulk_path_by_copy(monkeypatch):
    one_by_one = base.one_by_one

    def by_inserts(**kwargs):
        with monkeypatch.context() as patch:
            patch.setattr(bulk, "COPY_MIN_ROWS", 10**9)
            return one_by_one(**kwargs)

    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1)
    monkeypatch.setattr(base, "one_by_one", by_inserts)
