"""The example app in examples/notes, through the test client under every protocol:
each route, the auth flow, validation, attachments, the JSON API, error pages,
the ``init-db`` command and live updates."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import sqlite3
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from erlen import request_started
from erlen.testing import WebsocketRejected

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples" / "notes"
if str(EXAMPLE_DIR) not in sys.path:
    sys.path.insert(0, str(EXAMPLE_DIR))

from notes import _instance_secret_key, create_app  # noqa: E402
from notes.live import QUEUE_SIZE, Hub  # noqa: E402
from notes.model import _display_name  # noqa: E402

PASSWORD = "correct horse"
LIMIT = 64 * 1024
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _no_op(sender, **extra):
    pass


@pytest.fixture
def config(tmp_path):
    return {
        "TESTING": True,
        "SECRET_KEY": "test key",
        "DATABASE": str(tmp_path / "notes.sqlite"),
        "UPLOAD_FOLDER": str(tmp_path / "attachments"),
        "MAX_CONTENT_LENGTH": LIMIT,
    }


@pytest.fixture
def notes_app(config):
    return create_app(config)


@pytest.fixture
def client(notes_app, protocol):
    client = notes_app.test_client(asgi=protocol == "asgi")
    if protocol == "wsgi-reference":
        # With a receiver connected, erlen runs Flask's method chain instead of
        # its inline pipeline: the same tests then cover both.
        with request_started.connected_to(_no_op, notes_app):
            yield client
    else:
        yield client


def add_user(app, username="amy", password=PASSWORD):
    """Create a user directly (a cheap hash keeps the suite fast)."""
    db = sqlite3.connect(app.config["DATABASE"])
    with app.app_context():  # creates the schema
        from notes.db import get_db

        get_db()
    db.execute(
        "INSERT INTO user (username, password_hash, created) VALUES (?, ?, '')",
        (username, generate_password_hash(password, "pbkdf2:sha256:1000")),
    )
    db.commit()
    db.close()


def csrf(client, path="/auth/login"):
    """Return the CSRF token from a form page."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return _TOKEN.search(page.text).group(1)


def login(client, username="amy", password=PASSWORD, **params):
    return client.post(
        "/auth/login",
        query_string=params,
        data={"username": username, "password": password, "csrf_token": csrf(client)},
    )


@pytest.fixture
def amy(client, notes_app):
    """A client logged in as amy."""
    add_user(notes_app)
    assert login(client).status_code == 302
    return client


def create(client, title="Groceries", body="milk, eggs", **files):
    data = {"title": title, "body": body, "csrf_token": csrf(client, "/notes/new")}
    data.update(files)
    return client.post("/notes/new", data=data)


def flashes(page):
    return re.findall(r'<p class="flash (\w+)" role="status">([^<]*)</p>', page.text)


# -- auth ------------------------------------------------------------------------------
def test_register_then_login_then_logout(client):
    assert client.get("/auth/register").status_code == 200
    rv = client.post(
        "/auth/register",
        data={
            "username": "amy",
            "password": PASSWORD,
            "csrf_token": csrf(client, "/auth/register"),
        },
    )
    assert rv.status_code == 302
    assert rv.location == "/auth/login"
    page = client.get("/auth/login")
    assert flashes(page) == [("success", "Your account is ready. Please log in.")]

    rv = login(client)
    assert rv.status_code == 302
    assert rv.location == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert '<span class="who">amy</span>' in home.text
    # Logged in, the auth pages send you home.
    assert client.get("/auth/register").location == "/"
    assert client.get("/auth/login").location == "/"

    rv = client.post("/auth/logout", data={"csrf_token": csrf(client, "/")})
    assert rv.status_code == 302
    assert rv.location == "/auth/login"
    assert flashes(client.get("/auth/login")) == [("info", "You have been logged out.")]
    assert client.get("/").location == "/auth/login?next=/"


def test_password_is_stored_salted_and_hashed(client, notes_app):
    client.post(
        "/auth/register",
        data={
            "username": "amy",
            "password": PASSWORD,
            "csrf_token": csrf(client, "/auth/register"),
        },
    )
    db = sqlite3.connect(notes_app.config["DATABASE"])
    (stored,) = db.execute("SELECT password_hash FROM user").fetchone()
    db.close()
    assert PASSWORD not in stored
    assert stored.startswith("scrypt:")


