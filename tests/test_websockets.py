"""Tests for erlen.websockets: routes, the proxy, hooks, refusals, limits, the test client.

WebSockets are ASGI-only, so most tests use their own app and the test client's
``websocket_connect``; the HTTP answer for a WebSocket URL (426) runs under every
protocol through the shared ``client`` fixture. ``test_asgi_*`` tests drive
``app(scope, receive, send)`` by hand to check the ASGI message sequence.
"""

from __future__ import annotations

import asyncio
import logging
import os

import pytest
from werkzeug.exceptions import Forbidden

from erlen import (
    Blueprint,
    Erlen,
    WebsocketDisconnect,
    abort,
    current_app,
    g,
    got_request_exception,
    request,
    session,
    url_for,
    websocket,
)
from erlen.testing import WebsocketRejected
from erlen.websockets import UpgradeRequired, Websocket


@pytest.fixture
def app():
    app = Erlen("erlen_ws_test", root_path=os.path.dirname(__file__))
    app.config.update(TESTING=True, SECRET_KEY="test key")
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def add_echo(app, rule="/echo"):
    async def echo(**kwargs):
        async for message in websocket:
            await websocket.send(message)

    app.add_websocket_rule(rule, f"echo{rule}", echo)


def refused(client, path, **kwargs):
    """Return the refusal of a handshake the test expects the app to refuse."""
    with (
        pytest.raises(WebsocketRejected) as info,
        client.websocket_connect(path, **kwargs),
    ):
        pass
    return info.value


# -- registration -----------------------------------------------------------------
def test_websocket_view_must_be_async(app):
    with pytest.raises(TypeError, match="must be an 'async def' function"):

        @app.websocket("/ws")
        def sync_view():
            pass


def test_websocket_route_refuses_methods(app):
    async def view():
        pass

    with pytest.raises(TypeError, match="no 'methods'"):
        app.add_websocket_rule("/ws", view_func=view, methods=["POST"])


def test_add_websocket_rule_is_the_imperative_twin(app, client):
    async def hello():
        await websocket.send_text("hello")

    app.add_websocket_rule("/hello", "greet", hello)
    assert app.url_map.build_rule("greet")[0].websocket is True
    with client.websocket_connect("/hello") as ws:
        assert ws.receive_text() == "hello"


# -- messages ---------------------------------------------------------------------
@pytest.mark.parametrize("asgi", [False, True])
def test_echo_text_and_bytes(app, asgi):
    add_echo(app)
    # WebSockets go over ASGI whatever the client's flag.
    with app.test_client(asgi=asgi).websocket_connect("/echo") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        ws.send_bytes(b"\x00\xff")
        assert ws.receive_bytes() == b"\x00\xff"
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"a": [1, 2]}


def test_json_round_trip_uses_app_json(app, client):
    @app.websocket("/json")
    async def view():
        data = await websocket.receive_json()
        await websocket.send_json({"got": data})

    with client.websocket_connect("/json") as ws:
        ws.send_text('{"x": 1}')
        assert ws.receive_json() == {"got": {"x": 1}}


def test_send_and_receive_accept_implicitly(app, client):
    @app.websocket("/auto")
    async def view():
        assert not websocket.accepted
        await websocket.send_text("first")
        assert websocket.accepted

    with client.websocket_connect("/auto") as ws:
        assert ws.accepted_subprotocol is None
        assert ws.receive_text() == "first"


def test_send_type_errors(app, client):
    seen = {}

    @app.websocket("/types")
    async def view():
        await websocket.accept()
        for call, arg in (
            (websocket.send, 1),
            (websocket.send_text, b"x"),
            (websocket.send_bytes, "x"),
        ):
            try:
                await call(arg)
            except TypeError as e:
                seen.setdefault("errors", []).append(str(e))

    with (
        client.websocket_connect("/types") as ws,
        pytest.raises(WebsocketDisconnect) as info,
    ):
        ws.receive()
        assert info.value.code == 1000
    assert len(seen["errors"]) == 3


