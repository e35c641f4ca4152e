"""Tests for Response's typed header properties (erlen.wrappers._response_headers).

flask.Response is the oracle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Response as FlaskResponse
from werkzeug.datastructures import (
    ContentSecurityPolicy,
    ResponseCacheControl,
    WWWAuthenticate,
)
from werkzeug.http import http_date

from erlen.wrappers import response as response_module
from erlen.wrappers.response import Response

# -- Typed header properties and ETags ---------------------------------------------


def test_date_properties_match_flask():
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    ours, theirs = Response(), FlaskResponse()
    for r in (ours, theirs):
        r.last_modified = when
        r.expires = 1_700_000_000
        r.date = when
        r.age = timedelta(seconds=30)
        r.content_encoding = "gzip"
        r.content_location = "/x"
        r.content_md5 = "abc"
        r.accept_ranges = "bytes"
        r.access_control_allow_origin = "*"
        r.access_control_allow_methods = ["GET", "POST"]
        r.access_control_max_age = 60
        r.access_control_allow_credentials = True
    assert list(ours.headers) == list(theirs.headers)
    for attr in (
        "last_modified",
        "expires",
        "date",
        "age",
        "content_encoding",
        "accept_ranges",
        "access_control_max_age",
        "access_control_allow_credentials",
        "cross_origin_opener_policy",
        "cross_origin_embedder_policy",
    ):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.access_control_allow_methods.as_set() == {"get", "post"}
    ours.headers["Age"] = "soon"
    assert ours.age is None  # unparsable -> None, as Werkzeug
    del ours.age
    ours.last_modified = None
    ours.access_control_allow_credentials = False
    assert "Age" not in ours.headers and "Last-Modified" not in ours.headers
    assert "Access-Control-Allow-Credentials" not in ours.headers
    ours.headers["Access-Control-Max-Age"] = "soon"
    assert ours.access_control_max_age is None  # int() failed -> default
    for attr in ("age", "vary", "content_range"):
        assert isinstance(getattr(Response, attr), response_module._HeaderProp)


def test_retry_after():
    r = Response()
    assert r.retry_after is None
    r.retry_after = 120
    assert r.headers["Retry-After"] == "120"
    delta = r.retry_after - datetime.now(UTC)
    assert timedelta(seconds=100) < delta <= timedelta(seconds=120)
    when = datetime(2030, 1, 1, tzinfo=UTC)
    r.retry_after = when
    assert r.headers["Retry-After"] == http_date(when) and r.retry_after == when
    r.retry_after = "Wed, 01 Jan 2031 00:00:00 GMT"
    assert r.retry_after.year == 2031
    r.retry_after = None
    assert "Retry-After" not in r.headers


def test_header_sets_vary_allow_language():
    ours, theirs = Response(), FlaskResponse()
    for r in (ours, theirs):
        r.vary.add("Cookie")
        r.vary.add("Accept-Encoding")
        r.allow = ["GET", "HEAD"]
        r.content_language = "de"
        r.content_language.add("en")
    assert list(ours.headers) == list(theirs.headers)
    assert "cookie" in ours.vary
    ours.vary.clear()
    ours.allow = None
    assert "Vary" not in ours.headers and "Allow" not in ours.headers


def test_cache_control_updates_match_flask():
    ours, theirs = Response(), FlaskResponse()
    for r in (ours, theirs):
        assert isinstance(r.cache_control, ResponseCacheControl)
        r.cache_control.max_age = 60
        r.cache_control.public = True
        r.cache_control.no_cache = True
        r.cache_control.must_revalidate = True
    assert ours.headers["Cache-Control"] == theirs.headers["Cache-Control"]
    for r in (ours, theirs):
        r.cache_control.no_cache = None
        r.cache_control.public = None
    assert ours.headers["Cache-Control"] == theirs.headers["Cache-Control"]
    cc = ours.cache_control
    cc.max_age = None
    cc.must_revalidate = None
    assert "Cache-Control" not in ours.headers


def test_www_authenticate_matches_flask():
    ours, theirs = Response(status=401), FlaskResponse(status=401)
    for r in (ours, theirs):
        auth = r.www_authenticate
        assert auth.type == "basic"
        auth["realm"] = "x"
    assert ours.headers["WWW-Authenticate"] == theirs.headers["WWW-Authenticate"]
    for r in (ours, theirs):
        r.www_authenticate = WWWAuthenticate("bearer", {"realm": "api"})
        r.www_authenticate.parameters["scope"] = "read"
    assert ours.headers["WWW-Authenticate"] == theirs.headers["WWW-Authenticate"]
    assert "scope" in ours.headers["WWW-Authenticate"]
    for r in (ours, theirs):
        r.www_authenticate = [WWWAuthenticate("basic"), WWWAuthenticate("bearer")]
    assert ours.headers.getlist("WWW-Authenticate") == (
        theirs.headers.getlist("WWW-Authenticate")
    )
    assert len(ours.headers.getlist("WWW-Authenticate")) == 2
    del ours.www_authenticate
    assert "WWW-Authenticate" not in ours.headers
    ours.www_authenticate = None
    assert "WWW-Authenticate" not in ours.headers


def test_content_range_and_csp():
    r = Response()
    assert not r.content_range
    r.content_range.set(0, 10, 100)
    assert r.headers["Content-Range"] == "bytes 0-9/100"
    r.content_range = "bytes 1-2/3"
    assert r.content_range.stop == 3
    r.content_range = None
    assert "Content-Range" not in r.headers
    assert isinstance(r.content_security_policy, ContentSecurityPolicy)
    r.content_security_policy.default_src = "'self'"
    assert r.headers["Content-Security-Policy"] == "default-src 'self'"
    r.content_security_policy_report_only = "img-src *"
    assert r.content_security_policy_report_only.img_src == "*"
    r.content_security_policy = ContentSecurityPolicy({"script-src": "'none'"})
    assert r.headers["Content-Security-Policy"] == "script-src 'none'"
    r.content_security_policy = None
    assert "Content-Security-Policy" not in r.headers


def test_etag_round_trips():
    ours, theirs = Response("body"), FlaskResponse("body")
    assert ours.get_etag() == theirs.get_etag() == (None, None)
    for tag, weak in [("abc", False), ("w1", True), ("", False)]:
        ours.set_etag(tag, weak)
        theirs.set_etag(tag, weak)
        assert ours.headers["ETag"] == theirs.headers["ETag"]
        assert ours.get_etag() == theirs.get_etag() == (tag, weak)
    with pytest.raises(ValueError):
        ours.set_etag('a"b')
    ours, theirs = Response("body"), FlaskResponse("body")
    ours.add_etag()
    theirs.add_etag()
    assert ours.headers["ETag"] == theirs.headers["ETag"]
    ours.set_data("other")
    ours.add_etag()  # kept without overwrite
    assert ours.headers["ETag"] == theirs.headers["ETag"]
    ours.add_etag(overwrite=True, weak=True)
    assert ours.get_etag()[1] is True and ours.headers["ETag"] != theirs.headers["ETag"]
