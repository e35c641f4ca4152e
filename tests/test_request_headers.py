"""Tests for erlen.wrappers._request_headers: the typed header properties of Request.

Werkzeug's Request is the oracle where erlen matches it (the shared oracle cases in
tests/test_request.py also cover these properties); where erlen is stricter on
purpose (BAD_INPUTS 52, 53), the test says so.
"""

from __future__ import annotations

from typing import Any

import pytest
from support import make_environ, twins
from werkzeug.datastructures import Authorization

from erlen.wrappers.request import Request


def test_request_is_slot_only_with_the_mixin() -> None:
    # The mixin must add no __dict__: requests stay slot-only (DESIGN: lazy slots).
    assert "__slots__" in vars(Request.__mro__[1]) and not Request.__mro__[1].__slots__
    assert Request.__dictoffset__ == 0
    assert not hasattr(Request(make_environ()), "__dict__")


def test_access_route_without_remote_addr() -> None:
    env = make_environ()
    env.pop("REMOTE_ADDR", None)
    assert Request(env).access_route == []


def test_52_range_limits() -> None:
    def rng(value: str) -> Any:
        env = make_environ()
        env["HTTP_RANGE"] = value
        return Request(env).range

    ok = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 200, 2))
    assert len(rng(ok).ranges) == 100
    assert rng("bytes=" + ",".join(f"{i}-{i}" for i in range(0, 20_000, 2))) is None
    assert rng("bytes=" + "1-" * 50_000) is None
    assert rng("bytes=" + "9" * 100_000 + "-") is None
    assert rng("bytes=\u0661-\u0662") is None
    assert rng("bytes=0-") is not None
    assert rng("bytes=" + "0-0," * 100 + "0-0") is None  # 101 short ranges
    assert "100 ranges" in (Request.range.__doc__ or "")


def test_53_accept_headers_are_parsed_up_to_500_chars() -> None:
    huge = ",".join(f"text/x{i};q=0.{i % 10}" for i in range(10_000))
    env = make_environ(
        headers={
            "Accept": "application/json," + huge,
            "Accept-Language": "en," + huge,
            "Accept-Encoding": "x" * 100_000,
            "Accept-Charset": "utf-8," + huge,
        }
    )
    req = Request(env)
    assert 1 < len(req.accept_mimetypes) < 60
    assert req.accept_mimetypes.best_match(["application/json"]) == "application/json"
    assert 1 < len(req.accept_languages) < 60
    assert len(req.accept_encodings) == 0  # one 100 KB item: nothing within 500 chars
    assert 1 < len(req.accept_charsets) < 60
    assert all(len(v) < 500 for v, _ in req.accept_mimetypes)


def test_number_headers_take_ascii_digits_only() -> None:
    env = make_environ()
    env["HTTP_MAX_FORWARDS"] = "\u0661\u0662"
    assert Request(env).max_forwards is None
    env["HTTP_MAX_FORWARDS"] = " 12 "
    assert Request(env).max_forwards == 12
    env["HTTP_MAX_FORWARDS"] = "9" * 5000
    assert Request(env).max_forwards is None
    env["CONTENT_LENGTH"] = "\u0661\u0662"
    assert Request(env).content_length == 0
    env["CONTENT_LENGTH"] = "+5"
    assert Request(env).content_length == 0


@pytest.mark.parametrize(
    "value",
    [
        "",
        "text/plain",
        " Text/HTML ",
        "multipart/form-data; boundary=abc",
        "multipart/form-data;boundary=a-b_c.d",
        "multipart/form-data; Boundary=abc ",
        'multipart/form-data; boundary="quoted"',
        "multipart/form-data; boundary=a%22b",
        "multipart/form-data; boundary*=utf-8''x",
        "text/plain; charset=utf-8; format=flowed",
        "; charset=utf-8",
        "text/plain;",
        "text/plain; charset",
    ],
)
def test_mimetype_and_params_match_werkzeug(value: str) -> None:
    env = make_environ()
    env["CONTENT_TYPE"] = value
    ours, theirs = twins(env)
    assert (ours.mimetype, ours.mimetype_params) == (
        theirs.mimetype,
        theirs.mimetype_params,
    )


def test_authorization_schemes() -> None:
    req = Request(make_environ(headers={"Authorization": "Basic dXNlcjpwYXNz"}))
    auth = req.authorization
    assert isinstance(auth, Authorization)
    assert (auth.type, auth.username, auth.password) == ("basic", "user", "pass")
    auth = Request(
        make_environ(headers={"Authorization": "Bearer abc.def"})
    ).authorization
    assert auth is not None and (auth.type, auth.token) == ("bearer", "abc.def")
    assert Request(make_environ()).authorization is None