def test_view_close_code_and_reason_reach_client(app, client):
    @app.websocket("/bye")
    async def view():
        await websocket.accept()
        await websocket.close(4001, "go away")
        assert websocket.closed
        with pytest.raises(WebsocketDisconnect):
            await websocket.send_text("late")

    with (
        client.websocket_connect("/bye") as ws,
        pytest.raises(WebsocketDisconnect) as info,
    ):
        ws.receive()
        assert (info.value.code, info.value.reason) == (4001, "go away")
        assert ws.close_code == 4001


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1005, ""), (1006, ""), (999, ""), (5000, ""), (1000, "x" * 124)],
)
def test_close_refuses_reserved_codes_and_long_reasons(app, client, code, reason):
    @app.websocket("/close")
    async def view():
        await websocket.accept()
        await websocket.close(code, reason)

    with (
        pytest.raises(ValueError),
        client.websocket_connect("/close") as ws,
    ):
        ws.receive()


def test_client_close_code_reaches_view(app, client):
    seen = {}

    @app.websocket("/listen")
    async def view():
        await websocket.accept()
        try:
            await websocket.receive()
        except WebsocketDisconnect as e:
            seen["exc"] = (e.code, e.reason)
            seen["state"] = (websocket.close_code, websocket.closed)
            raise

    with client.websocket_connect("/listen") as ws:
        ws.close(4000, "done")
    assert seen == {"exc": (4000, "done"), "state": (4000, True)}


def test_async_for_ends_on_disconnect(app, client):
    seen = []

    @app.websocket("/collect")
    async def view():
        async for message in websocket:
            seen.append(message)
        seen.append(("closed", websocket.close_code))

    with client.websocket_connect("/collect") as ws:
        ws.send_text("a")
        ws.send_bytes(b"b")
    assert seen == ["a", b"b", ("closed", 1000)]


def test_disconnect_is_str_friendly():
    assert str(WebsocketDisconnect(1001)) == "WebSocket closed with code 1001"
    assert "bye" in str(WebsocketDisconnect(1000, "bye"))


# -- handshake: subprotocols, headers, request data ------------------------------------
def test_subprotocol_and_accept_headers(app, client):
    @app.websocket("/proto")
    async def view():
        assert websocket.subprotocols == ["v2.chat", "v1.chat"]
        await websocket.accept(subprotocol="v1.chat", headers={"X-Room": "lobby"})
        await websocket.send_text("ok")

    with client.websocket_connect("/proto", subprotocols=["v2.chat", "v1.chat"]) as ws:
        assert ws.accepted_subprotocol == "v1.chat"
        assert ws.accept_headers["X-Room"] == "lobby"
        assert ws.receive_text() == "ok"


def test_accept_refuses_unoffered_subprotocol(app, client):
    @app.websocket("/proto")
    async def view():
        await websocket.accept(subprotocol="other")

    with (
        pytest.raises(ValueError, match="was not offered"),
        client.websocket_connect("/proto", subprotocols=["chat"]),
    ):
        pass


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nSet-Cookie: x=1"},
        {"Bad Name": "v"},
        {"X-Latin": "\u20ac"},
        {"Sec-WebSocket-Protocol": "chat"},
    ],
)
def test_accept_refuses_unsafe_headers(app, client, headers):
    @app.websocket("/hdr")
    async def view():
        await websocket.accept(headers=headers)

    with (
        pytest.raises(ValueError),
        client.websocket_connect("/hdr"),
    ):
        pass


def test_accept_twice_is_an_error(app, client):
    @app.websocket("/twice")
    async def view():
        await websocket.accept()
        await websocket.accept()

    with (
        pytest.raises(RuntimeError, match="already accepted"),
        client.websocket_connect("/twice") as ws,
    ):
        ws.receive()


def test_request_data_and_globals_in_view(app, client):
    @app.websocket("/room/<int:number>")
    async def room(number):
        g.user = "amy"
        await websocket.send_json(
            {
                "number": number,
                "view_args": websocket.view_args,
                "args": websocket.args.to_dict(),
                "header": websocket.headers.get("X-Token"),
                "request_path": request.path,
                "same_request": websocket.request is request._get_current_object(),
                "endpoint": request.endpoint,
                "app": current_app.name,
                "g": g.user,
                "scheme": request.scheme,
            }
        )

    with client.websocket_connect("/room/7?q=a", headers={"X-Token": "t"}) as ws:
        assert ws.receive_json() == {
            "number": 7,
            "view_args": {"number": 7},
            "args": {"q": "a"},
            "header": "t",
            "request_path": "/room/7",
            "same_request": True,
            "endpoint": "room",
            "app": "erlen_ws_test",
            "g": "amy",
            "scheme": "ws",
        }


