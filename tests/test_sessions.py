"""Tests for erlen.sessions, including cookie interop with a real Flask 3.1 app."""

from __future__ import annotations

import datetime
import hashlib
import os
import time
import warnings
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import flask
import pytest
from itsdangerous import URLSafeTimedSerializer
from markupsafe import Markup
from werkzeug.http import parse_date
from werkzeug.wrappers import Response

from erlen.globals import _cv_ctx
from erlen.json.provider import DefaultJSONProvider
from erlen.json.tag import TaggedJSONSerializer
from erlen.sessions import (
    NullSession,
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionInterface,
    SessionMixin,
    session_json_serializer,
)
from erlen.wrappers.response import Response as ErlenResponse

UTC = datetime.UTC

# What both frameworks must carry through a cookie unchanged.
SESSION_DATA: dict[str, Any] = {
    "text": "hello ünïcødé",
    "number": 42,
    "ratio": 0.25,
    "pair": (1, "two"),
    "raw": b"\x00\x01binary\xff",
    "when": datetime.datetime(2024, 7, 1, 12, 30, 45, tzinfo=UTC),
    "id": UUID("0b8fc4b4-79a9-4a4b-8c57-0d94d3b0f6a5"),
    "html": Markup("<b>bold</b>"),
    "nested": {"list": [1, (2, 3), {"deep": b"x"}], "none": None, " t": "tag-like"},
}


class FakeApp:
    """The slice of the app the session interface reads."""

    debug = False
    response_class = Response

    def __init__(self, **config: Any) -> None:
        self.config = dict(flask.Flask.default_config)
        self.config["SECRET_KEY"] = "k"
        self.config.update(config)
        self.json = DefaultJSONProvider(self)

    @property
    def secret_key(self) -> Any:
        return self.config["SECRET_KEY"]

    @property
    def permanent_session_lifetime(self) -> datetime.timedelta:
        value = self.config["PERMANENT_SESSION_LIFETIME"]
        if isinstance(value, datetime.timedelta):
            return value
        return datetime.timedelta(seconds=value)


def request_with(cookie: str | None, name: str = "session") -> Any:
    return SimpleNamespace(cookies={} if cookie is None else {name: cookie})


def same(a: Any, b: Any) -> bool:
    """Compare values including their types (a tuple is not a list here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same, a, b))
    return bool(a == b)


def set_cookie_value(response: Response, name: str = "session") -> str:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no {name} cookie set")


@pytest.fixture(params=[Response, ErlenResponse], ids=["werkzeug", "erlen"])
def response_class(request: pytest.FixtureRequest) -> type[Any]:
    """Save into Werkzeug's response and into erlen's: both must behave the same."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def iface() -> SecureCookieSessionInterface:
    return SecureCookieSessionInterface()


@pytest.fixture
def erlen_ctx() -> Iterator[FakeApp]:
    """An app context with the default provider, as during a request."""
    app = FakeApp()
    token = _cv_ctx.set(SimpleNamespace(app=app, request=None))  # type: ignore[arg-type]
    try:
        yield app
    finally:
        _cv_ctx.reset(token)


def make_flask_app(secret: str = "k", **config: Any) -> flask.Flask:
    app = flask.Flask("reference")
    app.secret_key = secret
    app.config.update(config)
    seen: list[dict[str, Any]] = []
    app.extensions["seen"] = seen

    @app.route("/write")
    def write() -> str:
        flask.session.update(SESSION_DATA)
        flask.session.permanent = True
        return ""

    @app.route("/read")
    def read() -> str:
        seen.append(dict(flask.session))
        return ""

    @app.route("/touch")
    def touch() -> str:
        flask.session["x"] = 1
        return ""

    return app


# -- interop with Flask ---------------------------------------------------------------


def test_flask_cookie_reads_in_erlen(iface: SecureCookieSessionInterface) -> None:
    client = make_flask_app().test_client()
    client.get("/write")
    cookie = client.get_cookie("session")
    assert cookie is not None
    sess = iface.open_session(FakeApp(), request_with(cookie.value))
    assert isinstance(sess, SecureCookieSession)
    assert sess.permanent is True
    expected = dict(SESSION_DATA, _permanent=True)
    assert same(dict(sess), expected)


def test_erlen_cookie_reads_in_flask(
    response_class: type[Any], iface: SecureCookieSessionInterface
) -> None:
    app = FakeApp()
    sess = iface.open_session(app, request_with(None))
    assert sess is not None
    sess.update(SESSION_DATA)
    sess.permanent = True
    response = response_class()
    iface.save_session(app, sess, response)
    value = set_cookie_value(response)

    flask_app = make_flask_app()
    client = flask_app.test_client()
    client.set_cookie("session", value)
    client.get("/read")
    (seen,) = flask_app.extensions["seen"]
    assert same(seen, dict(SESSION_DATA, _permanent=True))