@pytest.mark.parametrize(
    ("username", "password", "field", "message"),
    [
        ("", PASSWORD, "username", "Choose a username of 3 to 32"),
        ("a b", PASSWORD, "username", "Choose a username of 3 to 32"),
        ("x" * 33, PASSWORD, "username", "Choose a username of 3 to 32"),
        ("amy", "short", "password", "Choose a password of 8 to 128"),
        ("amy", "p" * 129, "password", "Choose a password of 8 to 128"),
    ],
)
def test_register_validation(client, username, password, field, message):
    rv = client.post(
        "/auth/register",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf(client, "/auth/register"),
        },
    )
    assert rv.status_code == 422
    assert f'<p class="field-error" id="{field}-error">{message}' in rv.text
    assert 'aria-invalid="true"' in rv.text


def test_register_duplicate_username(client, notes_app):
    add_user(notes_app, "amy")
    rv = client.post(
        "/auth/register",
        data={
            "username": "AMY",  # usernames are case-insensitive
            "password": PASSWORD,
            "csrf_token": csrf(client, "/auth/register"),
        },
    )
    assert rv.status_code == 422
    assert "The username AMY is already taken." in rv.text


@pytest.mark.parametrize(
    ("username", "password"), [("amy", "wrong pass"), ("bob", PASSWORD)]
)
def test_login_failure_does_not_say_which_part_was_wrong(
    client, notes_app, username, password
):
    add_user(notes_app)
    rv = login(client, username, password)
    assert rv.status_code == 422
    assert '<p class="form-error" role="alert">Incorrect username or password.</p>' in (
        rv.text
    )
    assert f'value="{username}"' in rv.text
    assert client.get("/").status_code == 302


def test_login_required_redirects_back_after_login(client, notes_app):
    add_user(notes_app)
    rv = client.get("/notes/new")
    assert rv.status_code == 302
    assert rv.location == "/auth/login?next=/notes/new"
    page = client.get(rv.location)
    assert 'action="/auth/login?next=/notes/new"' in page.text
    rv = login(client, next="/notes/new")
    assert rv.location == "/notes/new"


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "x"]
)
def test_login_ignores_next_urls_leading_elsewhere(client, notes_app, target):
    add_user(notes_app)
    assert login(client, next=target).location == "/"


def test_login_issues_a_new_session(client, notes_app, protocol):
    """A cookie captured before login never carries the login (BAD_INPUTS 34)."""
    add_user(notes_app)
    client.get("/auth/login")
    before = client.get_cookie("session").value
    with client.session_transaction() as sess:
        old_token = sess["_csrf_token"]
        sess["planted"] = "by an attacker"
    planted = client.get_cookie("session").value
    assert login(client).status_code == 302
    after = client.get_cookie("session").value
    assert after not in (before, planted)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess.get("_csrf_token") != old_token
        assert "user_id" in sess

    for cookie in (before, planted):
        other = notes_app.test_client(asgi=protocol == "asgi")
        other.set_cookie("session", cookie)
        assert other.get("/").location == "/auth/login?next=/"


