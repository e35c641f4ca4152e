"""The WSGI adapter: PEP 3333 calls, the fast path, middleware, contexts."""

from __future__ import annotations

import io

import pytest

from erlen import Erlen, g, request
from erlen.globals import _cv_ctx


def call(app, path="/", method="GET", **extra):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        **extra,
    }
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers
        return lambda data: None

    body_iter = app(environ, start_response)
    try:
        body = b"".join(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    return captured["status"], dict(captured["headers"]), body


@pytest.fixture
def bare():
    app = Erlen(__name__, static_folder=None)

    @app.route("/")
    def index():
        return "hello"

    @app.route("/b")
    def b():
        return b"bytes"

    @app.route("/j")
    def j():
        return {"b": 1, "a": [1, 2]}

    @app.route("/t")
    def t():
        return "made", 201

    @app.route("/d", defaults={"x": 3})
    def d(x):
        return str(x)

    @app.route("/u/<int:uid>")
    def u(uid):
        return {"uid": uid, "path": request.path}

    return app


def test_fast_path_responses(bare):
    assert call(bare) == (
        "200 OK",
        {"Content-Type": "text/html; charset=utf-8", "Content-Length": "5"},
        b"hello",
    )
    assert call(bare, "/b")[2] == b"bytes"
    _status, headers, body = call(bare, "/j")
    assert headers["Content-Type"] == "application/json"
    assert body == b'{"a":[1,2],"b":1}\n'
    assert call(bare, "/t")[0] == "201 CREATED"
    assert call(bare, "/d")[2] == b"3"
    assert call(bare, "/u/9")[2] == b'{"path":"/u/9","uid":9}\n'
    assert call(bare, "/", "HEAD") == (
        "200 OK",
        {"Content-Type": "text/html; charset=utf-8", "Content-Length": "5"},
        b"",
    )


def test_fast_path_builds_no_response_object(bare, monkeypatch):
    def explode(*a, **k):
        raise AssertionError("Response built on the fast path")

    bare.test_client().get("/")  # first request computes the plan
    monkeypatch.setattr(bare, "response_class", explode)
    assert call(bare)[2] == b"hello"
    assert call(bare, "/j")[2].startswith(b"{")


def test_no_context_left_after_request(bare):
    call(bare)
    assert _cv_ctx.get(None) is None


def test_empty_path_info_is_root(bare):
    assert call(bare, "")[2] == b"hello"


def test_non_ascii_static_route(bare):
    app = Erlen(__name__, static_folder=None)
    app.add_url_rule("/caf\u00e9", "cafe", lambda: "coffee")
    wsgi_path = "/caf\u00e9".encode().decode("latin-1")
    assert call(app, wsgi_path)[2] == b"coffee"


def test_g_in_fast_path_is_per_request(bare):
    app = Erlen(__name__, static_folder=None)

    @app.route("/")
    def index():
        before = g.get("n", 0)
        g.n = before + 1
        return str(g.n)

    assert call(app)[2] == b"1"
    assert call(app)[2] == b"1"


def test_wsgi_middleware_wraps_wsgi_app(bare):
    seen = []
    inner = bare.wsgi_app

    def middleware(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    bare.wsgi_app = middleware
    assert call(bare)[2] == b"hello"
    assert seen == ["/"]


def test_proxyfix(bare):
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = Erlen(__name__, static_folder=None)

    @app.route("/")
    def index():
        return f"{request.scheme} {request.host} {request.remote_addr}"

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    body = call(
        app,
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="1.2.3.4",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="example.com",
    )[2]
    assert body == b"https example.com 1.2.3.4"


def test_streaming_generator_closed_by_server(bare):
    closed = []
    app = Erlen(__name__, static_folder=None)

    @app.route("/")
    def index():
        def gen():
            try:
                yield "a"
                yield "b"
            finally:
                closed.append(True)

        return gen()

    body = call(app)[2]
    assert body == b"ab"
    assert closed == [True]


def test_plan_resets_when_signal_connected(bare):
    from erlen import request_started

    call(bare)
    assert bare._plan is not None and bare._plan.inline
    seen = []

    def on(sender, **kw):
        seen.append(sender)

    with request_started.connected_to(on):
        assert bare._plan is None
        call(bare)
    assert seen == [bare]


def test_fast_404_and_405_use_handlers(bare):
    @bare.errorhandler(404)
    def nf(e):
        return "custom", 404

    assert call(bare, "/missing")[:1] == ("404 NOT FOUND",)
    assert call(bare, "/missing")[2] == b"custom"
    status, headers, _ = call(bare, "/u/1", "POST")
    assert status == "405 METHOD NOT ALLOWED"
    assert set(headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_fast_404_trapped_http_exception_raises(bare):
    from werkzeug.exceptions import NotFound

    bare.config["TRAP_HTTP_EXCEPTIONS"] = True
    bare.testing = True
    with pytest.raises(NotFound):
        call(bare, "/missing")


def test_default_error_body_cached_but_custom_description_rendered(bare):
    from erlen import abort

    @bare.route("/custom")
    def custom():
        abort(404, description="<b>gone</b>")

    plain = call(bare, "/missing")[2]
    assert b"The requested URL was not found" in plain
    assert call(bare, "/missing")[2] == plain
    body = call(bare, "/custom")[2]
    assert b"&lt;b&gt;gone&lt;/b&gt;" in body and body != plain


def test_overridden_pipeline_method_disables_fast_path():
    class Custom(Erlen):
        def dispatch_request(self):
            return "overridden"

    app = Custom(__name__, static_folder=None)
    app.add_url_rule("/", "i", lambda: "original")
    assert call(app)[2] == b"overridden"
    assert app._plan.inline is False


def test_dynamic_fast_path_redirect_and_bad_utf8(bare):
    @bare.route("/dir/")
    def dir_():
        return "dir"

    status, headers, _ = call(bare, "/dir")
    assert status.startswith("308")
    assert headers["Location"] == "http://localhost/dir/"
    assert call(bare, "/\xff")[0].startswith("400")


@pytest.mark.parametrize(
    "headers",
    [{"Bad Name": "v"}, {"X-Ok": "caf\u20ac"}, {"X:Colon": "v"}, {"X-Nul": "a\x00b"}],
)
def test_invalid_response_header_is_handled_500(headers):
    app = Erlen(__name__, static_folder=None)

    @app.route("/")
    def index():
        return "x", headers

    status, _, body = call(app)
    assert status.startswith("500")
    assert b"Internal Server Error" in body


def test_header_injection_in_value_is_500():
    app = Erlen(__name__, static_folder=None)

    @app.route("/")
    def index():
        return "x", {"X-A": "ok\r\nSet-Cookie: evil=1"}

    status, headers, _ = call(app)
    assert status.startswith("500")
    assert "Set-Cookie" not in headers