def test_cookie_is_byte_identical_to_flask(
    response_class: type[Any],
    iface: SecureCookieSessionInterface,
    erlen_ctx: FakeApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    client = make_flask_app().test_client()
    flask_response = client.get("/write")
    flask_value = set_cookie_value(flask_response)

    sess = SecureCookieSession()
    sess.update(SESSION_DATA)
    sess.permanent = True
    response = response_class()
    iface.save_session(erlen_ctx, sess, response)
    assert set_cookie_value(response) == flask_value


@pytest.mark.parametrize(
    "config",
    [
        {},
        {
            "SESSION_COOKIE_NAME": "sid",
            "SESSION_COOKIE_DOMAIN": "example.com",
            "SESSION_COOKIE_PATH": "/app",
            "SESSION_COOKIE_SECURE": True,
            "SESSION_COOKIE_HTTPONLY": False,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_PARTITIONED": True,
        },
        {"APPLICATION_ROOT": "/root", "SESSION_COOKIE_SAMESITE": "Strict"},
    ],
    ids=["defaults", "all-set", "app-root"],
)
def test_cookie_attributes_match_flask(
    response_class: type[Any],
    config: dict[str, Any],
    iface: SecureCookieSessionInterface,
    erlen_ctx: FakeApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    flask_app = make_flask_app(**config)
    flask_response = flask_app.test_client().get(
        "/touch", base_url="https://example.com/root/app"
    )
    erlen_ctx.config.update(config)
    sess = SecureCookieSession()
    sess["x"] = 1
    response = response_class()
    iface.save_session(erlen_ctx, sess, response)
    assert response.headers.getlist("Set-Cookie") == flask_response.headers.getlist(
        "Set-Cookie"
    )
    assert response.vary.as_set() == {"cookie"}
    assert "cookie" in flask_response.vary.as_set()


# -- reading bad, expired and fallback-signed cookies ------------------------------


def flask_cookie(secret: str) -> str:
    client = make_flask_app(secret).test_client()
    client.get("/write")
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_fallback_key_reads_and_reissues_with_current_key(
    response_class: type[Any],
    iface: SecureCookieSessionInterface,
) -> None:
    old_cookie = flask_cookie("old key")
    app = FakeApp(SECRET_KEY="new key", SECRET_KEY_FALLBACKS=["older", "old key"])
    sess = iface.open_session(app, request_with(old_cookie))
    assert sess is not None
    assert same(sess["pair"], (1, "two"))

    sess["more"] = 1
    response = response_class()
    iface.save_session(app, sess, response)
    value = set_cookie_value(response)

    def signer(key: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            key,
            salt="cookie-session",
            serializer=TaggedJSONSerializer(),
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
        )

    assert signer("new key").loads(value)["more"] == 1
    with pytest.raises(Exception, match="Signature"):
        signer("old key").loads(value)

    # Without the fallback the old cookie is just no session.
    no_fallback = FakeApp(SECRET_KEY="new key")
    sess = iface.open_session(no_fallback, request_with(old_cookie))
    assert sess is not None and dict.__len__(sess) == 0


def _bad_cookies() -> list[str]:
    good = flask_cookie("k")
    payload, stamp, sig = good.rsplit(".", 2)
    flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    return [
        f"{flipped}.{stamp}.{sig}",  # tampered payload
        f"{payload}.{stamp}.{sig[:-2]}",  # truncated signature
        good[: len(good) // 2],  # truncated cookie
        "not base64 at all!!",
        "....",
        "é€😀",
        "a" * 5000,
        ".eJwLSS0u0c1Ly0_VzcnMS9UtTi0uzszPs1Uy1DNQ0lEqzs9NVbJSSs_JLy9OTcpMy89RSi1OTc4vSi0uBgDPQhTb.Zw.abc",
        f"{payload}.!!!.{sig}",
    ]


@pytest.mark.parametrize("cookie", _bad_cookies())
def test_bad_cookie_gives_empty_session(
    cookie: str, iface: SecureCookieSessionInterface
) -> None:
    sess = iface.open_session(FakeApp(), request_with(cookie))
    assert isinstance(sess, SecureCookieSession)
    assert dict.__len__(sess) == 0
    assert not sess.modified and not sess.accessed


def test_expired_cookie_gives_empty_session(
    response_class: type[Any],
    iface: SecureCookieSessionInterface,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = FakeApp(PERMANENT_SESSION_LIFETIME=datetime.timedelta(hours=1))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - 3600 - 5)
    old = SecureCookieSession({"user": "ada", "_permanent": True})
    response = response_class()
    iface.save_session(app, old, response)
    stale = set_cookie_value(response)
    monkeypatch.setattr(time, "time", lambda: now - 3600 + 60)
    response = response_class()
    iface.save_session(app, old, response)
    fresh = set_cookie_value(response)
    monkeypatch.setattr(time, "time", lambda: now)

    sess = iface.open_session(app, request_with(stale))
    assert sess is not None and dict.__len__(sess) == 0
    sess = iface.open_session(app, request_with(fresh))
    assert sess is not None and dict(sess) == {"user": "ada", "_permanent": True}


def test_lifetime_as_seconds(iface: SecureCookieSessionInterface) -> None:
    class SecondsApp(FakeApp):
        permanent_session_lifetime = None  # type: ignore[assignment]

    app = SecondsApp(PERMANENT_SESSION_LIFETIME=120)
    sess = SecureCookieSession({"_permanent": True})
    expires = iface.get_expiration_time(app, sess)
    assert expires is not None
    delta = expires - datetime.datetime.now(UTC)
    assert 110 < delta.total_seconds() <= 120


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],  # not a dict
        "text",
        {" u": "not-a-uuid"},
        {" b": "***"},
        {" di": 5},
        {" t": 5},
    ],
    ids=["list", "str", "bad-uuid", "bad-base64", "bad-di", "bad-tuple"],
)
def test_validly_signed_but_unusable_payload_gives_empty_session(
    payload: Any, iface: SecureCookieSessionInterface
) -> None:
    import json

    class RawJSON:
        dumps = staticmethod(lambda v: json.dumps(v, separators=(",", ":")))
        loads = staticmethod(json.loads)

    signer = URLSafeTimedSerializer(
        "k",
        salt="cookie-session",
        serializer=RawJSON,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    sess = iface.open_session(FakeApp(), request_with(signer.dumps(payload)))
    assert isinstance(sess, SecureCookieSession) and dict.__len__(sess) == 0


def test_deeply_nested_signed_payload_gives_empty_session(
    iface: SecureCookieSessionInterface,
) -> None:
    class Raw:
        dumps = staticmethod(lambda v: v)
        loads = staticmethod(lambda v: v)

    signer = URLSafeTimedSerializer(
        "k",
        salt="cookie-session",
        serializer=Raw,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    deep = "[" * 50_000 + "]" * 50_000
    sess = iface.open_session(FakeApp(), request_with(signer.dumps(deep)))
    assert isinstance(sess, SecureCookieSession) and dict.__len__(sess) == 0


def test_no_secret_key_means_no_session(iface: SecureCookieSessionInterface) -> None:
    app = FakeApp(SECRET_KEY=None)
    assert iface.get_signing_serializer(app) is None
    assert iface.open_session(app, request_with("anything")) is None
    null = iface.make_null_session(app)
    assert isinstance(null, NullSession)
    assert iface.is_null_session(null)
    assert not iface.is_null_session(SecureCookieSession())


def test_no_cookie_gives_new_empty_session(iface: SecureCookieSessionInterface) -> None:
    for cookie in (None, ""):
        sess = iface.open_session(FakeApp(), request_with(cookie))
        assert type(sess) is SecureCookieSession
        assert dict.__len__(sess) == 0
        assert not sess.modified and not sess.accessed and not sess.new


def test_signing_serializer_is_reused_until_settings_change(
    iface: SecureCookieSessionInterface,
) -> None:
    app = FakeApp(SECRET_KEY_FALLBACKS=["a"])
    first = iface.get_signing_serializer(app)
    assert iface.get_signing_serializer(app) is first
    app.config["SECRET_KEY_FALLBACKS"].append("b")
    second = iface.get_signing_serializer(app)
    assert second is not first
    assert second is not None
    assert second.secret_keys == [b"a", b"b", b"k"]  # current key last: it signs
    app.config["SECRET_KEY"] = "other"
    assert iface.get_signing_serializer(app) is not second


# -- saving -------------------------------------------------------------------------


def saved(
    iface: SecureCookieSessionInterface,
    sess: SessionMixin,
    app: FakeApp | None = None,
    response_class: type[Any] = Response,
) -> Any:
    response = response_class()
    iface.save_session(app or FakeApp(), sess, response)
    return response


def test_untouched_session_adds_nothing(
    response_class: type[Any], iface: SecureCookieSessionInterface
) -> None:
    response = saved(iface, SecureCookieSession({"a": 1}), None, response_class)
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


@pytest.mark.parametrize(
    "read",
    [
        lambda s: "a" in s,
        lambda s: len(s),
        lambda s: bool(s),
        lambda s: list(s),
        lambda s: s.get("a"),
        lambda s: s["a"],
        lambda s: s.keys(),
        lambda s: s.items(),
        lambda s: s.values(),
        lambda s: s.setdefault("a", 2),
        lambda s: s.pop("missing", None),
        lambda s: s.copy(),
        lambda s: s == {},
        lambda s: repr(s),
        lambda s: s.permanent,
        lambda s: list(reversed(s)),
        lambda s: s | {},
    ],
)
def test_any_read_adds_vary_cookie(
    response_class: type[Any], read: Any, iface: SecureCookieSessionInterface
) -> None:
    sess = SecureCookieSession({"a": 1})
    read(sess)
    assert sess.accessed and not sess.modified
    response = saved(iface, sess, None, response_class)
    assert response.vary.as_set() == {"cookie"}
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.__setitem__("b", 2),
        lambda s: s.__delitem__("a"),
        lambda s: s.update(b=2),
        lambda s: s.setdefault("b", 2),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.clear(),
        lambda s: s.__ior__({"b": 2}),
        lambda s: setattr(s, "permanent", True),
    ],
)
def test_writes_mark_modified(write: Any) -> None:
    sess = SecureCookieSession({"a": 1})
    write(sess)
    assert sess.modified and sess.accessed


