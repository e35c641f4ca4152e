"""Tests for erlen.wrappers.response, with flask.Response as the oracle.

The typed header properties and conditional requests, which live in private
sibling modules, are tested in test_response_headers.py and
test_response_conditional.py.
"""

from __future__ import annotations

import io
import json
import warnings
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from types import SimpleNamespace

import pytest
from flask import Response as FlaskResponse
from hypothesis import given
from hypothesis import strategies as st
from support import response_environ, wsgi_run
from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response as WerkzeugResponse
from werkzeug.wsgi import FileWrapper

from erlen.globals import _cv_ctx
from erlen.wrappers import response as response_module
from erlen.wrappers.response import Response

# -- Construction, compared with Flask ----------------------------------------------

BODIES = [
    None,
    "",
    "hello",
    "h\u00e9llo \u2603",
    b"bytes body",
    bytearray(b"ba"),
    ["a", b"b", "\u00e9"],
    ("t", b"u"),
]
KWARGS = [
    {},
    {"status": 404},
    {"status": "201"},
    {"status": "299 Whatever"},
    {"status": HTTPStatus.ACCEPTED},
    {"mimetype": "text/plain"},
    {"mimetype": "application/json"},
    {"mimetype": "application/xml"},
    {"mimetype": "image/svg+xml"},
    {"mimetype": "application/javascript"},
    {"mimetype": "image/png"},
    {"content_type": "text/csv; charset=latin-1"},
    {"content_type": "text/plain", "mimetype": "text/html"},
    {"headers": {"X-A": "1", "Content-Type": "text/x-custom"}},
    {"headers": {"X-A": "1"}, "mimetype": "text/plain"},
    {"headers": [("X-A", "1"), ("X-A", "2")]},
    {"headers": Headers([("X-B", "b")])},
    {"headers": {}},
    {"status": 204},
    {"status": 304, "headers": {"ETag": '"x"', "Expires": "0", "Allow": "GET"}},
    {"status": 100},
]


@pytest.mark.parametrize("body", BODIES, ids=repr)
@pytest.mark.parametrize("kwargs", KWARGS, ids=repr)
def test_construction_matches_flask(body, kwargs):
    def make(cls):
        kw = dict(kwargs)
        if isinstance(kw.get("headers"), Headers):
            kw["headers"] = Headers(kw["headers"])
        return cls(body, **kw)

    ours, theirs = make(Response), make(FlaskResponse)
    assert ours.status == theirs.status
    assert ours.status_line == theirs.status
    assert ours.status_code == theirs.status_code
    assert ours.content_type == theirs.content_type
    assert ours.mimetype == theirs.mimetype
    assert ours.content_length == theirs.content_length
    assert ours.is_sequence == theirs.is_sequence
    assert ours.is_streamed == theirs.is_streamed
    assert ours.is_json == theirs.is_json
    assert repr(ours) == repr(theirs)
    env = response_environ()
    wire = ours.wire_headers()  # before the Headers object exists
    assert wire == theirs.get_wsgi_headers(env).to_wsgi_list()
    assert list(ours.headers) == list(theirs.headers)
    assert ours.wire_headers() == wire  # and after
    assert ours.get_wsgi_headers(env).to_wsgi_list() == wire
    assert ours.get_data() == theirs.get_data()
    assert ours.get_data(as_text=True) == theirs.get_data(as_text=True)


def test_headers_instance_is_kept_and_default_mimetype():
    h = Headers()
    r = Response("x", headers=h)
    assert r.headers is h
    assert h["Content-Type"] == "text/html; charset=utf-8"
    assert Response.default_mimetype == FlaskResponse.default_mimetype == "text/html"
    assert Response.charset == "utf-8"
    assert Response.autocorrect_location_header is False
    assert Response.automatically_set_content_length is True


