"""The SQLite database: one connection per app context, and ``erlen init-db``.

The connection lives in ``g`` and is closed by ``teardown_appcontext``. The
schema (``schema.sql``) is idempotent; the first connection a process opens
runs it, so a fresh checkout works without ``erlen init-db``.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime

import click

from erlen import Erlen, current_app, g
from erlen.cli import with_appcontext

_schema_lock = threading.Lock()


def get_db() -> sqlite3.Connection:
    """Return this app context's connection, opening it on first use."""
    if "db" not in g:
        db = _connect(current_app.config["DATABASE"])
        if not current_app.extensions.get("notes.schema_ready"):
            try:
                _ensure_schema(db)
            except BaseException:
                db.close()
                raise
        g.db = db
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    """Close the app context's connection, if one was opened."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db(drop: bool = False) -> None:
    """Create the tables that are missing; with ``drop``, delete everything first."""
    _create_schema(get_db(), drop=drop)


def now() -> str:
    """Return the current UTC time as stored in the database."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _connect(path: str) -> sqlite3.Connection:
    # check_same_thread=False: under ASGI a sync view runs in a worker thread
    # while the app context (and so teardown, which closes the connection) may
    # end on the event loop's thread. The connection is still used by one
    # request at a time, which is all sqlite3 requires.
    db = sqlite3.connect(path, timeout=10, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys = ON")
    return db


def _create_schema(db: sqlite3.Connection, drop: bool = False) -> None:
    if drop:
        db.executescript("DROP TABLE IF EXISTS note; DROP TABLE IF EXISTS user;")
    with current_app.open_resource("schema.sql") as f:
        db.executescript(f.read().decode("utf-8"))
    current_app.extensions["notes.schema_ready"] = True


def _ensure_schema(db: sqlite3.Connection) -> None:
    """Create the schema, once per process, if the database lacks it."""
    with _schema_lock:
        if current_app.extensions.get("notes.schema_ready"):
            return
        found = db.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'note'"
        ).fetchone()[0]
        if not found:
            current_app.logger.info(
                "Creating the database schema in %s", current_app.config["DATABASE"]
            )
            _create_schema(db)
        current_app.extensions["notes.schema_ready"] = True


@click.command("init-db")
@click.option("--drop", is_flag=True, help="Delete all users and notes first.")
@with_appcontext
def init_db_command(drop: bool) -> None:
    """Create the database tables (keeping existing data unless --drop)."""
    if drop:
        click.confirm("Delete every user and note?", abort=True)
    init_db(drop=drop)
    click.echo(f"Initialized the database in {current_app.config['DATABASE']}.")


def init_app(app: Erlen) -> None:
    """Register the teardown and the ``init-db`` command on ``app``."""
    app.teardown_appcontext(close_db)
    app.cli.add_command(init_db_command)