def test_failed_write_does_not_mark_modified() -> None:
    sess = SecureCookieSession()
    with pytest.raises(KeyError):
        del sess["missing"]
    with pytest.raises(KeyError):
        sess.pop("missing")
    assert not sess.modified
    sess.setdefault("a", 1)
    sess.modified = False
    assert sess.setdefault("a", 2) == 1
    assert not sess.modified


def test_modified_session_sets_cookie(
    response_class: type[Any], iface: SecureCookieSessionInterface
) -> None:
    sess = SecureCookieSession()
    sess["user"] = "ada"
    response = saved(iface, sess, None, response_class)
    header = response.headers["Set-Cookie"]
    assert header.startswith("session=")
    assert "HttpOnly" in header and "Path=/" in header
    assert "Expires" not in header  # not permanent: a browser-session cookie
    assert response.vary.as_set() == {"cookie"}


def test_emptied_session_deletes_cookie(
    response_class: type[Any], iface: SecureCookieSessionInterface
) -> None:
    sess = SecureCookieSession({"user": "ada"})
    sess.clear()
    response = saved(iface, sess, None, response_class)
    header = response.headers["Set-Cookie"]
    assert header.startswith("session=;")
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in header
    assert response.vary.as_set() == {"cookie"}


def test_empty_unmodified_session_sends_nothing(
    response_class: type[Any],
    iface: SecureCookieSessionInterface,
) -> None:
    response = saved(iface, SecureCookieSession(), None, response_class)
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