@pytest.mark.parametrize("token", [None, "", "wrong", "\u00e9t\u00e9"])
def test_forms_without_the_right_csrf_token_are_refused(client, notes_app, token):
    add_user(notes_app)
    client.get("/auth/login")  # the session now holds a token
    data = {"username": "amy", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    rv = client.post("/auth/login", data=data)
    assert rv.status_code == 400
    assert "This form has expired or was sent from another site." in rv.text
    assert client.get("/").status_code == 302  # not logged in


def test_logout_needs_post_and_a_token(amy):
    assert amy.get("/auth/logout").status_code == 405
    assert amy.post("/auth/logout").status_code == 400
    assert amy.get("/").status_code == 200  # still logged in


# -- notes pages ----------------------------------------------------------------------
def test_index_lists_only_your_notes_newest_first(amy, notes_app, protocol):
    page = amy.get("/")
    assert "No notes yet." in page.text
    create(amy, "First")
    create(amy, "Second")
    page = amy.get("/")
    listed = page.text.split("<template")[0]  # the live-update template follows
    assert re.findall(r'class="note-title" href="/notes/(\d+)">([^<]*)<', listed) == [
        ("2", "Second"),
        ("1", "First"),
    ]
    assert '<p class="empty" hidden>' in page.text
    assert 'data-live-url="/ws"' in page.text
    assert '<script src="/static/live.js" defer>' in page.text

    add_user(notes_app, "bob")
    bob = notes_app.test_client(asgi=protocol == "asgi")
    login(bob, "bob")
    assert "note-title" not in bob.get("/").text.split("<template")[0]
    for path in ("/notes/1", "/notes/1/edit", "/notes/1/attachment"):
        assert bob.get(path).status_code == 404
    assert (
        bob.post("/notes/1/delete", data={"csrf_token": csrf(bob, "/")}).status_code
        == 404
    )
    assert amy.get("/notes/1").status_code == 200


def test_create_note(amy):
    rv = create(amy, "  Groceries  ", "milk\r\neggs")
    assert rv.status_code == 302
    assert rv.location == "/"
    page = amy.get("/")
    assert flashes(page) == [("success", "Created “Groceries”.")]
    note = amy.get("/notes/1")
    assert "<h1>Groceries</h1>" in note.text
    assert '<div class="body">milk\neggs</div>' in note.text
    assert "Attachment:" not in note.text


def test_note_text_is_escaped(amy):
    create(amy, "<script>alert(1)</script>", "<b>bold</b>")
    page = amy.get("/notes/1").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page


@pytest.mark.parametrize(
    ("title", "body", "field", "message"),
    [
        ("", "text", "title", "A note needs a title."),
        ("   ", "text", "title", "A note needs a title."),
        ("t" * 201, "text", "title", "Keep the title under 200 characters."),
        ("ok", "b" * 20_001, "body", "Keep the text under 20,000 characters."),
    ],
)
def test_create_note_validation(amy, title, body, field, message):
    rv = create(amy, title, body)
    assert rv.status_code == 422
    assert "Please correct the fields marked below." in rv.text
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in rv.text
    # What was typed is kept in the form.
    if field == "title":
        assert "text</textarea>" in rv.text
    assert "No notes yet." in amy.get("/").text


def test_edit_note(amy):
    create(amy, "Draft", "v1")
    page = amy.get("/notes/1/edit")
    assert page.status_code == 200
    assert 'value="Draft"' in page.text
    assert ">v1</textarea>" in page.text
    rv = amy.post(
        "/notes/1/edit",
        data={"title": "Final", "body": "v2", "csrf_token": csrf(amy, "/")},
    )
    assert rv.status_code == 302
    assert rv.location == "/notes/1"
    shown = amy.get("/notes/1")
    assert flashes(shown) == [("success", "Saved “Final”.")]
    assert "<h1>Final</h1>" in shown.text

    rv = amy.post(
        "/notes/1/edit", data={"title": "", "body": "v3", "csrf_token": csrf(amy, "/")}
    )
    assert rv.status_code == 422
    assert "A note needs a title." in rv.text
    assert "<h1>Final</h1>" in amy.get("/notes/1").text
    assert amy.get("/notes/99/edit").status_code == 404


def test_delete_note(amy, notes_app):
    create(amy, "Old", attachment=(io.BytesIO(b"bytes"), "old.txt"))
    folder = notes_app.config["UPLOAD_FOLDER"]
    assert len(os.listdir(folder)) == 1
    assert amy.get("/notes/1/delete").status_code == 405
    rv = amy.post("/notes/1/delete", data={"csrf_token": csrf(amy, "/")})
    assert rv.status_code == 302
    assert flashes(amy.get("/")) == [("info", "Deleted “Old”.")]
    assert amy.get("/notes/1").status_code == 404
    assert os.listdir(folder) == []
    assert (
        amy.post("/notes/1/delete", data={"csrf_token": csrf(amy, "/")}).status_code
        == 404
    )


# -- attachments ----------------------------------------------------------------------
def test_attachment_upload_and_download(amy, notes_app):
    content = bytes(range(256)) * 10
    create(amy, "Report", attachment=(io.BytesIO(content), "Q3 report.pdf"))
    (stored,) = os.listdir(notes_app.config["UPLOAD_FOLDER"])
    assert re.fullmatch(r"[0-9a-f]{32}", stored)  # the server's name, not the client's
    page = amy.get("/notes/1")
    assert '<a class="attachment" href="/notes/1/attachment">Q3 report.pdf</a>' in (
        page.text
    )
    assert "(2.6 kB)" in page.text
    with amy.get("/notes/1/attachment") as rv:
        assert rv.status_code == 200
        assert rv.data == content
        assert rv.headers["Content-Disposition"] == (
            'attachment; filename="Q3 report.pdf"'
        )
        assert rv.mimetype == "application/octet-stream"
        assert rv.headers["X-Content-Type-Options"] == "nosniff"
        assert rv.headers["Cache-Control"] == "private, no-cache"


@pytest.mark.parametrize(
    ("client_name", "shown"),
    [("../../etc/passwd", "passwd"), ("/etc/hosts", "hosts"), ("../", "attachment")],
)
def test_attachment_client_names_are_never_paths(
    amy, notes_app, tmp_path, client_name, shown
):
    create(amy, "x", attachment=(io.BytesIO(b"data"), client_name))
    (stored,) = os.listdir(notes_app.config["UPLOAD_FOLDER"])
    assert re.fullmatch(r"[0-9a-f]{32}", stored)
    # Nothing was written outside the attachment folder.
    assert {p.name for p in tmp_path.iterdir()} <= {
        "attachments",
        "notes.sqlite",
        "notes.sqlite-wal",
        "notes.sqlite-shm",
    }
    assert amy.get("/api/notes/1").json["attachment"]["name"] == shown
    with amy.get("/notes/1/attachment") as rv:
        assert rv.data == b"data"
        assert rv.headers["Content-Disposition"] == f"attachment; filename={shown}"


@pytest.mark.parametrize(
    ("client_name", "shown"),
    [
        ("..\\..\\win.ini", "win.ini"),
        ("C:\\x\\report.txt", "report.txt"),
        ("a\x00b\r\n.txt", "ab.txt"),
        ("\u202e" + "x" * 300, "x" * 255),
        (" \t ", "attachment"),
    ],
)
def test_attachment_display_names(client_name, shown):
    assert _display_name(client_name) == shown


def test_attachment_too_large_gets_the_413_page(amy, notes_app):
    rv = create(amy, "Big", attachment=(io.BytesIO(b"x" * (LIMIT + 1)), "big.bin"))
    assert rv.status_code == 413
    assert '<p class="code">413</p>' in rv.text
    assert "<h1>Request Entity Too Large</h1>" in rv.text
    assert os.listdir(notes_app.config["UPLOAD_FOLDER"]) == []
    assert "No notes yet." in amy.get("/").text


def test_replace_and_remove_attachment(amy, notes_app):
    folder = notes_app.config["UPLOAD_FOLDER"]
    create(amy, "Doc", attachment=(io.BytesIO(b"one"), "one.txt"))
    (first,) = os.listdir(folder)
    page = amy.get("/notes/1/edit")
    assert "Current: one.txt" in page.text
    amy.post(
        "/notes/1/edit",
        data={
            "title": "Doc",
            "body": "",
            "csrf_token": csrf(amy, "/"),
            "attachment": (io.BytesIO(b"two"), "two.txt"),
        },
    )
    (second,) = os.listdir(folder)
    assert second != first
    with amy.get("/notes/1/attachment") as rv:
        assert rv.data == b"two"
    # Saving without a file keeps the attachment.
    amy.post(
        "/notes/1/edit",
        data={"title": "Doc 2", "body": "", "csrf_token": csrf(amy, "/")},
    )
    assert os.listdir(folder) == [second]
    amy.post(
        "/notes/1/edit",
        data={
            "title": "Doc",
            "body": "",
            "remove_attachment": "on",
            "csrf_token": csrf(amy, "/"),
        },
    )
    assert os.listdir(folder) == []
    rv = amy.get("/notes/1/attachment")
    assert rv.status_code == 404
    assert "This note has no attachment." in rv.text


# -- the JSON API ---------------------------------------------------------------------
def test_api_crud(amy):
    assert amy.get("/api/notes").json == []
    rv = amy.post("/api/notes", json={"title": "Via API", "body": "hello"})
    assert rv.status_code == 201
    assert rv.headers["Location"] == "/api/notes/1"
    note = rv.json
    assert note["id"] == 1
    assert note["title"] == "Via API"
    assert note["url"] == "/notes/1"
    assert note["attachment"] is None
    assert amy.get("/api/notes/1").json == note
    assert [n["id"] for n in amy.get("/api/notes").json] == [1]

    rv = amy.patch("/api/notes/1", json={"body": "changed"})
    assert rv.status_code == 200
    assert rv.json["body"] == "changed"
    assert rv.json["title"] == "Via API"
    assert amy.patch("/api/notes/1", json={}).json["body"] == "changed"

    assert amy.delete("/api/notes/1").status_code == 204
    rv = amy.get("/api/notes/1")
    assert rv.status_code == 404
    assert rv.json == {"error": "Not Found", "message": "There is no note 1."}
    assert amy.delete("/api/notes/1").status_code == 404
    assert amy.patch("/api/notes/1", json={"title": "x"}).status_code == 404


def test_api_needs_login(client):
    for method in ("get", "post"):
        rv = getattr(client, method)("/api/notes", json={"title": "x"})
        assert rv.status_code == 401
        assert rv.json == {"error": "Unauthorized", "message": "Log in to use the API."}
    assert client.delete("/api/notes/1").status_code == 401


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        (
            {"data": "title=x", "content_type": "application/x-www-form-urlencoded"},
            415,
            "Unsupported Media Type",
        ),
        ({"data": "{nope", "content_type": "application/json"}, 400, "Bad Request"),
        ({"json": ["a list"]}, 400, "Bad Request"),
        ({"json": "[" * 60_000}, 400, "Bad Request"),  # nesting: no RecursionError
    ],
)
def test_api_bad_bodies(amy, kwargs, status, error):
    if "json" in kwargs and isinstance(kwargs["json"], str):
        kwargs = {"data": kwargs["json"], "content_type": "application/json"}
    rv = amy.post("/api/notes", **kwargs)
    assert rv.status_code == status
    assert rv.mimetype == "application/json"
    assert rv.json["error"] == error


