"""Flashed messages: stored in the session, read once, kept across a redirect."""

from __future__ import annotations

import flask
import pytest
from markupsafe import Markup

from erlen import redirect, session
from erlen.flashing import flash, get_flashed_messages
from erlen.signals import message_flashed
from erlen.templating import render_template


def test_flash_and_read_in_the_same_request(app):
    with app.test_request_context():
        flash("one")
        flash("two", "error")
        assert session["_flashes"] == [("message", "one"), ("error", "two")]
        assert get_flashed_messages() == ["one", "two"]
        assert "_flashes" not in session


def test_messages_survive_a_redirect_and_are_read_once(app, client):
    @app.post("/save")
    def save():
        flash("Saved.", "info")
        flash("Careful.", "warning")
        return redirect("/")

    @app.get("/")
    def index():
        return render_template("flashes.html")

    rv = client.post("/save")
    assert rv.status_code == 302
    assert "session=" in rv.headers["Set-Cookie"]
    page = client.get("/")
    assert page.text == '<li class="info">Saved.</li><li class="warning">Careful.</li>'
    assert client.get("/").text == ""


def test_follow_redirects_shows_the_message(app, client):
    app.add_url_rule("/", "index", lambda: render_template("flashes.html"))

    @app.post("/go")
    def go():
        flash("done")
        return redirect("/")

    assert client.post("/go", follow_redirects=True).text == (
        '<li class="message">done</li>'
    )


def test_with_categories_and_category_filter(app):
    with app.test_request_context():
        flash("a")
        flash("b", "error")
        flash("c", "warning")
        flash("d", "error")
        assert get_flashed_messages(with_categories=True) == [
            ("message", "a"),
            ("error", "b"),
            ("warning", "c"),
            ("error", "d"),
        ]
        assert get_flashed_messages(category_filter=["error"]) == ["b", "d"]
        assert get_flashed_messages(
            with_categories=True, category_filter=("warning", "message")
        ) == [("message", "a"), ("warning", "c")]
        assert get_flashed_messages(category_filter=["nothing"]) == []
        # A single category given as a string means that category.
        assert get_flashed_messages(category_filter="error") == ["b", "d"]
        assert get_flashed_messages(category_filter="err") == []


def test_every_call_in_a_request_returns_the_same_messages(app, client):
    results = []

    @app.post("/set")
    def set_():
        flash("x")
        return "ok"

    @app.get("/read")
    def read():
        results.append(get_flashed_messages())
        results.append(get_flashed_messages(with_categories=True))
        flash("later")  # flashed after reading: kept for the next request
        results.append(get_flashed_messages())
        return "ok"

    client.post("/set")
    client.get("/read")
    assert results == [["x"], [("message", "x")], ["x"]]
    results.clear()
    client.get("/read")
    assert results[0] == ["later"]


def test_reading_without_messages_sets_no_cookie(app, client):
    app.add_url_rule("/", "index", lambda: str(get_flashed_messages()))
    rv = client.get("/")
    assert rv.text == "[]"
    assert "Set-Cookie" not in rv.headers
    assert "Cookie" in rv.headers.get("Vary", "")


def test_markup_messages_stay_markup_through_the_cookie(app, client):
    @app.post("/")
    def set_():
        flash(Markup("<b>bold</b>"))
        flash("<i>plain</i>")
        return "ok"

    app.add_url_rule("/", "index", lambda: render_template("flashes.html"))
    client.post("/")
    assert client.get("/").text == (
        '<li class="message"><b>bold</b></li>'
        '<li class="message">&lt;i&gt;plain&lt;/i&gt;</li>'
    )


def test_message_flashed_signal(app):
    seen = []

    def receiver(sender, message, category, **extra):
        seen.append((sender, message, category))

    with message_flashed.connected_to(receiver, app), app.test_request_context():
        flash("hello", "info")
        flash("bye")
    assert seen == [(app, "hello", "info"), (app, "bye", "message")]


@pytest.mark.parametrize(
    "call", [lambda: flash("x"), get_flashed_messages], ids=["flash", "get"]
)
def test_outside_a_request_is_a_clear_error(app, call):
    with pytest.raises(RuntimeError, match="outside of request context"):
        call()
    with app.app_context(), pytest.raises(RuntimeError, match="request context"):
        call()


def test_flash_with_a_null_session_explains_the_secret_key(app):
    app.config["SECRET_KEY"] = None
    with app.test_request_context(), pytest.raises(RuntimeError, match="secret"):
        flash("x")


def test_session_contents_match_flask(app):
    flask_app = flask.Flask(__name__)
    flask_app.secret_key = "k"
    with flask_app.test_request_context():
        flask.flash("a")
        flask.flash("b", "error")
        expected_session = dict(flask.session)
        expected = flask.get_flashed_messages(with_categories=True)
    with app.test_request_context():
        flash("a")
        flash("b", "error")
        assert dict(session) == expected_session
        assert get_flashed_messages(with_categories=True) == expected