@pytest.mark.parametrize("refresh", [True, False])
def test_permanent_session_refresh(
    response_class: type[Any], refresh: bool, iface: SecureCookieSessionInterface
) -> None:
    app = FakeApp(SESSION_REFRESH_EACH_REQUEST=refresh)
    sess = SecureCookieSession({"user": "ada", "_permanent": True})
    response = saved(iface, sess, app, response_class)
    if not refresh:
        assert "Set-Cookie" not in response.headers
        return
    header = response.headers["Set-Cookie"]
    expires = parse_date(header.split("Expires=", 1)[1].split(";", 1)[0])
    assert expires is not None
    left = expires - datetime.datetime.now(UTC)
    assert abs(left - app.permanent_session_lifetime) < datetime.timedelta(minutes=1)
    assert response.vary.as_set() == {"cookie"}  # BAD_INPUTS 28: refresh varies too


@pytest.mark.filterwarnings("ignore:The .session. cookie is too large")
def test_oversized_cookie_warns(
    response_class: type[Any], iface: SecureCookieSessionInterface
) -> None:
    sess = SecureCookieSession()
    sess["blob"] = os.urandom(3500)  # incompressible; ~4.7 KB once base64-encoded
    with pytest.warns(UserWarning, match="session cookie 'session' is .* bytes"):
        saved(iface, sess, None, response_class)


def test_cookie_near_the_limit_is_measured_with_attributes(
    response_class: type[Any],
    iface: SecureCookieSessionInterface,
) -> None:
    sess = SecureCookieSession({"x": "y"})
    sess.modified = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pair = (
            saved(iface, sess, None, response_class)
            .headers["Set-Cookie"]
            .split(";", 1)[0]
        )
    # The name=value pair fits; with "; HttpOnly; Path=/" the header does not.
    limit = len(pair) + 10
    with pytest.warns(UserWarning, match=f"{limit}-byte limit"):
        saved(iface, sess, FakeApp(MAX_COOKIE_SIZE=limit), response_class)