def test_api_validation_errors(amy):
    rv = amy.post("/api/notes", json={"body": 5})
    assert rv.status_code == 422
    assert rv.json == {
        "error": "Unprocessable Content",
        "message": "Some fields are invalid.",
        "fields": {
            "title": "A note needs a title.",
            "body": "The text must be a string.",
        },
    }
    amy.post("/api/notes", json={"title": "ok"})
    rv = amy.patch("/api/notes/1", json={"title": "", "owner": 2})
    assert rv.status_code == 422
    assert rv.json["fields"] == {
        "title": "A note needs a title.",
        "owner": "Unknown field: only title and body can be changed.",
    }
    assert amy.get("/api/notes/1").json["title"] == "ok"


def test_api_routing_errors_are_json(amy):
    rv = amy.put("/api/notes/1", json={})
    assert rv.status_code == 405
    assert rv.json["error"] == "Method Not Allowed"
    assert set(rv.headers["Allow"].replace(" ", "").split(",")) >= {
        "GET",
        "PATCH",
        "DELETE",
    }
    rv = amy.get("/api/nothing")
    assert rv.status_code == 404
    assert rv.json["error"] == "Not Found"
    rv = amy.post("/api/notes", json={"title": "x" * LIMIT})
    assert rv.status_code == 413
    assert rv.json["error"] == "Request Entity Too Large"


