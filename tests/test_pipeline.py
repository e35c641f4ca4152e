"""The request pipeline: views, return values, hooks, errors, signals, async."""

from __future__ import annotations

import asyncio
import logging

import pytest
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, NotFound
from werkzeug.wrappers import Response as WzResponse

from erlen import (
    Response,
    abort,
    got_request_exception,
    request,
    request_finished,
    request_started,
    request_tearing_down,
)

# -- return values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rv", "status", "ctype", "body"),
    [
        ("hello", 200, "text/html; charset=utf-8", b"hello"),
        (b"raw", 200, "text/html; charset=utf-8", b"raw"),
        ({"a": 1}, 200, "application/json", b'{"a":1}\n'),
        ([1, 2], 200, "application/json", b"[1,2]\n"),
        (("made", 201), 201, "text/html; charset=utf-8", b"made"),
        (("st", "202 ACCEPTED"), 202, "text/html; charset=utf-8", b"st"),
        (({"x": 1}, 400), 400, "application/json", b'{"x":1}\n'),
    ],
)
def test_return_values(app, client, rv, status, ctype, body):
    app.add_url_rule("/", "v", lambda: rv)
    res = client.get("/")
    assert res.status_code == status
    assert res.headers["Content-Type"] == ctype
    assert res.data == body
    assert res.headers["Content-Length"] == str(len(body))


def test_return_with_headers(app, client):
    @app.route("/a")
    def a():
        return "x", {"X-A": "1"}

    @app.route("/b")
    def b():
        return "x", 404, [("X-B", "2")]

    @app.route("/c")
    def c():
        return "x", Headers({"X-C": "3"})

    assert client.get("/a").headers["X-A"] == "1"
    rv = client.get("/b")
    assert rv.status_code == 404 and rv.headers["X-B"] == "2"
    assert client.get("/c").headers["X-C"] == "3"


def test_return_response_objects(app, client):
    @app.route("/own")
    def own():
        return Response("own", status=418, mimetype="text/plain")

    @app.route("/wz")
    def wz():
        return WzResponse("wz", status=203, headers={"X-W": "1"})

    @app.route("/wsgi")
    def wsgi():
        def wsgi_app(environ, start_response):
            start_response("207 MULTI-STATUS", [("X-Y", "z")])
            return [b"from ", b"wsgi"]

        return wsgi_app

    rv = client.get("/own")
    assert (rv.status_code, rv.data, rv.mimetype) == (418, b"own", "text/plain")
    rv = client.get("/wz")
    assert (rv.status_code, rv.data, rv.headers["X-W"]) == (203, b"wz", "1")
    rv = client.get("/wsgi")
    assert (rv.status_code, rv.data, rv.headers["X-Y"]) == (207, b"from wsgi", "z")


def test_generator_is_streamed_and_closed(app, client):
    closed = []

    def gen():
        try:
            yield "a"
            yield b"b"
        finally:
            closed.append(True)

    @app.route("/")
    def index():
        return gen()

    rv = client.get("/")
    assert rv.data == b"ab"
    assert "Content-Length" not in rv.headers
    rv.close()
    assert closed == [True]


@pytest.mark.parametrize(
    ("rv", "message"),
    [
        (None, "did not return a valid response"),
        (("a", 200, {}, 4), "valid response tuple"),
        (42, "but it was a int"),
    ],
)
def test_bad_return_values_raise_type_error(app, client, rv, message):
    app.add_url_rule("/", "v", lambda: rv)
    with pytest.raises(TypeError, match=message):
        client.get("/")


def test_none_names_the_view(app, client):
    @app.route("/")
    def my_view():
        pass

    with pytest.raises(TypeError, match="'my_view'"):
        client.get("/")


# -- HEAD / OPTIONS / 405 -----------------------------------------------------------


def test_head_has_no_body_but_length(app, client):
    app.add_url_rule("/", "v", lambda: "hello")
    rv = client.head("/")
    assert rv.status_code == 200
    assert rv.data == b""
    assert rv.headers["Content-Length"] == "5"