def test_small_cookie_and_disabled_limit_do_not_warn(
    response_class: type[Any],
    iface: SecureCookieSessionInterface,
) -> None:
    sess = SecureCookieSession({"a": 1})
    sess.modified = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        saved(iface, sess, None, response_class)
    big = SecureCookieSession({"blob": "".join(str(i) for i in range(3000))})
    big.modified = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved(iface, big, FakeApp(MAX_COOKIE_SIZE=0), response_class)
    assert not [w for w in caught if "MAX_COOKIE_SIZE" in str(w.message)]


# -- session objects ------------------------------------------------------------------


def test_null_session_reads_but_refuses_writes() -> None:
    null = NullSession()
    assert null.get("x") is None
    assert "x" not in null
    assert len(null) == 0
    assert null.permanent is False
    for write in (
        lambda: null.__setitem__("a", 1),
        lambda: null.__delitem__("a"),
        lambda: null.update(a=1),
        lambda: null.setdefault("a", 1),
        lambda: null.pop("a", None),
        lambda: null.popitem(),
        lambda: null.clear(),
        lambda: null.__ior__({"a": 1}),
        lambda: setattr(null, "permanent", True),
    ):
        with pytest.raises(RuntimeError, match="no secret key was set"):
            write()
    assert dict.__len__(null) == 0


def test_session_mixin_defaults() -> None:
    class PlainSession(dict, SessionMixin):  # type: ignore[type-arg]
        pass

    sess = PlainSession()
    assert sess.new is False
    assert sess.modified is True
    assert sess.accessed is True
    assert sess.permanent is False
    sess.permanent = 1  # type: ignore[assignment]
    assert sess["_permanent"] is True


def test_secure_cookie_session_basics() -> None:
    sess = SecureCookieSession({"a": 1})
    assert isinstance(sess, dict) and isinstance(sess, SessionMixin)
    assert not sess.modified and not sess.accessed
    assert repr(sess) == "<SecureCookieSession {'a': 1}>"
    assert sess.copy() == {"a": 1} and type(sess.copy()) is dict
    assert SecureCookieSession([("b", 2)]) == {"b": 2}
    with pytest.raises(TypeError):
        hash(sess)


def test_session_interface_base(
    response_class: type[Any], iface: SecureCookieSessionInterface
) -> None:
    base = SessionInterface()
    app = FakeApp(
        SESSION_COOKIE_NAME="n",
        SESSION_COOKIE_DOMAIN="d.example",
        SESSION_COOKIE_PATH=None,
        APPLICATION_ROOT="/r",
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="None",
        SESSION_COOKIE_PARTITIONED=True,
    )
    assert base.get_cookie_name(app) == "n"
    assert base.get_cookie_domain(app) == "d.example"
    assert base.get_cookie_path(app) == "/r"
    assert base.get_cookie_httponly(app) is False
    assert base.get_cookie_secure(app) is True
    assert base.get_cookie_samesite(app) == "None"
    assert base.get_cookie_partitioned(app) is True
    assert base.pickle_based is False
    assert base.get_expiration_time(app, SecureCookieSession()) is None
    assert base.should_set_cookie(app, SecureCookieSession()) is False
    with pytest.raises(NotImplementedError):
        base.open_session(app, request_with(None))
    with pytest.raises(NotImplementedError):
        base.save_session(app, SecureCookieSession(), response_class())


def test_interface_class_attributes() -> None:
    iface = SecureCookieSessionInterface()
    assert iface.salt == "cookie-session"
    assert iface.key_derivation == "hmac"
    assert iface.digest_method().name == "sha1"
    assert iface.serializer is session_json_serializer
    assert isinstance(iface.serializer, TaggedJSONSerializer)
    assert iface.session_class is SecureCookieSession
    assert iface.null_session_class is NullSession


# -- end to end through a real erlen app ------------------------------------------------