def test_api_notes_of_other_users_are_not_found(amy, notes_app, protocol):
    amy.post("/api/notes", json={"title": "private"})
    add_user(notes_app, "bob")
    bob = notes_app.test_client(asgi=protocol == "asgi")
    login(bob, "bob")
    assert bob.get("/api/notes").json == []
    assert bob.get("/api/notes/1").status_code == 404
    assert bob.patch("/api/notes/1", json={"title": "mine"}).status_code == 404
    assert bob.delete("/api/notes/1").status_code == 404
    assert amy.get("/api/notes/1").json["title"] == "private"


# -- error pages, logging, static files -----------------------------------------------
def test_404_page(client):
    rv = client.get("/no/such/page")
    assert rv.status_code == 404
    assert "<h1>Page not found</h1>" in rv.text
    assert "There is nothing at this address." in rv.text
    assert '<link rel="stylesheet" href="/static/style.css">' in rv.text


def test_405_page(client):
    rv = client.delete("/auth/login")
    assert rv.status_code == 405
    assert "<h1>Method Not Allowed</h1>" in rv.text


def test_static_files(client):
    rv = client.get("/static/style.css")
    assert rv.status_code == 200
    assert rv.mimetype == "text/css"
    rv.close()
    with client.get("/static/live.js") as rv:
        assert b"new WebSocket" in rv.data
    assert client.get("/static/../schema.sql").status_code == 404