def test_headers_are_lazy_and_setter_coerces():
    r = Response("hello")
    assert r._headers is None  # the common response never builds Headers
    assert r.content_type == "text/html; charset=utf-8"
    assert r.content_length == 5
    assert r._headers is None
    r.headers = {"X-A": "1"}
    assert isinstance(r.headers, Headers)
    assert r.wire_headers() == [("X-A", "1"), ("Content-Length", "5")]
    h = Headers([("X", "y")])
    r.headers = h
    assert r.headers is h


def test_subclass_defaults_and_overridden_set_data():
    class Mine(Response):
        default_status = 201
        default_mimetype = None

        def set_data(self, value):
            super().set_data(value.upper() if isinstance(value, str) else value)

    r = Mine("abc")
    assert r.status == "201 CREATED"
    assert r.get_data() == b"ABC"
    assert r.wire_headers() == [("Content-Length", "3")]
    assert Mine().wire_headers() == [("Content-Length", "0")]
    r.extra = 1  # subclasses (and Response) take arbitrary attributes
    assert Response("x").__dict__ is not None


def test_no_content_type_and_no_auto_length():
    class Bare(Response):
        default_mimetype = None
        automatically_set_content_length = False

    assert Bare("x").wire_headers() == []
    assert Bare("x", status=204).wire_headers() == []
    r = Bare("x")
    r.headers["X-A"] = "1"
    assert r.wire_headers() == [("X-A", "1")]


# -- Status -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        200,
        404,
        418,
        599,
        299,
        "404",
        "404 Not Found",
        " 200 OK ",
        "299 Whatever",
        "200 ok\tfine",
        HTTPStatus.NOT_FOUND,
        "999 X",
    ],
)
def test_status_forms_match_flask(status):
    ours, theirs = Response(status=status), FlaskResponse(status=status)
    assert (ours.status, ours.status_code) == (theirs.status, theirs.status_code)
    ours, theirs = Response(), FlaskResponse()
    ours.status = status
    theirs.status = status
    assert (ours.status, ours.status_code) == (theirs.status, theirs.status_code)
    if isinstance(status, int):
        ours.status_code = status
        theirs.status_code = status
        assert ours.status == theirs.status


@pytest.mark.parametrize("status", ["", "   "])
def test_empty_status_like_werkzeug(status):
    with pytest.raises(ValueError, match="Empty status argument"):
        FlaskResponse(status=status)
    with pytest.raises(ValueError, match="Empty status argument"):
        Response(status=status)


@pytest.mark.parametrize("status", [(), 1.5, [200], b"200 OK"])
def test_status_wrong_type(status):
    with pytest.raises(TypeError, match="Invalid status argument"):
        Response(status=status)


@pytest.mark.parametrize(
    "status",
    [
        "wtf",
        "abc def",
        "20 OK",
        "2000 X",
        "\u0664\u0660\u0664 Not Found",
        "+20 X",
        99,
        1000,
        True,
        "099 X",
        "200 OK\r\nSet-Cookie: a=b",
        "200 O\x00K",
        "200 \u2603",
    ],
)
def test_invalid_status_is_refused(status):
    with pytest.raises(ValueError) as info:
        Response(status=status)
    assert "Set-Cookie" not in str(info.value)
    r = Response()
    with pytest.raises(ValueError):
        r.status = status
    assert r.status == "200 OK"


# -- Mimetype, charset and simple header properties ---------------------------------


@pytest.mark.parametrize(
    "mimetype",
    [
        "text/plain",
        "text/csv",
        "application/json",
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/atom+xml",
        "application/ld+json",
        "image/png",
        "application/octet-stream",
    ],
)
def test_mimetype_setter_matches_flask(mimetype):
    ours, theirs = Response("x"), FlaskResponse("x")
    ours.mimetype = mimetype
    theirs.mimetype = mimetype
    assert ours.content_type == theirs.content_type
    assert ours.is_json == theirs.is_json
    assert ours.mimetype_params == theirs.mimetype_params


def test_mimetype_params_write_back():
    ours, theirs = Response("x"), FlaskResponse("x")
    for r in (ours, theirs):
        r.mimetype_params["charset"] = "latin-1"
        r.mimetype_params["q"] = "1"
    assert ours.content_type == theirs.content_type == "text/html; charset=latin-1; q=1"