def test_end_to_end_interop_with_flask_app() -> None:
    from erlen import Erlen, session

    app = Erlen("erlen_sessions_e2e")
    app.secret_key = "k"
    seen: list[dict[str, Any]] = []

    @app.route("/write")
    def write() -> str:
        session.update(SESSION_DATA)
        session.permanent = True
        return ""

    @app.route("/read")
    def read() -> str:
        seen.append(dict(session))
        return ""

    client = app.test_client()
    response = client.get("/write")
    assert "cookie" in response.vary.as_set()
    cookie = client.get_cookie("session")
    assert cookie is not None

    flask_app = make_flask_app()
    flask_client = flask_app.test_client()
    flask_client.set_cookie("session", cookie.value)
    flask_client.get("/read")
    (flask_seen,) = flask_app.extensions["seen"]
    assert same(flask_seen, dict(SESSION_DATA, _permanent=True))

    flask_client = make_flask_app().test_client()
    flask_client.get("/write")
    flask_cookie_value = flask_client.get_cookie("session")
    assert flask_cookie_value is not None
    client = app.test_client()
    client.set_cookie("session", flask_cookie_value.value)
    client.get("/read")
    assert same(seen[-1], dict(SESSION_DATA, _permanent=True))


# -- the lean cookie signer, checked against itsdangerous --------------------------

SIGNER_PAYLOADS: list[Any] = [
    {},
    {"count": 2},
    {"count": 12},  # 12 bytes of JSON: the first size compression is tried on
    {"a": "a" * 40},  # compresses
    {"blob": os.urandom(300)},  # does not compress
    {"user": "ünï", "pair": (1, 2), "when": datetime.datetime(2024, 1, 2, tzinfo=UTC)},
    {"n": 1, "x": 2.5, "t": True, "none": None},
    {" t": "tag-like key"},
]


def reference_serializer(
    keys: Any, key_derivation: str = "hmac", digest: Any = hashlib.sha1
) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        keys,
        salt="cookie-session",
        serializer=session_json_serializer,
        signer_kwargs={"key_derivation": key_derivation, "digest_method": digest},
    )


def lean_signer(iface: SecureCookieSessionInterface, app: FakeApp) -> Any:
    signer = iface._cookie_signer(app)  # type: ignore[arg-type]
    assert signer is not None
    return signer