def test_session_is_readable_and_saved_on_the_handshake(app, client):
    @app.route("/login")
    def login():
        session["user"] = "amy"
        return "ok"

    @app.route("/whoami")
    def whoami():
        return session.get("visits", "none")

    @app.websocket("/ws")
    async def view():
        session["visits"] = "ws"
        await websocket.send_text(session["user"])

    client.get("/login")
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "amy"
        assert "session=" in ws.accept_headers["Set-Cookie"]
    assert client.get("/whoami").text == "ws"


def test_websocket_proxy_outside_a_connection(app, client):
    with pytest.raises(RuntimeError, match="outside of WebSocket context"):
        websocket.receive  # noqa: B018
    assert not websocket
    assert "unbound" in repr(websocket)

    @app.route("/http")
    def http_view():
        try:
            websocket.send  # noqa: B018
        except RuntimeError:
            return "no websocket here"
        return "unexpected"

    assert client.get("/http").text == "no websocket here"


def test_websocket_object_repr_and_class(app, client):
    @app.websocket("/r")
    async def view():
        await websocket.accept()
        await websocket.send_text(f"{websocket!r} {isinstance(websocket, Websocket)}")

    with client.websocket_connect("/r") as ws:
        assert ws.receive_text() == "<Websocket '/r' accepted> True"


# -- hooks ---------------------------------------------------------------------------
def test_hook_order_and_separation_from_request_hooks(app, client):
    calls = []

    @app.before_request
    def before_request():
        calls.append("before_request")

    @app.after_request
    def after_request(response):
        calls.append("after_request")
        return response

    @app.url_value_preprocessor
    def pull(endpoint, values):
        calls.append(("preprocess", endpoint, dict(values or {})))

    @app.before_websocket
    def before_ws():
        calls.append("before_websocket")

    @app.before_websocket
    async def before_ws_async():
        calls.append("before_websocket_async")

    @app.after_websocket
    def after_ws(response):
        calls.append(("after_websocket", response))
        return response

    @app.teardown_request
    def teardown(exc):
        calls.append(("teardown", exc))

    @app.websocket("/ws/<name>")
    async def view(name):
        calls.append("view")
        await websocket.send_text(name)

    @app.route("/plain")
    def plain():
        return "plain"

    with client.websocket_connect("/ws/x") as ws:
        assert ws.receive_text() == "x"
    assert calls == [
        ("preprocess", "view", {"name": "x"}),
        "before_websocket",
        "before_websocket_async",
        "view",
        ("after_websocket", None),
        ("teardown", None),
    ]
    calls.clear()
    client.get("/plain")
    assert "before_websocket" not in calls and "before_request" in calls


def test_before_websocket_value_refuses_handshake(app, client):
    @app.before_websocket
    def guard():
        if request.args.get("token") != "ok":
            return "token required", 401, {"X-Why": "token"}
        return None

    add_echo(app)
    info = refused(client, "/echo")
    assert info.status == 401
    assert info.headers["X-Why"] == "token"
    assert info.text == "token required"
    with client.websocket_connect("/echo?token=ok") as ws:
        ws.send_text("in")
        assert ws.receive_text() == "in"


def test_after_websocket_can_change_the_refusal(app, client):
    @app.websocket("/ws")
    async def view():
        abort(403)

    @app.after_websocket
    def stamp(response):
        response.headers["X-Stamp"] = "1"
        return response

    info = refused(client, "/ws")
    assert info.status == 403
    assert info.headers["X-Stamp"] == "1"


def test_abort_before_accept_uses_error_handlers(app, client):
    @app.errorhandler(401)
    def unauthorized(e):
        return "log in first", 401

    @app.websocket("/private")
    async def view():
        abort(401)

    info = refused(client, "/private")
    assert (info.status, info.text) == (401, "log in first")


def test_refusal_without_the_http_response_extension_is_403(app, client):
    @app.websocket("/private")
    async def view():
        abort(401)

    info = refused(client, "/private", http_response=False)
    assert info.status == 403
    assert info.body == b""


def test_view_returning_a_value_before_accept_refuses(app, client):
    @app.websocket("/teapot")
    async def view():
        return "short and stout", 418

    info = refused(client, "/teapot")
    assert (info.status, info.text) == (418, "short and stout")


def test_view_returning_without_accepting_is_refused(app, client):
    @app.websocket("/nothing")
    async def view():
        return None

    info = refused(client, "/nothing")
    assert info.status == 403