def test_content_type_and_length_setters():
    r = Response("x")
    r.content_type = "application/problem+json"
    assert r.is_json and r.mimetype == "application/problem+json"
    r.content_type = None
    assert r.content_type is None and r.mimetype is None and not r.is_json
    with pytest.raises(ValueError, match="Content-Type"):
        r.content_type = "text/html\x00"
    with pytest.raises(ValueError, match="Content-Type"):
        Response("x", content_type="text/\u2603")
    with pytest.raises(ValueError, match="Content-Type"):
        Response("x", mimetype="text/\u2603")
    r.content_length = 12
    assert r.headers["Content-Length"] == "12" and r.content_length == 12
    r.headers["Content-Length"] = "nope"
    assert r.content_length is None
    r.content_length = None
    assert "Content-Length" not in r.headers


def test_location_property_and_injection():
    r = Response()
    assert r.location is None
    r.location = "/next"
    assert r.headers["Location"] == "/next"
    for bad in ["/a\r\nSet-Cookie: x=1", "/a\nb", "/a\x00b"]:
        with pytest.raises(ValueError, match="Location") as info:
            r.location = bad
        assert "Set-Cookie" not in str(info.value)
    with pytest.raises(ValueError):
        r.location = 5
    r.location = None
    assert "Location" not in r.headers


def test_location_iri_is_converted_like_werkzeug():
    hdrs = {"Location": "/\u00fcber a?q=\u00e9", "Content-Location": "/\u2603"}
    ours, theirs = Response("x", headers=hdrs), FlaskResponse("x", headers=hdrs)
    assert (
        ours.wire_headers()
        == theirs.get_wsgi_headers(response_environ()).to_wsgi_list()
    )


def test_autocorrect_location_header():
    class Auto(Response):
        autocorrect_location_header = True

    class FAuto(FlaskResponse):
        autocorrect_location_header = True

    env = (
        response_environ(path="/a/b?x=1")
        if False
        else EnvironBuilder("/a/b?x=1").get_environ()
    )
    ours, theirs = (
        Auto("x", headers={"Location": "c"}),
        FAuto("x", headers={"Location": "c"}),
    )
    assert ours.get_wsgi_headers(env).to_wsgi_list() == (
        theirs.get_wsgi_headers(env).to_wsgi_list()
    )
    assert ("Location", "http://localhost/a/c") in ours.wire_headers(
        "http://localhost/a/b"
    )
    assert ("Location", "c") in ours.wire_headers()  # no base URL: left relative


# -- Body, data and JSON --------------------------------------------------------------


def test_data_property_and_set_data():
    ours, theirs = Response(), FlaskResponse()
    for r in (ours, theirs):
        r.data = "h\u00e9"
    assert ours.data == theirs.data == "h\u00e9".encode()
    assert (
        ours.wire_headers()
        == theirs.get_wsgi_headers(response_environ()).to_wsgi_list()
    )
    r = Response("x", headers={"X-A": "1"})
    r.set_data(b"four")
    assert r.headers["Content-Length"] == "4"


def test_json_and_get_json():
    r = Response(json.dumps({"a": [1, 2]}), mimetype="application/json")
    assert r.json == {"a": [1, 2]}
    assert r.get_json() == {"a": [1, 2]}
    plain = Response('{"a": 1}')
    assert plain.json is None
    assert plain.get_json(force=True) == {"a": 1}
    bad = Response("{nope", mimetype="application/json")
    with pytest.raises(ValueError):
        bad.get_json()
    assert bad.get_json(silent=True) is None
    assert Response.json_module is not None and hasattr(Response.json_module, "loads")


