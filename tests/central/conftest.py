"""Central's fixtures: every test runs on SQLite and on a real PostgreSQL cluster
started for the session (package postgresql)."""

from __future__ import annotations

import pytest

from tests.central.harness import (
    central_call,
    make_central,
    new_pg_database,
    pg_bin,
    postgres_cluster,
)
from tests.support import CI


@pytest.fixture(scope="session")
def pg_base():
    if not pg_bin("initdb"):
        message = "needs initdb: apt-get install postgresql"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.sqlite3'}"
    return new_pg_database(request.getfixturevalue("pg_base"))


@pytest.fixture
def capp(tmp_path, database_url):
    from central.db import database

    app = make_central(tmp_path / "central", database_url)
    try:
        yield app
    finally:
        if not database.is_closed():
            database.close()
        database.obj.close_all() if hasattr(database.obj, "close_all") else None


@pytest.fixture
def call(capp):
    return lambda fn, *a, **kw: central_call(capp, fn, *a, **kw)


@pytest.fixture
def cclient(capp):
    return capp.test_client()