def test_abort_after_accept_closes_with_policy_violation(app, client):
    @app.websocket("/ws")
    async def view():
        await websocket.accept()
        await websocket.receive()
        abort(403)

    with client.websocket_connect("/ws") as ws:
        ws.send_text("x")
        with pytest.raises(WebsocketDisconnect) as info:
            ws.receive()
    assert (info.value.code, info.value.reason) == (1008, "Forbidden")


# -- blueprints -----------------------------------------------------------------------
def test_blueprint_websocket_routes_and_hooks(app, client):
    bp = Blueprint("chat", __name__, url_prefix="/chat")
    calls = []

    @bp.before_websocket
    def bp_before():
        calls.append("bp_before")

    @bp.after_websocket
    def bp_after(response):
        calls.append("bp_after")
        return response

    @bp.before_app_websocket
    def app_before():
        calls.append("app_before")

    @bp.after_app_websocket
    def app_after(response):
        calls.append("app_after")
        return response

    @bp.websocket("/<room>")
    async def room(room):
        await websocket.send_text(
            f"{request.blueprint}:{room}:{url_for('.room', room='b')}"
        )

    app.register_blueprint(bp)
    add_echo(app)
    with client.websocket_connect("/chat/a") as ws:
        assert ws.receive_text() == "chat:a:/chat/b"
    assert calls == ["app_before", "bp_before", "bp_after", "app_after"]
    calls.clear()
    with client.websocket_connect("/echo") as ws:
        ws.send_text("x")
        ws.receive()
    assert calls == ["app_before", "app_after"]
    assert app.url_map.build_rule("chat.room", {"room": "z"})[0].websocket


# -- url_for --------------------------------------------------------------------------
def test_url_for_builds_ws_and_wss_urls(app, client):
    @app.websocket("/ws/<room>")
    async def room(room):
        await websocket.send_json(
            [
                url_for("room", room="b"),
                url_for("room", room="b", _external=True),
                url_for("index", _external=True),
            ]
        )

    @app.route("/")
    def index():
        return [
            url_for("room", room="a"),
            url_for("room", room="a", _external=True),
            url_for("room", room="a", _scheme="https", _external=True),
        ]

    assert client.get("/").json == [
        "/ws/a",
        "ws://localhost/ws/a",
        "wss://localhost/ws/a",
    ]
    assert client.get("/", base_url="https://example.com").json[1] == (
        "wss://example.com/ws/a"
    )
    with client.websocket_connect("/ws/a") as ws:
        assert ws.receive_json() == [
            "/ws/b",
            "ws://localhost/ws/b",
            "http://localhost/",
        ]
    with client.websocket_connect("/ws/a", base_url="https://example.com") as ws:
        assert ws.receive_json()[1:] == [
            "wss://example.com/ws/b",
            "https://example.com/",
        ]
    app.config.update(SERVER_NAME="example.org", PREFERRED_URL_SCHEME="https")
    with app.app_context():
        assert url_for("room", room="c") == "wss://example.org/ws/c"


# -- HTTP requests for WebSocket URLs (every protocol) ------------------------------------
class ReferencePipelineApp(Erlen):
    """Overrides a pipeline method, so requests take Flask's method chain."""

    def full_dispatch_request(self):
        return super().full_dispatch_request()


def http_app(protocol):
    """Return an app for ``protocol`` as tests/conftest.py's ``app`` fixture does."""
    cls = ReferencePipelineApp if protocol == "wsgi-reference" else Erlen
    app = cls("erlen_ws_test", root_path=os.path.dirname(__file__))
    app.config["TESTING"] = True
    return app


@pytest.mark.parametrize("protocol", ["wsgi", "wsgi-reference", "asgi"])
def test_http_request_for_websocket_url_is_426(protocol):
    app = http_app(protocol)
    add_echo(app, "/ws")
    add_echo(app, "/ws/<name>")
    client = app.test_client(asgi=protocol == "asgi")
    for path in ("/ws", "/ws/x"):
        rv = client.get(path)
        assert rv.status_code == 426
        assert rv.headers["Upgrade"] == "websocket"
        assert "WebSocket connections only" in rv.text
        assert "ASGI server" in rv.text