@pytest.mark.parametrize("data", SIGNER_PAYLOADS, ids=range(len(SIGNER_PAYLOADS)))
def test_lean_signer_writes_what_itsdangerous_writes(
    data: Any, iface: SecureCookieSessionInterface, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = FakeApp(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["old"])
    signer = lean_signer(iface, app)
    for now in (1_700_000_000.5, 1_700_000_001.0, 1_700_000_001.9):
        monkeypatch.setattr(time, "time", lambda now=now: now)
        expected = reference_serializer(["old", "new"]).dumps(data)
        assert signer.dumps(data) == expected
        assert signer.dumps(data) == expected  # the memo of the last cookie
    ours = signer.dumps(data)
    assert same(reference_serializer("new").loads(ours), data)


@pytest.mark.parametrize("data", SIGNER_PAYLOADS, ids=range(len(SIGNER_PAYLOADS)))
def test_lean_signer_reads_what_itsdangerous_writes(
    data: Any, iface: SecureCookieSessionInterface
) -> None:
    app = FakeApp(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["older", "old"])
    signer = lean_signer(iface, app)
    for key in ("new", "old", "older"):
        cookie = reference_serializer(key).dumps(data)
        assert same(signer.loads(cookie, 3600), data)
        assert same(signer.loads(cookie, 3600), data)  # again, remembered
        assert same(signer.loads(cookie.encode(), 3600), data)
    assert signer.loads(reference_serializer("other").dumps(data), 3600) is None


def test_compression_is_tried_when_it_could_help(
    iface: SecureCookieSessionInterface, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zlib

    from erlen import sessions

    # The bound the signer relies on: zlib never shortens data of
    # _NEVER_COMPRESSES bytes or fewer by the two bytes compression needs,
    # even the most repetitive data.
    limit = sessions._NEVER_COMPRESSES
    samples = [b"a" * n for n in range(1, limit + 1)]
    samples += [
        bytes([i % k for i in range(n)]) for k in (2, 3) for n in range(limit + 1)
    ]
    samples += [os.urandom(n) for n in range(limit + 1) for _ in range(20)]
    for data in samples:
        assert len(zlib.compress(data)) >= len(data) - 1, data
    # ... and just above it, compression can pay off.
    big = b"a" * (limit + 2)
    assert len(zlib.compress(big)) < len(big) - 1

    calls: list[bytes] = []
    real = zlib.compress
    monkeypatch.setattr(zlib, "compress", lambda data: calls.append(data) or real(data))
    signer = lean_signer(iface, FakeApp())
    signer.dumps({"count": 2})  # 11 bytes of JSON
    assert calls == []
    signer.dumps({"count": 12})
    assert calls == [b'{"count":12}']


def test_lean_signer_follows_the_interface_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    data = {"user": "ada", "pair": (1, 2)}
    for derivation in ("concat", "django-concat", "hmac", "none"):
        for digest in (hashlib.sha1, hashlib.sha256):

            class Custom(SecureCookieSessionInterface):
                key_derivation = derivation
                digest_method = staticmethod(digest)
                salt = "other-salt"

            iface = Custom()
            app = FakeApp()
            value = lean_signer(iface, app).dumps(data)
            reference = URLSafeTimedSerializer(
                "k",
                salt="other-salt",
                serializer=session_json_serializer,
                signer_kwargs={"key_derivation": derivation, "digest_method": digest},
            )
            assert value == reference.dumps(data), (derivation, digest)
            sess = iface.open_session(app, request_with(value))
            assert sess is not None and same(dict(sess), data)


def test_lean_signer_age_limits(
    iface: SecureCookieSessionInterface, monkeypatch: pytest.MonkeyPatch
) -> None:
    for data in ({"user": "ada"}, {"pair": (1, 2)}):  # remembered, and not
        monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
        signer = lean_signer(iface, FakeApp())
        cookie = signer.dumps(data)
        for now, readable in (
            (1_700_000_000.0, True),
            (1_700_000_100.9, True),  # exactly max_age seconds old
            (1_700_000_101.0, False),  # one second more
            (1_699_999_999.0, False),  # signed in the future
            (1_700_000_050.0, True),
        ):
            monkeypatch.setattr(time, "time", lambda now=now: now)
            got = signer.loads(cookie, 100)
            assert (got is not None) is readable, (data, now)
            if readable:
                assert same(got, data)


def test_lean_signer_rejects_malformed_cookies(
    iface: SecureCookieSessionInterface,
) -> None:
    signer = lean_signer(iface, FakeApp())
    good = signer.dumps({"a": 1})
    payload, stamp, sig = good.split(".")
    key = signer._keys[0]

    def signed(value: str) -> str:
        import base64
        import hmac

        mac = hmac.new(key, value.encode(), hashlib.sha1).digest()
        return value + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")

    for cookie in [
        "no-dots-at-all",
        f"{payload}.{stamp}.{sig}!",  # one more character in the signature
        f"{payload}.{stamp}.{sig[:-1]}",
        f"{payload}.{stamp}",  # signature missing
        signed(payload),  # signed, but without a timestamp
        # A timestamp of 9 bytes, even one that reads as now (itsdangerous
        # unpacks 8 bytes at most).
        signed(
            f"{payload}.{base64url(bytes(1) + int(time.time()).to_bytes(8, 'big'))}"
        ),
        signed(f"{payload}.A"),  # a timestamp that is not base64
        signed(f".{payload}.{stamp}"),  # "compressed", but not zlib data
        signed(f"{payload}x.{stamp}"),  # payload not base64 (bad length)
        signed(base64url(b"{not json") + "." + stamp),
        signed(base64url(b"\xff\xfe") + "." + stamp),  # not UTF-8
        "é.€.😀",
        "\udcff.a.b",  # a lone surrogate cannot even be encoded
    ]:
        assert signer.loads(cookie, 3600) is None, cookie
    assert signer.loads(good, 3600) == {"a": 1}


def base64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_remembered_cookies_are_copies_of_plain_data(
    iface: SecureCookieSessionInterface,
) -> None:
    app = FakeApp()
    signer = lean_signer(iface, app)
    plain = signer.dumps({"user": "ada", "n": 1})
    nested = signer.dumps({"list": [1, 2]})
    tag_like = signer.dumps({" t": "x"})
    for cookie in (plain, nested, tag_like):
        for _ in range(2):  # parsed, then (for plain) remembered
            got = signer.loads(cookie, 3600)
            got["changed"] = True
            if "list" in got:
                got["list"].append(3)
        again = signer.loads(cookie, 3600)
        assert "changed" not in again
        assert again.get("list", [1, 2]) == [1, 2]
    assert set(signer._seen) == {plain}
    # The remembered data is that of a fresh parse, to the type.
    assert same(signer.loads(plain, 3600), {"user": "ada", "n": 1})
    sess = iface.open_session(app, request_with(plain))
    assert type(sess) is SecureCookieSession and not sess.accessed


def test_remembered_cookies_are_bounded(
    iface: SecureCookieSessionInterface, monkeypatch: pytest.MonkeyPatch
) -> None:
    from erlen import sessions

    monkeypatch.setattr(sessions, "_MAX_SEEN", 3)
    signer = lean_signer(iface, FakeApp())
    cookies = [signer.dumps({"n": n}) for n in range(7)]
    for cookie in cookies:
        assert signer.loads(cookie, 3600) is not None
        assert len(signer._seen) <= 3
    big = signer.dumps({"blob": os.urandom(3500).hex()})
    assert len(big) > sessions._MAX_SEEN_LENGTH
    assert signer.loads(big, 3600) is not None
    assert big not in signer._seen


def test_custom_serializer_is_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Counting(TaggedJSONSerializer):
        loaded = 0

        def loads(self, value: str | bytes) -> Any:
            Counting.loaded += 1
            return super().loads(value)

    class Custom(SecureCookieSessionInterface):
        serializer = Counting()

    iface = Custom()
    signer = lean_signer(iface, FakeApp())
    cookie = signer.dumps({"a": 1})
    for _ in range(3):
        assert signer.loads(cookie, 3600) == {"a": 1}
    assert Counting.loaded == 3


def test_signers_per_app_and_key_rotation(
    iface: SecureCookieSessionInterface,
) -> None:
    one, two = FakeApp(SECRET_KEY="one"), FakeApp(SECRET_KEY="two")
    signer_one = lean_signer(iface, one)
    signer_two = lean_signer(iface, two)
    assert signer_one is not signer_two
    assert lean_signer(iface, one) is signer_one  # both kept
    cookie = signer_one.dumps({"a": 1})
    assert signer_two.loads(cookie, 3600) is None

    # Rotate: "one" becomes a fallback and still reads; new cookies use "two".
    one.config.update(SECRET_KEY="two", SECRET_KEY_FALLBACKS=["one"])
    rotated = lean_signer(iface, one)
    assert rotated is not signer_one and rotated is not signer_two
    assert rotated.loads(cookie, 3600) == {"a": 1}
    assert signer_two.loads(rotated.dumps({"a": 1}), 3600) == {"a": 1}
    # Dropping the fallback drops what was remembered with it.
    one.config["SECRET_KEY_FALLBACKS"] = []
    assert lean_signer(iface, one) is signer_two
    assert signer_two.loads(cookie, 3600) is None


def test_overridden_signing_serializer_is_used() -> None:
    import json

    class PlainJSON:
        dumps = staticmethod(lambda v: json.dumps(v, separators=(",", ":")))
        loads = staticmethod(json.loads)

    class Custom(SecureCookieSessionInterface):
        def get_signing_serializer(self, app: Any) -> URLSafeTimedSerializer | None:
            if not app.secret_key:
                return None
            return URLSafeTimedSerializer(
                app.secret_key, salt="custom", serializer=PlainJSON
            )

    iface = Custom()
    app = FakeApp()
    sess = SecureCookieSession()
    sess["user"] = "ada"
    response = Response()
    iface.save_session(app, sess, response)
    value = set_cookie_value(response)
    assert URLSafeTimedSerializer("k", salt="custom").loads(value) == {"user": "ada"}
    assert dict(iface.open_session(app, request_with(value)) or {}) == {"user": "ada"}
    # A cookie of the default format is not readable by this interface.
    default_cookie = lean_signer(SecureCookieSessionInterface(), app).dumps({"a": 1})
    opened = iface.open_session(app, request_with(default_cookie))
    assert opened is not None and dict.__len__(opened) == 0
    assert iface.open_session(FakeApp(SECRET_KEY=None), request_with(value)) is None
    assert iface.open_session(app, request_with(None)) == {}
    with pytest.raises(RuntimeError, match="no secret key"):
        iface.save_session(FakeApp(SECRET_KEY=None), sess, Response())


def test_vary_merges_with_an_existing_header(
    response_class: type[Any], iface: SecureCookieSessionInterface
) -> None:
    for modified in (False, True):
        sess = SecureCookieSession({"a": 1})
        sess.get("a")
        if modified:
            sess["b"] = 2
        response = response_class()
        response.headers["Vary"] = "Accept-Encoding"
        iface.save_session(FakeApp(), sess, response)
        assert response.headers.getlist("Vary") == ["Accept-Encoding, Cookie"]
        assert ("Set-Cookie" in response.headers) is modified


def test_modified_but_unread_session_still_varies(
    response_class: type[Any], iface: SecureCookieSessionInterface
) -> None:
    class Blind(SecureCookieSession):
        # A session class that does not record reads.
        def __setitem__(self, key: str, value: Any) -> None:
            dict.__setitem__(self, key, value)
            self.modified = True

    for sess in (Blind(), Blind({"a": 1})):
        sess["x"] = 1
        if len(dict.keys(sess)) == 2:
            dict.clear(sess)  # emptied: the cookie is deleted
        assert not sess.accessed
        response = response_class()
        iface.save_session(FakeApp(), sess, response)
        assert response.headers.getlist("Vary") == ["Cookie"]
        assert "Set-Cookie" in response.headers
