"""Opening the application database: bring its schema to the newest migration, then
hand out sessions.

``open_appdb(url)`` accepts any SQLAlchemy URL; ``postgresql://`` means the psycopg 3
driver (the ``postgres`` extra), and a bare path means a SQLite file. Migrations are
the Alembic environment in ``migrations/`` next to this file; no alembic.ini is read.

SQLite enforces foreign keys only when asked, so every connection turns them on.
Migrations run with them off and check them before committing, as SQLite's own
procedure for altering tables says (a batch migration copies a table and drops the
old one, which would otherwise cascade into its children).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlglot import exp

from clientlens.model.errors import ClientlensError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # fullmatch: "$" takes a newline
_MIGRATION_LOCK = 7_316_007_301  # pg_advisory_xact_lock key: one migrator at a time


class AppDBError(ClientlensError):
    """An application database that cannot be opened, reached or migrated."""

    code = "app_db_error"


@dataclass
class AppDB:
    """An open application database: the engine and a session factory.

    ``with db.transaction() as s:`` gives a session whose work commits at the end of
    the block, or rolls back if the block raises.
    """

    engine: Engine
    sessions: sessionmaker[Session] = field(repr=False)
    schema: str | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> AppDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def database_url(url: str | URL) -> URL:
    """The URL SQLAlchemy should use: psycopg 3 for PostgreSQL, a path means SQLite."""
    if isinstance(url, str) and "://" not in url:
        url = f"sqlite:///{url}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise AppDBError(f"application database URL '{url}' is not a URL like "
                         "sqlite:///clientlens-app.sqlite or "
                         "postgresql://user@host/dbname") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _reason(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def open_appdb(url: str | URL, *, schema: str | None = None, migrate: bool = True,
               echo: bool = False) -> AppDB:
    """Open the application database at ``url`` and upgrade it to the newest schema.

    ``schema`` (PostgreSQL only) keeps every table, and Alembic's version table, in
    that schema, created when missing; by default the server's search_path decides.
    """
    parsed = database_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    connect_args: dict[str, object] = {}
    if schema is not None:
        if sqlite:
            raise AppDBError("a schema for the application database needs PostgreSQL; "
                             f"'{_shown(parsed)}' is SQLite")
        if not _SCHEMA_NAME.fullmatch(schema):
            raise AppDBError(f"schema '{schema}' is not a lower-case SQL name like "
                             "clientlens_app")
        connect_args["options"] = f"-csearch_path={schema}"
    try:
        engine = create_engine(parsed, echo=echo, connect_args=connect_args)
    except NoSuchModuleError:
        raise AppDBError(f"application database URL '{_shown(parsed)}': unknown database "
                         "kind; use sqlite:///file or postgresql://...") from None
    except ImportError as e:
        extra = " (pip install 'clientlens[postgres]')" if not sqlite else ""
        raise AppDBError(f"application database '{_shown(parsed)}' needs the driver "
                         f"'{e.name}'{extra}") from None
    if sqlite:
        event.listen(engine, "connect", _sqlite_foreign_keys)
    db = AppDB(engine, sessionmaker(engine, expire_on_commit=False), schema)
    try:
        if schema is not None:
            _create_schema(parsed, schema)
        if migrate:
            upgrade(db)
        else:
            with engine.connect():
                pass
    except DBAPIError as e:
        engine.dispose()
        raise AppDBError(f"cannot open the application database '{_shown(parsed)}': "
                         f"{_reason(e)}") from None
    except BaseException:
        engine.dispose()
        raise
    return db


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    # Writers from several threads or processes wait for each other up to 10 s. Set
    # first: switching a new file to WAL takes a lock too, and without the timeout a
    # process opening the database while another does could fail at once.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead log: readers do not block the writer, and a commit syncs one file
    # instead of a rollback journal and the database (a redemption took 34 ms on this
    # machine's disk with the default journal, about 15 ms with WAL). Durability stays
    # synchronous=FULL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _create_schema(url: URL, schema: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            # "if not exists" is not atomic in PostgreSQL: two processes opening a new
            # schema at once both pass the check and one fails on the catalogue's unique
            # index. The migration lock serialises them (released at commit).
            conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            quoted = exp.to_identifier(schema, quoted=True).sql(dialect="postgres")
            conn.execute(text(f"create schema if not exists {quoted}"))
    finally:
        engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the packaged migrations (no alembic.ini)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """The newest migration this version of clientlens knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(db: AppDB) -> str | None:
    """The migration the database is at (None when it was never migrated)."""
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: AppDB, revision: str = "head") -> None:
    """Run every migration the database has not had yet, in one transaction."""
    sqlite = db.dialect == "sqlite"
    head = head_revision() if revision == "head" else None
    if head is not None:
        with db.engine.connect() as conn:  # the usual case: nothing to do, no lock taken
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
    with db.engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no effect inside a transaction
        try:
            _upgrade_locked(db, conn, revision, head, sqlite)
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")


MIGRATION_WAIT = 120.0  # seconds a process waits for another's migration (SQLite)


def _begin_immediate(conn: Connection) -> None:
    """BEGIN IMMEDIATE, waiting up to MIGRATION_WAIT for another process's migration:
    longer than the busy_timeout of ordinary writes, since on a busy machine creating
    every table can itself take seconds, and nothing can proceed before it anyway."""
    deadline = time.monotonic() + MIGRATION_WAIT
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            conn.rollback()
            time.sleep(0.05)


def _upgrade_locked(db: AppDB, conn: Connection, revision: str, head: str | None,
                    sqlite: bool) -> None:
    if sqlite:
        # DDL and the version row commit together. IMMEDIATE takes the write lock before
        # Alembic reads the version: processes opening a database that needs a migration
        # at the same time wait for each other (busy_timeout) instead of one failing with
        # "database is locked" when its read snapshot goes stale.
        _begin_immediate(conn)
    else:
        conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    if head is not None and MigrationContext.configure(conn).get_current_revision() == head:
        conn.rollback()  # another process migrated while this one waited for the lock
        return
    try:
        command.upgrade(alembic_config(conn), revision)
    except CommandError as e:
        conn.rollback()
        raise AppDBError(f"cannot migrate the application database "
                         f"'{_shown(db.engine.url)}': {e} (head of this clientlens: "
                         f"{head_revision()}; is the database from a newer "
                         "version?)") from None
    if sqlite:
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            conn.rollback()
            raise AppDBError(f"migrating '{_shown(db.engine.url)}' would break "
                             f"{len(broken)} foreign key(s), first in table "
                             f"{broken[0][0]}; nothing was changed")
    conn.commit()