def test_generator_body_is_lazy_and_closed():
    events = []

    def gen():
        try:
            events.append("start")
            yield "a\u00e9"
            yield b"b"
            events.append("end")
        finally:
            events.append("closed")

    ours = Response(gen())
    assert ours.is_streamed and not ours.is_sequence
    assert repr(ours) == "<Response streamed [200 OK]>"
    assert ours.wire_headers() == [("Content-Type", "text/html; charset=utf-8")]
    assert events == []  # nothing consumed by headers or repr
    it = ours.iter_encoded()
    assert next(it) == "a\u00e9".encode()
    assert events == ["start"]
    ours.close()
    assert events == ["start", "closed"]
    ours, theirs = Response(iter(["a", "b"])), FlaskResponse(iter(["a", "b"]))
    assert repr(ours) == repr(theirs)


def test_close_runs_callbacks_even_after_errors():
    order = []

    class Body:
        def __iter__(self):
            return iter([b"x"])

        def close(self):
            order.append("body")
            raise OSError("body close")

    r = Response(Body())
    r.call_on_close(lambda: order.append("first"))

    @r.call_on_close
    def second():
        order.append("second")
        raise RuntimeError("second")

    r.call_on_close(lambda: order.append("third"))
    with pytest.raises(OSError, match="body close"):
        r.close()
    assert order == ["body", "first", "second", "third"]
    assert second.__name__ == "second"


def test_context_manager_closes():
    closed = []
    with Response(iter([b"x"])) as r:
        r.call_on_close(lambda: closed.append(True))
    assert closed == [True]


def test_sequence_conversion_rules():
    closed = []

    class Body:
        def __iter__(self):
            yield from ["x", b"y"]

        def close(self):
            closed.append(True)

    r = Response(Body())
    assert r.get_data() == b"xy" and r.is_sequence
    r.close()
    assert closed == [True]  # make_sequence keeps the original close
    r = Response(iter([b"x"]), direct_passthrough=True)
    with pytest.raises(RuntimeError, match="direct passthrough"):
        r.get_data()
    assert r.calculate_content_length() is None

    class NoImplicit(Response):
        implicit_sequence_conversion = False

    r = NoImplicit(iter([b"x"]))
    with pytest.raises(RuntimeError, match="make_sequence"):
        r.get_data()
    r.make_sequence()
    assert r.get_data() == b"x"
    r = Response(("a", "b"))
    r._ensure_sequence(mutable=True)
    assert r.response == ["a", "b"]
    assert Response(iter(["ab", "c"])).calculate_content_length() == 3


def test_freeze_matches_flask():
    ours, theirs = Response(iter(["a", b"b"])), FlaskResponse(iter(["a", b"b"]))
    ours.freeze()
    theirs.freeze()
    assert ours.response == theirs.response == [b"a", b"b"]
    assert list(ours.headers) == list(theirs.headers)


# -- Cookies ----------------------------------------------------------------------

COOKIES = [
    {"key": "a"},
    {"key": "session", "value": "v1", "httponly": True, "secure": True},
    {"key": "s", "value": 'x y;z"', "samesite": "Lax"},
    {"key": "s", "value": "v", "samesite": "strict", "path": "/sub path"},
    {"key": "s", "value": "v", "samesite": "None", "partitioned": True},
    {"key": "s", "value": "v", "max_age": 3600, "expires": 1_700_000_000},
    {
        "key": "s",
        "value": "v",
        "max_age": timedelta(days=1),
        "expires": datetime(2030, 1, 1, tzinfo=UTC),
    },
    {"key": "s", "value": "\u00e9\r\n", "domain": ".example.com", "path": None},
    {"key": "s", "value": "v", "domain": "ex\u00e4mple.com:8080"},
    {"key": "s", "value": "v", "expires": "Thu, 01 Jan 1970 00:00:00 GMT"},
    {"key": "\u00fc", "value": "v"},
]