@pytest.mark.parametrize("protocol", ["wsgi", "wsgi-reference", "asgi"])
def test_426_has_its_own_error_handler_and_http_rules_still_win(protocol):
    app = http_app(protocol)

    @app.errorhandler(UpgradeRequired)
    def upgrade(e):
        return "use a websocket", 426

    @app.route("/both")
    def both_http():
        return "http"

    add_echo(app, "/both")
    add_echo(app, "/only")
    client = app.test_client(asgi=protocol == "asgi")
    assert client.get("/both").text == "http"
    rv = client.get("/only")
    assert (rv.status_code, rv.text) == (426, "use a websocket")
    with client.websocket_connect("/both") as ws:
        ws.send_text("over ws")
        assert ws.receive_text() == "over ws"


def test_routing_errors_refuse_the_handshake(app, client):
    @app.route("/http-only")
    def http_only():
        return "x"

    info = refused(client, "/missing")
    assert info.status == 404
    info = refused(client, "/http-only")
    assert info.status == 400


def test_untrusted_host_refuses_the_handshake(app, client):
    app.config["TRUSTED_HOSTS"] = ["good.example"]
    add_echo(app)
    info = refused(client, "/echo", base_url="http://evil.example")
    assert info.status == 400
    with client.websocket_connect("/echo", base_url="http://good.example") as ws:
        ws.send_text("ok")
        assert ws.receive_text() == "ok"


# -- limits and bad input (BAD_INPUTS 56, 57) -------------------------------------------
def test_message_over_the_limit_closes_1009(app, client):
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 10
    seen = []

    @app.websocket("/ws")
    async def view():
        try:
            async for message in websocket:
                await websocket.send(message)
        finally:
            seen.append(websocket.close_code)

    with client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"x" * 10)
        assert ws.receive_bytes() == b"x" * 10
        ws.send_text("\u00e9" * 5)  # 10 bytes of UTF-8
        assert ws.receive_text() == "\u00e9" * 5
        ws.send_text("\u00e9" * 6)  # 6 characters, 12 bytes
        with pytest.raises(WebsocketDisconnect) as info:
            ws.receive()
        assert (info.value.code, info.value.reason) == (1009, "Message too big")
    assert seen == [1009]
    with client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"x" * 11)
        with pytest.raises(WebsocketDisconnect) as info:
            ws.receive()
        assert info.value.code == 1009


def test_view_sees_the_1009_disconnect(app, client):
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 4
    seen = {}

    @app.websocket("/ws")
    async def view():
        try:
            await websocket.receive()
        except WebsocketDisconnect as e:
            seen["code"] = e.code

    with client.websocket_connect("/ws") as ws:
        ws.send_text("12345")
        with pytest.raises(WebsocketDisconnect):
            ws.receive()
    assert seen == {"code": 1009}


def test_default_limit_is_one_mib_and_none_disables(app, client):
    assert app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] == 1 << 20
    add_echo(app)
    with client.websocket_connect("/echo") as ws:
        ws.send_bytes(b"x" * (1 << 20))
        assert len(ws.receive_bytes()) == 1 << 20
        ws.send_bytes(b"x" * ((1 << 20) + 1))
        with pytest.raises(WebsocketDisconnect):
            ws.receive()
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = None
    with client.websocket_connect("/echo") as ws:
        ws.send_bytes(b"x" * (2 << 20))
        assert len(ws.receive_bytes()) == 2 << 20


@pytest.mark.parametrize(
    ("method", "sent", "code"),
    [
        ("receive_text", b"binary", 1003),
        ("receive_bytes", "text", 1003),
        ("receive_json", "{not json", 1007),
        ("receive_json", "[" * 100_000, 1007),
    ],
)
def test_wrong_message_type_or_bad_json_closes(app, client, method, sent, code):
    @app.websocket("/ws")
    async def view():
        await getattr(websocket, method)()

    with client.websocket_connect("/ws") as ws:
        ws.send(sent)
        with pytest.raises(WebsocketDisconnect) as info:
            ws.receive()
    assert info.value.code == code


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Sec-WebSocket-Protocol": "\x80\xff"}, 400),
        ({"Sec-WebSocket-Protocol": "chat, bad proto"}, 400),
        ({"Sec-WebSocket-Key": "not base64!"}, 400),
        ({"Sec-WebSocket-Key": "c2hvcnQ="}, 400),
        ({"Sec-WebSocket-Version": "12"}, 426),
    ],
)
def test_invalid_handshake_is_refused(app, client, headers, status):
    add_echo(app)
    info = refused(client, "/echo", headers=headers)
    assert info.status == status
    if status == 426:
        assert info.headers["Sec-WebSocket-Version"] == "13"