def test_automatic_options(app, client):
    @app.route("/", methods=["GET", "POST"])
    def index():
        return "x"

    rv = client.open("/", method="OPTIONS")
    assert rv.status_code == 200
    assert set(rv.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert rv.data == b""


def test_options_disabled(app, client):
    @app.route("/", provide_automatic_options=False)
    def index():
        return "x"

    assert client.open("/", method="OPTIONS").status_code == 405


def test_method_not_allowed(app, client):
    @app.route("/", methods=["POST"])
    def index():
        return "x"

    rv = client.get("/")
    assert rv.status_code == 405
    assert set(rv.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


def test_not_found_and_bad_path(app, client):
    assert client.get("/nope").status_code == 404
    rv = client.get("/%ff%fe")
    assert rv.status_code in (400, 404)


def test_invalid_utf8_path_is_400_in_error_pipeline(app):
    seen = []

    @app.route("/<name>")
    def n(name):
        return name

    @app.after_request
    def after(resp):
        seen.append(resp.status_code)
        return resp

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/\xff\xfe",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": __import__("io").BytesIO(),
    }
    out = {}
    body = b"".join(app(environ, lambda s, h, e=None: out.update(status=s)))
    assert out["status"].startswith("400")
    assert seen == [400]
    assert b"Traceback" not in body


def test_trailing_slash_redirect(app, client):
    @app.route("/dir/")
    def d():
        return "dir"

    rv = client.get("/dir?x=1")
    assert rv.status_code == 308
    assert rv.location == "http://localhost/dir/?x=1"
    assert client.get("/dir", follow_redirects=True).data == b"dir"


# -- hooks ------------------------------------------------------------------------


def test_hooks_order(app, client):
    calls = []

    @app.before_request
    def b1():
        calls.append("b1")

    @app.before_request
    def b2():
        calls.append("b2")

    @app.after_request
    def a1(resp):
        calls.append("a1")
        return resp

    @app.after_request
    def a2(resp):
        calls.append("a2")
        resp.headers["X-A2"] = "y"
        return resp

    @app.teardown_request
    def t1(exc):
        calls.append(("t1", exc))

    @app.route("/")
    def index():
        calls.append("view")
        return "ok"

    rv = client.get("/")
    assert rv.headers["X-A2"] == "y"
    assert calls == ["b1", "b2", "view", "a2", "a1", ("t1", None)]


def test_before_request_short_circuits(app, client):
    after = []

    @app.before_request
    def stop():
        return "stopped", 403

    @app.after_request
    def a(resp):
        after.append(resp.status_code)
        return resp

    @app.route("/")
    def index():
        raise AssertionError("not reached")

    rv = client.get("/")
    assert (rv.status_code, rv.data) == (403, b"stopped")
    assert after == [403]


def test_after_request_can_replace_response(app, client):
    @app.after_request
    def replace(resp):
        return Response("replaced", 202)

    app.add_url_rule("/", "v", lambda: "orig")
    rv = client.get("/")
    assert (rv.status_code, rv.data) == (202, b"replaced")


def test_teardown_gets_exception(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    seen = []

    @app.teardown_request
    def td(exc):
        seen.append(exc)

    @app.route("/")
    def boom():
        raise ZeroDivisionError

    assert client.get("/").status_code == 500
    assert len(seen) == 1 and isinstance(seen[0], ZeroDivisionError)


def test_url_value_preprocessor_and_defaults(app, client):
    from erlen import g, url_for

    @app.url_value_preprocessor
    def pull(endpoint, values):
        g.lang = values.pop("lang", None)

    @app.url_defaults
    def add(endpoint, values):
        if "lang" in values or not g.get("lang"):
            return
        if app.url_map.is_endpoint_expecting(endpoint, "lang"):
            values["lang"] = g.lang

    @app.route("/<lang>/page")
    def page():
        return f"{g.lang} {url_for('page')}"

    assert client.get("/de/page").data == b"de /de/page"


# -- errors -----------------------------------------------------------------------


def test_abort_and_error_handlers(app, client):
    @app.errorhandler(404)
    def nf(e):
        assert isinstance(e, NotFound)
        return "custom 404", 404

    @app.errorhandler(Forbidden)
    def fb(e):
        return f"forbidden: {e.description}", 403

    @app.route("/f")
    def f():
        abort(403, description="nope")

    rv = client.get("/missing")
    assert (rv.status_code, rv.data) == (404, b"custom 404")
    rv = client.get("/f")
    assert (rv.status_code, rv.data) == (403, b"forbidden: nope")


def test_abort_default_body(app, client):
    @app.route("/")
    def index():
        abort(418)

    rv = client.get("/")
    assert rv.status_code == 418
    assert b"I&#39;m a teapot" in rv.data
    assert rv.mimetype == "text/html"


def test_abort_with_response(app, client):
    @app.route("/")
    def index():
        abort(Response("custom", 409))

    rv = client.get("/")
    assert (rv.status_code, rv.data) == (409, b"custom")


def test_error_handler_mro(app, client):
    @app.errorhandler(LookupError)
    def lookup(e):
        return f"lookup {type(e).__name__}", 400

    @app.errorhandler(HTTPException)
    def http(e):
        return f"http {e.code}", e.code

    @app.route("/k")
    def k():
        raise KeyError("x")

    @app.route("/b")
    def b():
        raise BadRequest()

    assert client.get("/k").data == b"lookup KeyError"
    assert client.get("/b").data == b"http 400"
    assert client.get("/nothing").data == b"http 404"


def test_unhandled_exception_is_500_with_original(app, client, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    got = []

    @app.errorhandler(500)
    def ise(e):
        got.append(e.original_exception)
        return "sorry", 500

    @app.route("/")
    def index():
        raise ValueError("bad")

    with caplog.at_level(logging.ERROR):
        rv = client.get("/")
    assert (rv.status_code, rv.data) == (500, b"sorry")
    assert isinstance(got[0], ValueError)
    assert "Exception on '/' [GET]" in caplog.text


def test_unhandled_exception_default_500_page(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/")
    def index():
        raise ValueError("secret detail")

    rv = client.get("/")
    assert rv.status_code == 500
    assert b"Internal Server Error" in rv.data
    assert b"secret detail" not in rv.data


def test_exceptions_propagate_in_testing(app, client):
    @app.route("/")
    def index():
        raise ValueError("bad")

    with pytest.raises(ValueError):
        client.get("/")


def test_trap_http_exceptions(app, client):
    app.config["TRAP_HTTP_EXCEPTIONS"] = True

    @app.route("/")
    def index():
        abort(404)

    with pytest.raises(NotFound):
        client.get("/")


def test_bad_request_key_error(app, client):
    @app.route("/", methods=["POST"])
    def index():
        return request.form["missing"]

    rv = client.post("/", data={"a": "1"})
    assert rv.status_code == 400
    app2_debug = app
    app2_debug.config["TRAP_BAD_REQUEST_ERRORS"] = True
    from werkzeug.exceptions import BadRequestKeyError

    with pytest.raises(BadRequestKeyError):
        client.post("/", data={"a": "1"})


def test_error_in_error_handler_finalize_is_logged(app, client, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.after_request
    def broken(resp):
        raise RuntimeError("after failed")

    @app.route("/")
    def index():
        return "x"

    with caplog.at_level(logging.ERROR):
        rv = client.get("/")
    assert rv.status_code == 500
    assert "Request finalizing failed" in caplog.text


def test_error_handler_registration_errors(app):
    with pytest.raises(ValueError, match="not a recognized HTTP error code"):
        app.register_error_handler(999, lambda e: "")
    with pytest.raises(TypeError, match="instance"):
        app.register_error_handler(ValueError(), lambda e: "")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a subclass of Exception"):
        app.register_error_handler(int, lambda e: "")  # type: ignore[arg-type]


# -- signals ---------------------------------------------------------------------


def test_request_signals(app, client):
    events = []

    def started(sender, **kw):
        events.append("started")

    def finished(sender, response, **kw):
        events.append(("finished", response.status_code))

    def tearing(sender, exc=None, **kw):
        events.append("tearing")

    app.add_url_rule("/", "v", lambda: "x")
    client.get("/")  # plan computed without receivers
    with (
        request_started.connected_to(started, app),
        request_finished.connected_to(finished, app),
        request_tearing_down.connected_to(tearing, app),
    ):
        client.get("/")
    assert events == ["started", ("finished", 200), "tearing"]


def test_got_request_exception_signal(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    seen = []

    def on_exc(sender, exception, **kw):
        seen.append(type(exception))

    @app.route("/")
    def index():
        raise KeyError

    with got_request_exception.connected_to(on_exc, app):
        client.get("/")
    assert seen == [KeyError]


# -- async under WSGI ----------------------------------------------------------------


def test_async_view_hooks_and_handler_under_wsgi(app, client):
    loops = []

    @app.before_request
    async def before():
        loops.append(asyncio.get_running_loop())

    @app.route("/")
    async def index():
        await asyncio.sleep(0)
        loops.append(asyncio.get_running_loop())
        return {"async": True}

    @app.errorhandler(404)
    async def nf(e):
        return "async 404", 404

    assert client.get("/").json == {"async": True}
    assert client.get("/").json == {"async": True}
    assert client.get("/missing").data == b"async 404"
    # One persistent loop per thread, not a loop per call.
    assert len({id(loop) for loop in loops}) == 1


def test_ensure_sync(app):
    async def coro(x):
        return x + 1

    def plain(x):
        return x

    assert app.ensure_sync(plain) is plain
    assert app.ensure_sync(coro)(1) == 2


def test_redirect_to_rule(app, client):
    app.add_url_rule("/old/<int:n>", "old", redirect_to="new/<n>")
    app.add_url_rule("/abs", "abs", redirect_to="/target")
    app.add_url_rule("/new/<int:n>", "new", lambda n: str(n))
    rv = client.get("/old/5?q=1")
    assert rv.status_code == 308
    assert rv.location == "http://localhost/new/5"
    assert client.get("/abs").location == "http://localhost/target"
    assert client.get("/old/6", follow_redirects=True).data == b"6"


def test_url_for_prefers_current_method(app):
    from erlen import url_for

    app.add_url_rule("/read", "item", lambda: "", methods=["GET"])
    app.add_url_rule("/write", "item", methods=["POST"])
    with app.test_request_context("/write", method="POST"):
        assert url_for("item") == "/write"
    with app.test_request_context("/read"):
        assert url_for("item") == "/read"


def test_before_hooks_run_for_404_then_error(app, client):
    seen = []

    @app.before_request
    def before():
        seen.append(request.endpoint)

    @app.after_request
    def after(resp):
        seen.append(resp.status_code)
        return resp

    assert client.get("/missing").status_code == 404
    assert seen == [None, 404]


def test_before_hook_can_answer_a_404(app, client):
    @app.before_request
    def before():
        return "caught early", 200

    assert client.get("/missing").data == b"caught early"


def test_async_before_hook_returning_none_continues(app, client):
    @app.before_request
    async def before():
        return None

    app.add_url_rule("/", "v", lambda: "view ran")
    assert client.get("/").data == b"view ran"


def test_url_value_preprocessor_on_static_rule_with_defaults(app, client):
    @app.url_value_preprocessor
    def pull(endpoint, values):
        values.pop("lang", None)

    @app.route("/", defaults={"lang": "en"})
    def index():
        return "no lang argument"

    assert client.get("/").data == b"no lang argument"
    assert client.get("/").data == b"no lang argument"


def test_after_hook_error_becomes_500(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.after_request
    def after(resp):
        raise ValueError("after")

    app.add_url_rule("/", "v", lambda: "x")
    assert client.get("/").status_code == 500