@pytest.mark.parametrize("kwargs", COOKIES, ids=repr)
def test_set_cookie_matches_flask(kwargs):
    ours, theirs = Response(), FlaskResponse()
    ours.set_cookie(**kwargs)
    theirs.set_cookie(**kwargs)
    assert ours.headers.getlist("Set-Cookie") == theirs.headers.getlist("Set-Cookie")
    ours.wire_headers()  # passes the wire check


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": "s"},
        {
            "key": "s",
            "path": "/x",
            "domain": "example.com",
            "secure": True,
            "httponly": True,
            "samesite": "Lax",
            "partitioned": True,
        },
    ],
)
def test_delete_cookie_matches_flask(kwargs):
    ours, theirs = Response(), FlaskResponse()
    ours.delete_cookie(**kwargs)
    theirs.delete_cookie(**kwargs)
    assert ours.headers.getlist("Set-Cookie") == theirs.headers.getlist("Set-Cookie")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": "a\r\nb"},
        {"key": "a;b"},
        {"key": "a b"},
        {"key": ""},
        {"key": "a=b"},
        {"key": "a\x00"},
        {"key": 5},
        {"key": "a", "domain": "ex\r\n.com"},
        {"key": "a", "domain": "ex.com; Secure"},
        {"key": "a", "expires": "x; Domain=evil"},
        {"key": "a", "max_age": "1\r\nX: y"},
        {"key": "a", "samesite": "Lax\r\n"},
    ],
)
def test_cookie_injection_is_refused(kwargs):
    r = Response()
    with pytest.raises(ValueError) as info:
        r.set_cookie(**kwargs)
    assert "\n" not in str(info.value).replace("\\n", "")
    assert "Set-Cookie" not in r.headers


def test_cookie_size_warning_and_app_config():
    r = Response()
    with pytest.warns(UserWarning, match="too large"):
        r.set_cookie("big", "x" * 5000)
    assert r.max_cookie_size == 4093
    ctx = SimpleNamespace(app=SimpleNamespace(config={"MAX_COOKIE_SIZE": 20}))
    token = _cv_ctx.set(ctx)
    try:
        assert r.max_cookie_size == 20
        with pytest.warns(UserWarning, match="too large"):
            r.set_cookie("c", "y" * 30)
        ctx.app.config["MAX_COOKIE_SIZE"] = 0
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r.set_cookie("c", "y" * 5000)
    finally:
        _cv_ctx.reset(token)


# -- The wire form and header validation ---------------------------------------------


@pytest.mark.parametrize(
    "name", ["Bad Name", "X:Y", "X-\u00e9", "", "X\r\nY", "X\x00", "X\t", "(x)", "x/y"]
)
def test_invalid_header_names(name):
    r = Response("x")
    r.headers.add(name, "v")
    with pytest.raises(ValueError, match="Invalid header name"):
        r.wire_headers()
    with pytest.raises(ValueError):
        r.asgi_headers()


def test_non_str_header_name_and_value():
    r = Response("x")
    r.headers._list.append((b"X-Bytes", "v"))
    with pytest.raises(ValueError, match="Invalid header name"):
        r.wire_headers()
    r = Response("x")
    r.headers._list.append(("X-Int", 5))
    with pytest.raises(ValueError, match=r"'X-Int'.*must be a str"):
        r.wire_headers()
    r = Response("x")
    r.headers._list.append((["unhashable"], "v"))
    with pytest.raises(ValueError, match="Invalid header name"):
        r.wire_headers()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("a\x00b", "CR, LF or NUL"),
        ("\u2603", "latin-1"),
        ("\ud800", "latin-1"),
        ("ok\u0100", "latin-1"),
    ],
)
def test_invalid_header_values_name_the_header(value, why):
    r = Response("x", headers={"X-Good": "fine"})
    r.headers["X-Evil"] = value
    with pytest.raises(ValueError, match=why) as info:
        r.wire_headers()
    assert "'X-Evil'" in str(info.value)
    assert value not in str(info.value)


def test_crlf_in_values_never_reaches_the_wire():
    r = Response("x")
    with pytest.raises(ValueError):
        r.headers["X-A"] = "a\r\nSet-Cookie: evil=1"
    r.headers._list.append(("X-A", "a\r\nSet-Cookie: evil=1"))
    with pytest.raises(ValueError, match="'X-A'") as info:
        r.wire_headers()
    assert "evil" not in str(info.value)
    r = Response("x")
    r.headers._list.append(("Location", "/a\rb"))
    with pytest.raises(ValueError, match="'Location'"):
        r.wire_headers()
    r = Response("x")
    r.headers._list.append(("Location", "/a\x00b"))
    with pytest.raises(ValueError, match="'Location'"):
        r.wire_headers()