def test_foreign_origin_with_cookies_is_refused(app, client):
    add_echo(app)
    client.set_cookie("session", "x")
    for origin in (
        "https://evil.example",
        "null",
        "http://localhost:8080",
        "http://l\u00f6calhost",
    ):
        info = refused(client, "/echo", headers={"Origin": origin})
        assert info.status == 403, origin
    for origin in ("http://localhost", "https://LOCALHOST:443", "http://localhost:80"):
        with client.websocket_connect("/echo", headers={"Origin": origin}) as ws:
            ws.send_text("same host")
            assert ws.receive_text() == "same host"


def test_foreign_origin_without_cookies_or_origin_passes(app, client):
    add_echo(app)
    with client.websocket_connect(
        "/echo", headers={"Origin": "https://other.example"}
    ) as ws:
        ws.send_text("ok")
        assert ws.receive_text() == "ok"
    client.set_cookie("session", "x")
    with client.websocket_connect("/echo") as ws:  # no Origin: not a browser
        ws.send_text("ok")
        assert ws.receive_text() == "ok"


def test_allowed_origins_list_and_star(app, client):
    add_echo(app)
    app.config["WEBSOCKET_ALLOWED_ORIGINS"] = ["https://app.example"]
    with client.websocket_connect(
        "/echo", headers={"Origin": "https://APP.example/"}
    ) as ws:
        ws.send_text("listed")
        assert ws.receive_text() == "listed"
    info = refused(
        client, "/echo", headers={"Origin": "https://b.example"}
    )  # a list checks cookie-less ones too
    assert info.status == 403
    app.config["WEBSOCKET_ALLOWED_ORIGINS"] = "*"
    client.set_cookie("session", "x")
    with client.websocket_connect(
        "/echo", headers={"Origin": "https://b.example"}
    ) as ws:
        ws.send_text("any")
        assert ws.receive_text() == "any"


def test_misconfigured_allowed_origins_says_what_to_change(app, client):
    add_echo(app)
    app.config["WEBSOCKET_ALLOWED_ORIGINS"] = "https://app.example"
    with (
        pytest.raises(RuntimeError, match="must be None, '\\*', or a list"),
        client.websocket_connect("/echo", headers={"Origin": "https://x.example"}),
    ):
        pass


# -- errors -----------------------------------------------------------------------------
def test_error_after_accept_propagates_in_testing(app, client):
    @app.websocket("/boom")
    async def view():
        await websocket.accept()
        await websocket.receive()
        raise ValueError("boom")

    with (
        pytest.raises(ValueError, match="boom"),
        client.websocket_connect("/boom") as ws,
    ):
        ws.send_text("go")
        ws.receive()


def test_error_after_accept_closes_1011_and_is_logged(app, client, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    torn_down = []
    signalled = []

    @app.teardown_request
    def teardown(exc):
        torn_down.append(type(exc).__name__)

    def on_exception(sender, exception, **kw):
        signalled.append(str(exception))

    @app.websocket("/boom")
    async def view():
        await websocket.accept()
        raise ValueError("boom")

    with (
        got_request_exception.connected_to(on_exception, app),
        caplog.at_level(logging.ERROR),
        client.websocket_connect("/boom") as ws,
        pytest.raises(WebsocketDisconnect) as info,
    ):
        ws.receive()
    assert info.value.code == 1011
    assert torn_down == ["ValueError"]
    assert signalled == ["boom"]
    assert "Exception on '/boom' [GET]" in caplog.text


def test_error_before_accept_is_a_500_refusal(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.errorhandler(500)
    def server_error(e):
        return f"sorry: {e.original_exception}", 500

    @app.websocket("/boom")
    async def view():
        raise KeyError("k")

    info = refused(client, "/boom")
    assert (info.status, info.text) == (500, "sorry: 'k'")


def test_error_before_accept_propagates_in_testing(app, client):
    @app.before_websocket
    def broken():
        raise LookupError("hook")

    add_echo(app)
    with (
        pytest.raises(LookupError, match="hook"),
        client.websocket_connect("/echo"),
    ):
        pass


def test_registered_handler_for_custom_exception_refuses(app, client):
    @app.errorhandler(Forbidden)
    def forbidden(e):
        return "custom forbidden", 403

    @app.websocket("/f")
    async def view():
        raise Forbidden()

    info = refused(client, "/f")
    assert info.text == "custom forbidden"


def test_test_client_times_out_instead_of_hanging(app, client):
    @app.websocket("/silent")
    async def view():
        await websocket.accept()
        await websocket.receive()

    with (
        client.websocket_connect("/silent", timeout=0.05) as ws,
        pytest.raises(TimeoutError, match="no WebSocket message"),
    ):
        ws.receive()


def test_view_ignoring_the_disconnect_is_cancelled_and_reported(app, client):
    @app.websocket("/stuck")
    async def view():
        await websocket.accept()
        await asyncio.sleep(3600)

    with (
        pytest.raises(TimeoutError, match="did not finish"),
        client.websocket_connect("/stuck", timeout=0.05),
    ):
        pass


# -- the ASGI messages, driven by hand ---------------------------------------------------
def ws_scope(path="/ws", headers=(), subprotocols=(), extensions=None):
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "subprotocols": list(subprotocols),
        "extensions": {} if extensions is None else extensions,
    }


def drive(app, scope, incoming):
    """Run one connection; ``incoming`` are the client's messages, in order."""
    sent = []
    pending = list(incoming)

    async def receive():
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)  # a client that sends nothing more

    async def send(message):
        sent.append(message)

    async def main():
        await asyncio.wait_for(app(scope, receive, send), 5)

    asyncio.run(main())
    return sent