def _corrupt_database(config):
    with open(config["DATABASE"], "wb") as f:
        f.write(b"this is not an SQLite database" * 100)


def test_500_page_in_production(config, protocol, caplog):
    config["TESTING"] = False
    _corrupt_database(config)
    app = create_app(config)
    client = app.test_client(asgi=protocol == "asgi")
    with caplog.at_level(logging.ERROR, logger="notes"):
        rv = login(client)
    assert rv.status_code == 500
    assert "<h1>Something went wrong</h1>" in rv.text
    assert "DatabaseError" not in rv.text
    assert "Traceback" not in rv.text
    assert any(
        r.exc_info and "file is not a database" in str(r.exc_info[1])
        for r in caplog.records
    )


def test_debug_page_in_debug_mode(config, protocol):
    config.update(TESTING=False, DEBUG=True)
    _corrupt_database(config)
    app = create_app(config)
    client = app.test_client(asgi=protocol == "asgi")
    rv = client.post(
        "/auth/login",
        data={"username": "amy", "password": PASSWORD, "csrf_token": csrf(client)},
        headers={"Accept": "text/html"},
    )
    assert rv.status_code == 500
    assert "DatabaseError" in rv.text
    assert "file is not a database" in rv.text
    assert "Something went wrong" not in rv.text


def test_requests_are_logged(amy, caplog):
    with caplog.at_level(logging.INFO, logger="notes.requests"):
        amy.get("/no/such/page%0d%0aforged")
        amy.get("/")
    lines = [r.getMessage() for r in caplog.records if r.name == "notes.requests"]
    assert re.fullmatch(r"GET '/' 200 \d+\.\dms user=amy", lines[-1])
    assert lines[0].startswith("GET '/no/such/page\\r\\nforged' 404 ")


# -- the database and the CLI ---------------------------------------------------------
def test_schema_is_created_on_first_use(client, config):
    assert not os.path.exists(config["DATABASE"])
    assert client.get("/auth/login").status_code == 200
    assert not os.path.exists(config["DATABASE"])  # no query yet
    login(client)
    db = sqlite3.connect(config["DATABASE"])
    tables = {
        r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    db.close()
    assert {"user", "note"} <= tables


def test_init_db_command(notes_app, config):
    runner = notes_app.test_cli_runner()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert f"Initialized the database in {config['DATABASE']}." in result.output
    add_user(notes_app)
    # Without --drop, existing data stays.
    assert runner.invoke(args=["init-db"]).exit_code == 0
    db = sqlite3.connect(config["DATABASE"])
    assert db.execute("SELECT count(*) FROM user").fetchone() == (1,)
    result = runner.invoke(args=["init-db", "--drop"], input="n\n")
    assert result.exit_code == 1
    assert db.execute("SELECT count(*) FROM user").fetchone() == (1,)
    result = runner.invoke(args=["init-db", "--drop"], input="y\n")
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT count(*) FROM user").fetchone() == (0,)
    db.close()


def test_instance_secret_key_is_random_private_and_kept(tmp_path):
    key = _instance_secret_key(str(tmp_path / "instance"))
    path = tmp_path / "instance" / "secret_key"
    assert len(key) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert _instance_secret_key(str(tmp_path / "instance")) == key
    assert _instance_secret_key(str(tmp_path / "other")) != key


# -- live updates ---------------------------------------------------------------------
def test_live_updates_reach_an_open_websocket(amy, notes_app):
    hub = notes_app.extensions["notes.hub"]
    with amy.websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"type": "ready"}
        assert hub.count(1) == 1
        create(amy, "Live", "from a form", attachment=(io.BytesIO(b"x"), "a.txt"))
        event = ws.receive_json()
        assert event["type"] == "created"
        assert event["note"] == amy.get("/api/notes/1").json
        assert event["note"]["attachment"]["url"] == "/notes/1/attachment"

        amy.patch("/api/notes/1", json={"body": "changed"})
        event = ws.receive_json()
        assert event["type"] == "updated"
        assert event["note"]["body"] == "changed"

        amy.post("/notes/1/delete", data={"csrf_token": csrf(amy, "/")})
        assert ws.receive_json() == {"type": "deleted", "id": 1}
    assert hub.count() == 0  # the closed page was forgotten


