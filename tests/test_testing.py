"""The test client, its responses, the environ builder and test_request_context."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import ClientRedirectError

from erlen import (
    Erlen,
    Response,
    g,
    has_request_context,
    redirect,
    request,
    session,
)
from erlen.testing import EnvironBuilder, ErlenClient, TestResponse, _erlen_version

# -- request methods and bodies --------------------------------------------------------

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


@pytest.fixture
def echo_app(app):
    @app.route("/echo", methods=[*ALL_METHODS, "HEAD"])
    def echo():
        return {
            "method": request.method,
            "args": request.args.to_dict(flat=False),
            "form": request.form.to_dict(flat=False),
            "json": request.get_json(silent=True),
            "ctype": request.headers.get("Content-Type"),
            "x_test": request.headers.get("X-Test"),
            "remote_addr": request.remote_addr,
            "ua": request.headers.get("User-Agent"),
            "body": request.get_data(as_text=True) if not request.form else None,
        }

    return app


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "trace"])
def test_method_helpers(echo_app, client, method):
    rv = getattr(client, method)("/echo")
    assert rv.status_code == 200
    assert rv.json["method"] == method.upper()
    assert rv.request.method == method.upper()


def test_open_with_method(echo_app, client):
    assert client.open("/echo", method="PATCH").json["method"] == "PATCH"
    assert client.open("/echo").json["method"] == "GET"


def test_head_has_headers_and_no_body(echo_app, client):
    rv = client.head("/echo")
    assert rv.status_code == 200
    assert rv.data == b""
    assert rv.mimetype == "application/json"


def test_options_automatic(app, client):
    @app.route("/o", methods=["GET", "POST"])
    def o():
        return "x"

    rv = client.options("/o")
    assert rv.status_code == 200
    assert set(rv.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_json_argument(echo_app, client):
    rv = client.post("/echo", json={"a": [1, 2], "b": None})
    assert rv.json["json"] == {"a": [1, 2], "b": None}
    assert rv.json["ctype"] == "application/json"


def test_json_uses_app_provider(app):
    class Provider(type(app.json)):
        def dumps(self, obj, **kwargs):
            return f'{{"wrapped": {super().dumps(obj, **kwargs)}}}'

    app.json = Provider(app)
    environ = EnvironBuilder(app, json=[1]).get_environ()
    assert environ["wsgi.input"].read() == b'{"wrapped": [1]}'


def test_form_data(echo_app, client):
    rv = client.post("/echo", data={"a": "1", "b": ["x", "y"]})
    assert rv.json["form"] == {"a": ["1"], "b": ["x", "y"]}
    assert rv.json["ctype"] == "application/x-www-form-urlencoded"


def test_raw_data_with_content_type(echo_app, client):
    rv = client.put("/echo", data="plain body", content_type="text/plain")
    assert rv.json["body"] == "plain body"
    assert rv.json["ctype"] == "text/plain"


def test_multipart_file_upload(app, client):
    @app.route("/up", methods=["POST"])
    def up():
        f = request.files["doc"]
        g2 = request.files["other"]
        return {
            "name": f.filename,
            "type": f.mimetype,
            "content": f.read().decode(),
            "other": [g2.filename, g2.read().decode()],
            "field": request.form["title"],
        }

    rv = client.post(
        "/up",
        data={
            "title": "report",
            "doc": (io.BytesIO(b"hello file"), "a.txt", "text/plain"),
            "other": (io.BytesIO(b"\x00bin"), "b.bin"),
        },
    )
    assert rv.status_code == 200
    assert rv.json == {
        "name": "a.txt",
        "type": "text/plain",
        "content": "hello file",
        "other": ["b.bin", "\x00bin"],
        "field": "report",
    }
    assert rv.request.mimetype == "multipart/form-data"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"query_string": {"q": "x y", "n": ["1", "2"]}},
        {"query_string": "q=x+y&n=1&n=2"},
        {"path": "/echo?q=x%20y&n=1&n=2"},
    ],
)
def test_query_string(echo_app, client, kwargs):
    kwargs = dict(kwargs)  # the parameter dict is shared between test runs
    path = kwargs.pop("path", "/echo")
    rv = client.get(path, **kwargs)
    assert rv.json["args"] == {"q": ["x y"], "n": ["1", "2"]}


def test_headers(echo_app, client):
    rv = client.get("/echo", headers={"X-Test": "yes"})
    assert rv.json["x_test"] == "yes"
    rv = client.get("/echo", headers=[("X-Test", "list")])
    assert rv.json["x_test"] == "list"


def test_default_environ_base(echo_app, client):
    rv = client.get("/echo")
    assert rv.json["remote_addr"] == "127.0.0.1"
    assert rv.json["ua"] == f"erlen/{_erlen_version()}"


def test_erlen_version(monkeypatch):
    import importlib.metadata

    assert _erlen_version() == importlib.metadata.version("erlen")

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    _erlen_version.cache_clear()
    try:
        assert _erlen_version() == "unknown"
    finally:
        _erlen_version.cache_clear()


def test_environ_base_per_request_and_client(echo_app, client):
    rv = client.get("/echo", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert rv.json["remote_addr"] == "10.0.0.1"
    # The client default is untouched by a per-request value.
    assert client.get("/echo").json["remote_addr"] == "127.0.0.1"
    client.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    client.environ_base["HTTP_USER_AGENT"] = "agent/1"
    rv = client.get("/echo")
    assert rv.json["remote_addr"] == "10.0.0.2"
    assert rv.json["ua"] == "agent/1"


def test_environ_overrides(echo_app, client):
    rv = client.get("/echo", environ_overrides={"REMOTE_ADDR": "192.0.2.9"})
    assert rv.json["remote_addr"] == "192.0.2.9"


def test_open_with_builder_dict_and_request(echo_app, client):
    builder = EnvironBuilder(echo_app, "/echo", method="POST", json={"k": 1})
    rv = client.open(builder)
    assert rv.json["method"] == "POST"
    assert rv.json["json"] == {"k": 1}
    assert rv.json["remote_addr"] == "127.0.0.1"
    # The caller's builder is not changed by the client's defaults.
    assert builder.environ_base is None

    environ = EnvironBuilder(echo_app, "/echo", query_string="a=1").get_environ()
    rv = client.open(environ)
    assert rv.json["args"] == {"a": ["1"]}
    assert rv.json["ua"] == f"erlen/{_erlen_version()}"

    req = EnvironBuilder(echo_app, "/echo", method="DELETE").get_request()
    assert client.open(req).json["method"] == "DELETE"


# -- redirects -------------------------------------------------------------------------


@pytest.fixture
def redirect_app(app):
    @app.route("/a", methods=["GET", "POST"])
    def a():
        return redirect("/b")

    @app.route("/b", methods=["GET", "POST"])
    def b():
        return redirect("/c?x=1", 301)

    @app.route("/c", methods=["GET", "POST", "HEAD"])
    def c():
        return {
            "method": request.method,
            "x": request.args.get("x"),
            "form": request.form.to_dict(),
        }

    @app.route("/keep", methods=["POST"])
    def keep():
        return redirect("/c", 307)

    @app.route("/keep2", methods=["POST"])
    def keep2():
        return redirect("/keep", 308)

    @app.route("/loop")
    def loop():
        return redirect("/loop")

    @app.route("/away")
    def away():
        return redirect("http://other.example/")

    return app


def test_redirect_not_followed(redirect_app, client):
    rv = client.get("/a")
    assert rv.status_code == 302
    assert rv.location == "/b"
    assert rv.history == ()


def test_follow_redirects_and_history(redirect_app, client):
    rv = client.get("/a", follow_redirects=True)
    assert rv.status_code == 200
    assert rv.json == {"method": "GET", "x": "1", "form": {}}
    assert [r.status_code for r in rv.history] == [302, 301]
    assert [r.request.path for r in rv.history] == ["/a", "/b"]
    assert rv.request.path == "/c"
    assert rv.history[1].history == (rv.history[0],)


def test_follow_redirects_method_rules(redirect_app, client):
    # 302/301 turn POST into GET; 307 keeps it.
    assert client.post("/a", follow_redirects=True).json["method"] == "GET"
    assert client.post("/keep", follow_redirects=True).json["method"] == "POST"
    rv = client.post("/keep2", data={"f": "v"}, follow_redirects=True)
    assert rv.json["method"] == "POST"
    assert rv.json["form"] == {"f": "v"}
    assert client.post("/a", data={"f": "v"}, follow_redirects=True).json["form"] == {}
    assert [r.status_code for r in rv.history] == [308, 307]
    assert client.head("/a", follow_redirects=True).request.method == "HEAD"


def test_redirect_loop_and_external(redirect_app, client):
    with pytest.raises(ClientRedirectError, match="Loop detected"):
        client.get("/loop", follow_redirects=True)
    with pytest.raises(RuntimeError, match="external redirects"):
        client.get("/away", follow_redirects=True)


# -- cookies ---------------------------------------------------------------------------


@pytest.fixture
def cookie_app(app):
    @app.route("/set")
    def set_():
        return "set", {"Set-Cookie": "flavour=oat; Path=/"}

    @app.route("/del")
    def del_():
        return "del", {
            "Set-Cookie": "flavour=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
        }

    @app.route("/read")
    def read():
        return dict(request.cookies)

    return app


def test_cookies_kept_across_requests(cookie_app, client):
    assert client.get("/read").json == {}
    client.get("/set")
    assert client.get("/read").json == {"flavour": "oat"}
    cookie = client.get_cookie("flavour")
    assert cookie is not None
    assert cookie.value == "oat"
    assert cookie.path == "/"
    client.get("/del")
    assert client.get_cookie("flavour") is None
    assert client.get("/read").json == {}


def test_set_and_delete_cookie(cookie_app, client):
    client.set_cookie("a", "1")
    client.set_cookie("b", "2", path="/other")
    assert client.get("/read").json == {"a": "1"}
    client.delete_cookie("a")
    assert client.get("/read").json == {}
    assert client.get_cookie("b", path="/other").value == "2"


def test_cookie_domain_matches_request_host(cookie_app, client):
    client.set_cookie("a", "1", domain="example.org")
    assert client.get("/read").json == {}
    assert client.get("/read", base_url="http://example.org").json == {"a": "1"}


def test_use_cookies_false(cookie_app):
    client = cookie_app.test_client(use_cookies=False)
    client.get("/set")
    assert client.get("/read").json == {}
    msg = "Cookies are disabled. Create a client with 'use_cookies=True'."
    for call in (
        lambda: client.get_cookie("a"),
        lambda: client.set_cookie("a", "1"),
        lambda: client.delete_cookie("a"),
    ):
        with pytest.raises(TypeError, match=msg):
            call()
    with pytest.raises(TypeError, match=msg), client.session_transaction():
        pass  # pragma: no cover


# -- with client: keeping the context --------------------------------------------------


@pytest.fixture
def ctx_app(app):
    app.torn_down = []

    @app.route("/ctx/<name>")
    def ctx_view(name):
        g.name = name
        session["seen"] = name
        return name

    @app.route("/boom")
    def boom():
        g.name = "boom"
        raise ValueError("boom")

    @app.route("/hop")
    def hop():
        g.hopped = True
        return redirect("/ctx/after")

    @app.teardown_request
    def teardown(exc):
        app.torn_down.append((request.path, type(exc).__name__ if exc else None))

    return app


def test_with_client_keeps_context(ctx_app, client):
    with client:
        rv = client.get("/ctx/one?x=1")
        assert rv.text == "one"
        assert has_request_context()
        assert request.path == "/ctx/one"
        assert request.args["x"] == "1"
        assert g.name == "one"
        assert session["seen"] == "one"
    assert not has_request_context()
    assert ctx_app.torn_down == [("/ctx/one", None)]


def test_with_client_next_request_pops_previous(ctx_app, client):
    with client:
        client.get("/ctx/one")
        client.get("/ctx/two")
        assert ctx_app.torn_down == [("/ctx/one", None)]
        assert request.path == "/ctx/two"
        assert g.name == "two"
    assert ctx_app.torn_down == [("/ctx/one", None), ("/ctx/two", None)]


def test_with_client_follow_redirects_keeps_last(ctx_app, client):
    with client:
        rv = client.get("/hop", follow_redirects=True)
        assert rv.text == "after"
        assert request.path == "/ctx/after"
        # Each request had its own g.
        assert "hopped" not in g
    assert [p for p, _ in ctx_app.torn_down] == ["/hop", "/ctx/after"]


def test_with_client_keeps_context_of_failed_request(ctx_app, client):
    with client:
        with pytest.raises(ValueError, match="boom"):
            client.get("/boom")
        assert request.path == "/boom"
        assert g.name == "boom"
        assert ctx_app.torn_down == []
    assert ctx_app.torn_down == [("/boom", "ValueError")]


def test_with_client_pops_when_block_raises(ctx_app, client):
    with pytest.raises(KeyError), client:
        client.get("/ctx/one")
        raise KeyError("x")
    assert not has_request_context()
    assert client.preserve_context is False


def test_without_with_context_is_popped(ctx_app, client):
    client.get("/ctx/one")
    assert not has_request_context()
    assert ctx_app.torn_down == [("/ctx/one", None)]


def test_with_client_cannot_nest(ctx_app, client):
    with (
        client,
        pytest.raises(RuntimeError, match="Cannot nest client invocations"),
    ):
        client.__enter__()
    # Usable again after the block.
    with client:
        client.get("/ctx/again")
        assert request.path == "/ctx/again"


# -- session_transaction ---------------------------------------------------------------


@pytest.fixture
def session_app(app):
    @app.route("/sess")
    def read_session():
        return dict(session)

    @app.route("/sess/add/<value>")
    def add(value):
        session["added"] = value
        return "ok"

    return app


def test_session_transaction_round_trip(session_app, client):
    with client.session_transaction() as sess:
        assert dict(sess) == {}
        sess["user"] = 42
    assert client.get("/sess").json == {"user": 42}

    client.get("/sess/add/x")
    with client.session_transaction() as sess:
        assert sess["user"] == 42
        assert sess["added"] == "x"
        del sess["user"]
    assert client.get("/sess").json == {"added": "x"}
    assert client.get_cookie(session_app.config["SESSION_COOKIE_NAME"]) is not None


def test_session_transaction_without_secret_key(session_app, client):
    session_app.secret_key = None
    with pytest.raises(RuntimeError, match="SECRET_KEY"), client.session_transaction():
        pass  # pragma: no cover


def test_session_transaction_leaves_no_context(session_app, client):
    with client.session_transaction() as sess:
        assert not has_request_context()
        sess["a"] = 1
    assert not has_request_context()


# -- responses -------------------------------------------------------------------------


def test_response_attributes(app, client):
    @app.route("/r")
    def r():
        return "héllo", 201, {"X-A": "b"}

    @app.route("/j")
    def j():
        return {"a": 1}

    rv = client.get("/r")
    assert isinstance(rv, TestResponse)
    assert isinstance(rv, Response)
    assert rv.status == "201 CREATED"
    assert rv.status_code == 201
    assert rv.headers["X-A"] == "b"
    assert rv.data == "héllo".encode()
    assert rv.get_data() == "héllo".encode()
    assert rv.get_data(as_text=True) == "héllo"
    assert rv.text == "héllo"
    assert rv.mimetype == "text/html"
    assert rv.json is None
    assert rv.location is None
    assert rv.request.path == "/r"
    assert rv.history == ()

    rv = client.get("/j")
    assert rv.mimetype == "application/json"
    assert rv.json == {"a": 1}
    assert rv.get_json() == {"a": 1}


def test_response_json_errors(app, client):
    @app.route("/bad")
    def bad():
        return Response("{nope", mimetype="application/json")

    rv = client.get("/bad")
    with pytest.raises(ValueError):
        rv.json  # noqa: B018
    assert rv.get_json(silent=True) is None
    assert client.get("/bad").get_json(force=True, silent=True) is None


class _Body:
    """An app iterable that records whether it was closed."""

    def __init__(self):
        self.closed = False

    def __iter__(self):
        yield b"a"
        yield b"b"

    def close(self):
        self.closed = True


@pytest.mark.parametrize("buffered", [False, True])
def test_response_close_closes_app_iterable(app, client, buffered):
    body = _Body()

    @app.route("/stream")
    def stream():
        return Response(body)

    rv = client.get("/stream", buffered=buffered)
    # Over ASGI the app sends the whole body, then closes it itself.
    assert body.closed is (buffered or client.asgi)
    assert rv.data == b"ab"
    rv.close()
    assert body.closed


def test_follow_redirects_closes_request_body(redirect_app, client):
    # A 307 resends the first body, so it stays open until the final response
    # is closed.
    rv = client.post("/keep", data={"x": "1"}, follow_redirects=True)
    first_input = rv.history[0].request.environ["wsgi.input"]
    assert not first_input.closed
    rv.close()
    assert first_input.closed


def test_custom_response_class(app):
    class MyResponse(Response):
        def hello(self):
            return "hi"

    app.response_class = MyResponse

    @app.route("/")
    def index():
        return "x"

    rv = app.test_client().get("/")
    assert isinstance(rv, MyResponse)
    assert isinstance(rv, TestResponse)
    assert rv.hello() == "hi"
    assert rv.text == "x"


def test_response_wrapper_must_be_erlen_response(app):
    from werkzeug.wrappers import Response as WerkzeugResponse

    with pytest.raises(TypeError, match=r"erlen\.Response"):
        ErlenClient(app, WerkzeugResponse)


def test_test_client_class(app):
    class MyClient(ErlenClient):
        pass

    app.test_client_class = MyClient
    client = app.test_client()
    assert type(client) is MyClient
    assert client.application is app
    assert repr(client) == f"<MyClient {app!r}>"


# -- EnvironBuilder and test_request_context -------------------------------------------


def test_request_context_path_method_query(app):
    with app.test_request_context("/p?a=1", method="POST") as ctx:
        assert request.path == "/p"
        assert request.method == "POST"
        assert request.args["a"] == "1"
        assert request.url == "http://localhost/p?a=1"
        assert ctx.request is request._get_current_object()
    with app.test_request_context("/p", query_string={"b": "2"}):
        assert request.args["b"] == "2"


def test_request_context_base_url(app):
    with app.test_request_context("/p", base_url="https://example.com:8443/app"):
        assert request.url == "https://example.com:8443/app/p"
        assert request.script_root == "/app"
        assert request.host == "example.com:8443"
        assert request.scheme == "https"


def test_request_context_full_url_path(app):
    with app.test_request_context("https://ex.org:8080/p?q=1"):
        assert request.url == "https://ex.org:8080/p?q=1"
        assert request.args["q"] == "1"


def test_request_context_from_config(app):
    app.config.update(
        SERVER_NAME="srv.test", APPLICATION_ROOT="/root", PREFERRED_URL_SCHEME="https"
    )
    with app.test_request_context("/p"):
        assert request.url == "https://srv.test/root/p"
        assert request.script_root == "/root"
    with app.test_request_context("/p", subdomain="api", url_scheme="http"):
        assert request.url == "http://api.srv.test/root/p"
        assert request.host == "api.srv.test"


def test_request_context_subdomain_default_host(app):
    with app.test_request_context("/", subdomain="x"):
        assert request.host == "x.localhost"


@pytest.mark.parametrize("extra", [{"subdomain": "a"}, {"url_scheme": "https"}])
def test_base_url_excludes_subdomain_and_scheme(app, extra):
    with pytest.raises(TypeError, match="base_url"):
        EnvironBuilder(app, "/", base_url="http://x/", **extra)


def test_request_context_json_and_data(app):
    with app.test_request_context("/", method="POST", json={"a": [1]}):
        assert request.is_json
        assert request.get_json() == {"a": [1]}
    with app.test_request_context("/", method="POST", data={"f": "v"}):
        assert request.form["f"] == "v"
    with app.test_request_context("/", method="POST", data=b"raw"):
        assert request.get_data() == b"raw"
    with app.test_request_context(
        "/", method="POST", data={"up": (io.BytesIO(b"c"), "n.txt")}
    ):
        assert request.files["up"].filename == "n.txt"
        assert request.files["up"].read() == b"c"


def test_builder_get_request_uses_app_request_class(app):
    req = EnvironBuilder(app, "/x", headers={"X-A": "1"}).get_request()
    assert isinstance(req, app.request_class)
    assert req.headers["X-A"] == "1"


def test_builder_from_environ_needs_app(app):
    environ = EnvironBuilder(app, "/from", query_string="a=1").get_environ()
    builder = EnvironBuilder.from_environ(environ, app=app)
    assert builder.path == "/from"
    assert builder.query_string == "a=1"


def test_other_app_is_independent():
    # A client for a second app keeps its own jar and defaults.
    one, two = Erlen("one"), Erlen("two")

    @one.route("/")
    def a():
        return "one", {"Set-Cookie": "k=1"}

    @two.route("/")
    def b():
        return dict(request.cookies)

    c1, c2 = one.test_client(), two.test_client()
    c1.get("/")
    assert c2.get("/").json == {}
    assert c1.get_cookie("k").value == "1"


def test_response_json_uses_app_provider(app, client):
    class Provider(type(app.json)):
        def loads(self, s, **kwargs):
            return {"via": "app", "raw": super().loads(s, **kwargs)}

    app.json = Provider(app)

    @app.route("/j")
    def j():
        return Response('{"a": 1}', mimetype="application/json")

    # Outside any context: the response still knows the app's provider.
    assert client.get("/j").json == {"via": "app", "raw": {"a": 1}}


def test_response_without_content_type_stays_without(app, client):
    @app.route("/bare")
    def bare():
        rv = Response(b"x")
        del rv.headers["Content-Type"]
        return rv

    rv = client.get("/bare")
    assert "Content-Type" not in rv.headers
    assert rv.mimetype is None
    assert rv.json is None


def test_client_subdomain_and_server_name():
    app = Erlen("subs", subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/", subdomain="<company>")
    def company(company):
        return f"{company} at {request.host}"

    @app.route("/")
    def index():
        return f"main at {request.host}"

    client = app.test_client()
    assert client.get("/", subdomain="acme").text == "acme at acme.example.com"
    assert client.get("/").text == "main at example.com"
    assert client.get("http://bolt.example.com/").text == "bolt at bolt.example.com"


def test_session_transaction_inside_with_client(session_app, client):
    with client:
        client.get("/sess/add/y")
        req = request._get_current_object()
        with client.session_transaction() as sess:
            # The kept request context is still the current one.
            assert request._get_current_object() is req
            assert sess["added"] == "y"
            sess["added"] = "z"
        assert client.get("/sess").json == {"added": "z"}