def test_asgi_message_sequence_of_an_accepted_connection(app):
    @app.websocket("/ws")
    async def view():
        await websocket.accept(subprotocol="chat")
        await websocket.send_text(await websocket.receive_text())
        await websocket.send_bytes(b"b")

    sent = drive(
        app,
        ws_scope(subprotocols=["chat"], headers=[(b"sec-websocket-protocol", b"chat")]),
        [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": "hi"},
        ],
    )
    assert sent == [
        {"type": "websocket.accept", "headers": [], "subprotocol": "chat"},
        {"type": "websocket.send", "text": "hi"},
        {"type": "websocket.send", "bytes": b"b"},
        {"type": "websocket.close", "code": 1000, "reason": ""},
    ]


def test_asgi_no_close_after_the_client_disconnected(app):
    add_echo(app, "/ws")
    sent = drive(
        app,
        ws_scope(),
        [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "bytes": b"x"},
            {"type": "websocket.disconnect", "code": 1001},
        ],
    )
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"]


def test_asgi_disconnect_before_connect_sends_nothing(app):
    add_echo(app, "/ws")
    assert (
        drive(app, ws_scope(), [{"type": "websocket.disconnect", "code": 1006}]) == []
    )


def test_asgi_refusal_with_and_without_the_extension(app):
    @app.websocket("/ws")
    async def view():
        abort(403)

    with_ext = drive(
        app,
        ws_scope(extensions={"websocket.http.response": {}}),
        [{"type": "websocket.connect"}],
    )
    assert with_ext[0]["type"] == "websocket.http.response.start"
    assert with_ext[0]["status"] == 403
    assert (b"content-type", b"text/html; charset=utf-8") in with_ext[0]["headers"]
    assert with_ext[1]["type"] == "websocket.http.response.body"
    assert b"Forbidden" in with_ext[1]["body"]
    assert len(with_ext) == 2
    without = drive(app, ws_scope(), [{"type": "websocket.connect"}])
    assert without == [{"type": "websocket.close", "code": 1008, "reason": ""}]


def test_asgi_send_after_client_left_raises_disconnect(app):
    seen = {}

    @app.websocket("/ws")
    async def view():
        await websocket.accept()
        try:
            await websocket.send_text("x")
        except WebsocketDisconnect as e:
            seen["code"] = e.code

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        if message["type"] == "websocket.send":
            raise OSError("gone")  # what servers raise (ASGI 2.4)

    asyncio.run(app(ws_scope(), receive, send))
    assert seen == {"code": 1006}


def test_asgi_context_is_restored(app):
    add_echo(app, "/ws")
    from erlen.globals import _cv_ctx

    async def main():
        sent = []
        pending = [{"type": "websocket.connect"}, {"type": "websocket.disconnect"}]

        async def receive():
            return pending.pop(0)

        async def send(message):
            sent.append(message)

        await app(ws_scope(), receive, send)
        return _cv_ctx.get(None), sent

    ctx, sent = asyncio.run(main())
    assert ctx is None
    assert sent[0]["type"] == "websocket.accept"