def test_live_updates_go_to_the_notes_owner_only(amy, notes_app, protocol):
    add_user(notes_app, "bob")
    bob = notes_app.test_client(asgi=protocol == "asgi")
    login(bob, "bob")
    with amy.websocket_connect("/ws") as amy_ws, bob.websocket_connect("/ws") as bob_ws:
        assert amy_ws.receive_json() == {"type": "ready"}
        assert bob_ws.receive_json() == {"type": "ready"}
        bob.post("/api/notes", json={"title": "bob's"})
        amy.post("/api/notes", json={"title": "amy's"})
        # Messages arrive in order: amy's first message is her own note.
        assert amy_ws.receive_json()["note"]["title"] == "amy's"
        assert bob_ws.receive_json()["note"]["title"] == "bob's"


def test_live_websocket_refuses_visitors_and_other_sites(amy, notes_app, protocol):
    anonymous = notes_app.test_client(asgi=protocol == "asgi")
    with pytest.raises(WebsocketRejected) as info, anonymous.websocket_connect("/ws"):
        pass
    assert info.value.status == 401
    foreign = {"Origin": "http://evil.example"}
    with (
        pytest.raises(WebsocketRejected) as info,
        amy.websocket_connect("/ws", headers=foreign),
    ):
        pass
    assert info.value.status == 403
    assert notes_app.extensions["notes.hub"].count() == 0
    # Plain HTTP (and every WSGI request) gets the 426 page.
    rv = amy.get("/ws")
    assert rv.status_code == 426
    assert "<h1>Upgrade Required</h1>" in rv.text


def test_hub_delivers_from_any_thread_to_the_subscribers_loop():
    hub = Hub()

    async def main():
        amy = hub.subscribe(1)
        also_amy = hub.subscribe(1)
        bob = hub.subscribe(2)
        assert hub.count() == 3
        assert hub.count(1) == 2
        worker = threading.Thread(target=hub.publish, args=(1, {"type": "created"}))
        worker.start()
        worker.join()
        assert await asyncio.wait_for(amy.get(), 1) == {"type": "created"}
        assert await asyncio.wait_for(also_amy.get(), 1) == {"type": "created"}
        assert bob.queue.empty()
        hub.unsubscribe(amy)
        hub.unsubscribe(also_amy)
        hub.unsubscribe(bob)
        assert hub.count() == 0
        assert hub.publish(1, {"type": "created"}) == 0

    asyncio.run(main())


def test_hub_tells_a_slow_page_to_resync_instead_of_buffering():
    hub = Hub()

    async def main():
        sub = hub.subscribe(1)
        for i in range(QUEUE_SIZE + 5):
            hub.publish(1, {"type": "created", "i": i})
        await asyncio.sleep(0)  # let the loop run the handed-over callbacks
        # Message QUEUE_SIZE found the queue full: the backlog was replaced by
        # one "resync"; the four after it queued normally.
        messages = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        assert messages[0] == {"type": "resync"}
        assert [m["i"] for m in messages[1:]] == list(
            range(QUEUE_SIZE + 1, QUEUE_SIZE + 5)
        )
        return sub

    sub = asyncio.run(main())
    # Its loop is closed now: publishing drops the subscription.
    assert hub.publish(1, {"type": "created"}) == 1
    assert hub.count() == 0
    assert sub.queue.qsize() == 0