def test_latin1_values_are_allowed():
    r = Response("x", headers={"X-Name": "Jos\u00e9 \xff"})
    assert ("X-Name", "Jos\u00e9 \xff") in r.wire_headers()
    assert (b"x-name", "Jos\u00e9 \xff".encode("latin-1")) in r.asgi_headers()


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="abcXYZ-_ :\u00e9", min_size=0, max_size=6),
            st.text(alphabet=st.characters(max_codepoint=0x10FF), max_size=8),
        ),
        max_size=5,
    )
)
def test_wire_headers_property(pairs):
    ours = Response("x")
    ours.headers._list.extend(pairs)
    try:
        wire = ours.wire_headers()
    except ValueError:
        bad = any(
            not n
            or any(c in " :\u00e9" for c in n)
            or any(c in "\r\n\x00" or ord(c) > 255 for c in v)
            for n, v in pairs
        )
        assert bad
        return
    for name, value in wire:
        name.encode("ascii")
        value.encode("latin-1")
        assert not set(value) & set("\r\n\x00")
    theirs = FlaskResponse("x")
    theirs.headers._list.extend(pairs)
    assert wire == theirs.get_wsgi_headers(response_environ()).to_wsgi_list()


def test_name_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(
        response_module, "_NAME_FLAGS", {"Content-Type": 2, "Content-Length": 3}
    )
    monkeypatch.setattr(
        response_module,
        "_NAME_BYTES",
        {"Content-Type": b"content-type", "Content-Length": b"content-length"},
    )
    monkeypatch.setattr(response_module, "_NAME_CACHE_MAX", 5)
    r = Response("x", headers=[(f"X-{i}", "v") for i in range(20)])
    assert len(r.wire_headers()) == 22
    assert len(response_module._NAME_FLAGS) == 5
    assert (b"x-19", b"v") in r.asgi_headers()  # uncached names still work


def test_content_type_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(response_module, "_CT_CACHE", {})
    monkeypatch.setattr(response_module, "_CT_CACHE_MAX", 2)
    for i in range(5):
        assert Response("x", mimetype=f"text/x{i}").content_type == (
            f"text/x{i}; charset=utf-8"
        )
    assert len(response_module._CT_CACHE) == 2


@pytest.mark.parametrize("status", [100, 101, 204, 304, 200, 404])
def test_bodiless_statuses_drop_headers_like_werkzeug(status):
    hdrs = [
        ("ETag", '"x"'),
        ("Content-Length", "3"),
        ("Last-Modified", "x"),
        ("Expires", "0"),
        ("Content-Location", "/c"),
        ("Allow", "GET"),
    ]
    ours, theirs = Response("abc", status, hdrs), FlaskResponse("abc", status, hdrs)
    assert (
        ours.wire_headers()
        == theirs.get_wsgi_headers(response_environ()).to_wsgi_list()
    )
    lazy, flazy = Response("abc", status), FlaskResponse("abc", status)
    assert (
        lazy.wire_headers() == flazy.get_wsgi_headers(response_environ()).to_wsgi_list()
    )


def test_asgi_headers():
    r = Response("hi", headers={"X-Custom": "v", "Set-Cookie": "a=b"})
    assert r.asgi_headers() == [
        (b"x-custom", b"v"),
        (b"set-cookie", b"a=b"),
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", b"2"),
    ]
    assert Response("hi").asgi_headers() == [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", b"2"),
    ]


# -- WSGI ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize(
    "make",
    [
        lambda cls: cls("hello"),
        lambda cls: cls(["a", b"b"], 201, {"X-A": "1"}),
        lambda cls: cls(iter([b"x", "y"]), mimetype="text/plain"),
        lambda cls: cls("gone", 204),
        lambda cls: cls("same", 304, {"ETag": '"e"'}),
        lambda cls: cls(None, 302, {"Location": "/\u00e9"}),
    ],
)
def test_wsgi_call_matches_flask(make, method):
    env = response_environ(method)
    ours, theirs = wsgi_run(make(Response), env), wsgi_run(make(FlaskResponse), env)
    assert ours == theirs


