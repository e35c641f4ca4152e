"""View helpers: redirect safety, abort, make_response, stream_with_context."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import HTTPException, NotFound

from erlen import Erlen, Response, abort, make_response, redirect, request
from erlen.helpers import safe_location, stream_with_context


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/ok", "/ok"),
        ("relative", "relative"),
        ("http://example.com/x", "http://example.com/x"),
        ("https://example.com/", "https://example.com/"),
        ("//evil.com", "/evil.com"),
        ("///evil.com", "/evil.com"),
        ("/\\evil.com", "/evil.com"),
        ("\\\\evil.com", "/evil.com"),
        ("\t//evil.com", "/evil.com"),
        ("/\t/evil.com", "/evil.com"),
        ("//evil.com/", "/evil.com/"),
        ("/caf\u00e9?q=\u00fc", "/caf%C3%A9?q=%C3%BC"),
    ],
)
def test_redirect_locations_never_name_a_foreign_host(target, location):
    assert safe_location(target) == location


@pytest.mark.parametrize(
    "target", ["/a\r\nSet-Cookie: x=1", "/a\nb", "/a\0", "https:evil.com", "HTTP:evil"]
)
def test_redirect_rejects_injection_and_ambiguity(target):
    with pytest.raises(ValueError):
        safe_location(target)


def test_redirect_response(app, client):
    @app.route("/")
    def index():
        return redirect("/target", 301)

    rv = client.get("/")
    assert rv.status_code == 301
    assert rv.location == "/target"
    assert b'href="/target"' in rv.data


def test_redirect_outside_app():
    rv = redirect("/x")
    assert rv.status_code == 302
    assert rv.headers["Location"] == "/x"
    custom = redirect("/y", Response=Response)
    assert custom.headers["Location"] == "/y"


def test_redirect_with_bad_target_is_500_without_injection(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/")
    def index():
        return redirect("/x\r\nX-Injected: 1")

    rv = client.get("/")
    assert rv.status_code == 500
    assert "X-Injected" not in rv.headers


def test_abort_outside_app():
    with pytest.raises(NotFound):
        abort(404)


def test_make_response(app):
    with app.test_request_context():
        rv = make_response()
        assert rv.status_code == 200 and rv.data == b""
        rv = make_response("x", 201)
        assert (rv.data, rv.status_code) == (b"x", 201)
        rv = make_response(("y", 202, {"X-H": "1"}))
        assert rv.headers["X-H"] == "1"
        rv = make_response({"a": 1})
        assert rv.json == {"a": 1}


def test_stream_with_context(app, client):
    @app.route("/")
    def index():
        def gen():
            yield "hello "
            yield request.args["name"]

        return stream_with_context(gen())

    @app.route("/deco")
    def deco():
        @stream_with_context
        def gen():
            yield request.path

        return gen()

    assert client.get("/?name=you").data == b"hello you"
    assert client.get("/deco").data == b"/deco"


def test_stream_with_context_outside_request():
    with pytest.raises(RuntimeError, match="request context"):
        stream_with_context(iter(["x"]))


def test_get_root_path():
    from erlen.helpers import get_root_path

    assert get_root_path(__name__).endswith("tests")
    assert Erlen.__module__ == "erlen.app"


def test_stream_with_context_async_generator(app, client):
    @app.route("/")
    async def index():
        async def gen():
            yield "path="
            yield request.path
            yield request.args["q"]

        return stream_with_context(gen())

    @app.route("/deco")
    async def deco():
        @stream_with_context
        async def gen():
            yield request.path

        return gen()

    assert client.get("/?q=!").data == b"path=/!"
    assert client.get("/deco").data == b"/deco"


def test_app_aborter_takes_an_erlen_response(app):
    with app.app_context(), pytest.raises(HTTPException) as info:
        app.aborter(Response("made", 409))
    assert info.value.response.status_code == 409