def test_head_keeps_length_and_closes_generator():
    closed = []

    def gen():
        try:
            yield b"x"
        finally:
            closed.append(True)  # pragma: no cover - never started

    r = Response(gen())
    r.call_on_close(lambda: closed.append("cb"))
    status, headers, body = wsgi_run(r, response_environ("HEAD"))
    assert body == b"" and status == "200 OK"
    assert headers == [("Content-Type", "text/html; charset=utf-8")]
    assert closed == ["cb"]
    assert wsgi_run(Response("abc"), response_environ("HEAD"))[1][-1] == (
        "Content-Length",
        "3",
    )


def test_get_app_iter_paths():
    env = response_environ()
    r = Response("abc")
    assert r.get_app_iter(env) is r.response  # nothing to close: the list itself
    r.call_on_close(lambda: None)
    app_iter = r.get_app_iter(env)
    assert app_iter is not r.response and list(app_iter) == [b"abc"]
    r = Response(["a", b"b"])
    assert list(r.get_app_iter(env)) == [b"a", b"b"]
    wrapper = FileWrapper(io.BytesIO(b"file"))
    r = Response(wrapper, direct_passthrough=True)
    assert r.get_app_iter(env) is wrapper
    r.call_on_close(lambda: None)
    assert list(r.get_app_iter(env)) == [b"file"]
    app_iter, status, headers = Response("x", 202).get_wsgi_response(env)
    assert status == "202 ACCEPTED" and list(app_iter) == [b"x"]
    assert headers[-1] == ("Content-Length", "1")


def test_wsgi_call_with_invalid_header_closes_body():
    closed = []
    r = Response(iter([b"x"]), headers={"X-A": "ok"})
    r.headers._list.append(("X-B", "\x00"))
    r.call_on_close(lambda: closed.append(True))
    with pytest.raises(ValueError, match="'X-B'"):
        r(
            response_environ(),
            lambda s, h: pytest.fail("start_response must not be called"),
        )
    assert closed == [True]
    with pytest.raises(ValueError, match="'X-B'"):
        r.get_wsgi_response(response_environ())
    assert closed == [True, True]


def test_streaming_through_wsgi_is_lazy():
    produced = []

    def gen():
        for chunk in ("a", "b"):
            produced.append(chunk)
            yield chunk

    started = []
    app_iter = Response(gen())(response_environ(), lambda s, h: started.append(s))
    assert started == ["200 OK"] and produced == []
    it = iter(app_iter)
    assert next(it) == b"a" and produced == ["a"]
    app_iter.close()


def test_force_type_and_from_app():
    env = response_environ()
    wz = WerkzeugResponse("from werkzeug", 201, {"X-A": "1"})
    r = Response.force_type(wz, env)
    assert isinstance(r, Response) and r.status_code == 201
    assert r.get_data() == b"from werkzeug" and r.headers["X-A"] == "1"
    r = Response.force_type(NotFound(), env)
    assert r.status_code == 404
    with pytest.raises(TypeError, match="environ"):
        Response.force_type(wz)

    class Sub(Response):
        pass

    own = Response("x")
    assert Sub.force_type(own) is own and type(own) is Sub
    r = Sub.from_app(WerkzeugResponse("app"), env)
    assert type(r) is Sub and r.get_data() == b"app"


def test_repr_forms():
    assert repr(Response("hello world!")) == "<Response 12 bytes [200 OK]>"
    assert repr(Response(iter([]), 404)) == "<Response streamed [404 NOT FOUND]>"

    class Sized:
        def __iter__(self):
            return iter([b"x"])

        def __len__(self):
            return 1

    assert repr(Response(Sized())) == "<Response likely-streamed [200 OK]>"
