"""Tests for erlen.formparser: body streams, url-encoded parsing, choosing a parser.

Werkzeug's own parser is the oracle for well-formed bodies; the BAD_INPUTS items
(shared/BAD_INPUTS.md) are each driven through the parser. The multipart parser is
tested in tests/test_multipart.py.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import B, EmptyForever, body, part
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import (
    BadRequest,
    ClientDisconnected,
    RequestEntityTooLarge,
)
from werkzeug.formparser import parse_form_data as wz_parse_form_data
from werkzeug.test import EnvironBuilder

from erlen.formparser import (
    MAX_FORM_MEMORY_TOTAL,
    ONE_READ_MAX,
    UrlencodedParser,
    create_form_parser,
    form_memory_budget,
    get_input_stream,
    multidict_from_lists,
    parse_form_data,
    parse_qsl_limited,
    parse_query,
    read_small_body,
)


class Endless(io.RawIOBase):
    """A stream that never ends (a client sending forever)."""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        b[:] = b"x" * len(b)
        return len(b)


# -- get_input_stream ------------------------------------------------------------------


def environ(body: bytes = b"", **kw: Any) -> dict[str, Any]:
    env = EnvironBuilder("/", method="POST", data=body).get_environ()
    env.update(kw)
    return env


def test_stream_limited_to_content_length() -> None:
    env = environ(b"hello world")
    env["CONTENT_LENGTH"] = "5"
    assert get_input_stream(env).read() == b"hello"


def test_content_length_over_max_is_413_before_reading() -> None:
    env = environ(b"x" * 10)
    env["wsgi.input"] = EmptyForever(b"x" * 10)
    with pytest.raises(RequestEntityTooLarge):
        get_input_stream(env, max_content_length=5)
    assert env["wsgi.input"].reads == 0


def test_unframed_body_is_not_read() -> None:
    # BAD_INPUTS 50: no Content-Length, no wsgi.input_terminated -> empty body.
    env = environ()
    env.pop("CONTENT_LENGTH", None)
    env["wsgi.input"] = Endless()
    assert get_input_stream(env).read() == b""
    assert get_input_stream(env, max_content_length=10).read() == b""


def test_chunked_body_without_terminated_input_is_empty() -> None:
    env = environ(b"abc")
    env.pop("CONTENT_LENGTH", None)
    env["HTTP_TRANSFER_ENCODING"] = "chunked"
    assert get_input_stream(env).read() == b""


def test_terminated_stream_over_max_is_413_not_truncated() -> None:
    # BAD_INPUTS 50. Werkzeug 3.1.9 returns the first `max` bytes here.
    env = environ()
    env.pop("CONTENT_LENGTH", None)
    env["wsgi.input_terminated"] = True
    env["wsgi.input"] = io.BytesIO(b"x" * 100)
    with pytest.raises(RequestEntityTooLarge):
        get_input_stream(env, max_content_length=10).read()
    env["wsgi.input"] = Endless()
    with pytest.raises(RequestEntityTooLarge):
        get_input_stream(env, max_content_length=1000).read()
    stream = get_input_stream({**env, "wsgi.input": Endless()}, 1000)
    with pytest.raises(RequestEntityTooLarge):
        while stream.read(300):
            pass


def test_terminated_stream_at_exactly_max_is_fine() -> None:
    env = environ()
    env.pop("CONTENT_LENGTH", None)
    env["wsgi.input_terminated"] = True
    env["wsgi.input"] = io.BytesIO(b"x" * 10)
    assert get_input_stream(env, max_content_length=10).read() == b"x" * 10
    env["wsgi.input"] = io.BytesIO(b"x" * 10)
    stream = get_input_stream(env, max_content_length=10)
    assert stream.read(10) == b"x" * 10
    assert stream.read(10) == b""


def test_terminated_stream_without_max_is_the_raw_input() -> None:
    env = environ()
    env["wsgi.input_terminated"] = True
    assert get_input_stream(env) is env["wsgi.input"]


def test_short_body_is_client_disconnected() -> None:
    env = environ(b"abc")
    env["CONTENT_LENGTH"] = "10"
    with pytest.raises(ClientDisconnected) as info:
        get_input_stream(env).read()
    assert info.value.code == 400


def test_missing_wsgi_input_is_empty() -> None:
    assert get_input_stream({"CONTENT_LENGTH": "3"}).read() == b""


class Trickle(io.RawIOBase):
    """A stream that hands out at most *step* bytes per read, counting reads."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = data
        self.step = step
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        self.reads += 1
        n = self.step if size < 0 else min(size, self.step)
        out, self.data = self.data[:n], self.data[n:]
        return out


def test_read_small_body_reads_once_and_matches_the_stream() -> None:
    env = environ(b"hello world")
    spy = Trickle(b"hello world", 100)
    env["wsgi.input"] = spy
    assert read_small_body(env, 11) == b"hello world" and spy.reads == 1
    # Short reads are continued until Content-Length, as LimitedStream does.
    env["wsgi.input"] = Trickle(b"hello world", 3)
    assert read_small_body(env, 11) == b"hello world"
    env["wsgi.input"] = Trickle(b"hello world, and more", 3)
    assert read_small_body(env, 5) == b"hello"
    assert read_small_body({}, 5) == b""  # no wsgi.input
    assert read_small_body(env, 0) == b""


def test_read_small_body_declines_what_must_stream() -> None:
    env = environ(b"x")
    assert read_small_body(env, None) is None  # no Content-Length
    assert read_small_body(env, ONE_READ_MAX + 1) is None
    env["wsgi.input_terminated"] = True
    assert read_small_body(env, 1) is None  # the server frames the body


def test_read_small_body_errors_match_get_input_stream() -> None:
    env = environ(b"x" * 10)
    env["wsgi.input"] = EmptyForever(b"x" * 10)
    with pytest.raises(RequestEntityTooLarge):
        read_small_body(env, 10, max_content_length=5)
    assert env["wsgi.input"].reads == 0
    env = environ(b"short")
    with pytest.raises(ClientDisconnected):
        read_small_body(env, 100)


# -- query strings and url-encoded bodies ------------------------------------------


def test_semicolon_does_not_separate() -> None:
    # BAD_INPUTS 22
    assert parse_qsl_limited("a=1;b=2") == [("a", "1;b=2")]


def test_blank_values_plus_and_bad_escapes() -> None:
    assert parse_qsl_limited("a=&b&c=x+y&d=%ff&e=%zz&f=%C3%A9") == [
        ("a", ""),
        ("b", ""),
        ("c", "x y"),
        ("d", "%FF"),
        ("e", "%zz"),
        ("f", "é"),
    ]


def test_parameter_limit() -> None:
    # BAD_INPUTS 23
    ok = "&".join(f"k{i}=v" for i in range(1000))
    assert len(parse_qsl_limited(ok, 1000)) == 1000
    with pytest.raises(BadRequest):
        parse_qsl_limited(ok + "&x=1", 1000)
    with pytest.raises(RequestEntityTooLarge):
        parse_qsl_limited(ok + "&x=1", 1000, RequestEntityTooLarge)
    assert len(parse_qsl_limited(ok + "&x=1", None)) == 1001


def test_large_adversarial_query_strings() -> None:
    # BAD_INPUTS 23: 1 MB inputs are refused or parsed in one linear pass.
    with pytest.raises(BadRequest):
        parse_qsl_limited("&" * 1_000_000)
    with pytest.raises(BadRequest):
        parse_qsl_limited("&".join("k=v" for _ in range(100_000)))
    [(key, value)] = parse_qsl_limited("a;" * 500_000)
    assert len(key) == 1_000_000 and value == ""


def test_urlencoded_parser_chunks_and_limits() -> None:
    p = UrlencodedParser()
    for piece in (b"a=1&b", b"=%C3", b"%A9&c=\xff"):
        p.feed(piece)
    form, files = p.finish()
    assert list(form.items(multi=True)) == [("a", "1"), ("b", "é"), ("c", "%FF")]
    assert not files

    p = UrlencodedParser(max_size=10)
    p.feed(b"a=12345")
    with pytest.raises(RequestEntityTooLarge):
        p.feed(b"&b=12345")

    p = UrlencodedParser(max_field_size=3)
    p.feed(b"a=123&b=1234")
    with pytest.raises(RequestEntityTooLarge):
        p.finish()

    p = UrlencodedParser(max_fields=2)
    p.feed(b"a&b&c")
    with pytest.raises(RequestEntityTooLarge):
        p.finish()
    p.close()


def test_urlencoded_declared_length_over_budget_is_413_before_reading() -> None:
    with pytest.raises(RequestEntityTooLarge):
        create_form_parser(
            "application/x-www-form-urlencoded",
            {},
            content_length=100,
            max_content_length=50,
            max_form_memory_size=10,
        )


def test_urlencoded_matches_werkzeug() -> None:
    data = b"a=1&a=2&b=%20x+y&empty=&novalue&u=%E2%82%AC&bad=%e2%82"
    env = EnvironBuilder(
        method="POST", data=data, content_type="application/x-www-form-urlencoded"
    ).get_environ()
    _, wz_form, _ = wz_parse_form_data(env)
    form, files = parse_form_data(
        io.BytesIO(data), "application/x-www-form-urlencoded", {}
    )
    assert list(form.items(multi=True)) == list(wz_form.items(multi=True))
    assert not files


def test_form_memory_budget() -> None:
    assert form_memory_budget(None, 500_000) == MAX_FORM_MEMORY_TOTAL
    assert form_memory_budget(1_000_000, 500_000) == 1_000_000
    assert form_memory_budget(100, 500_000) == 500_000
    assert form_memory_budget(None, 20_000_000) == 20_000_000
    assert form_memory_budget(None, None) is None
    assert form_memory_budget(123, None) == 123


def test_other_mimetypes_are_not_read() -> None:
    stream = EmptyForever(b"{}")
    form, files = parse_form_data(stream, "application/json", {})
    assert not form and not files and stream.reads == 0
    assert parse_form_data(b"{}", "application/json", {}) == ({}, {})


_QUERY_PIECES = ["a", "é", "=", "&", "+", "%", "%2", "%20", "%ff", "%C3%A9", "%zz"]
_QUERY_PIECES += [";", " ", "%26", "%3D", "%2B", "&&", "=="]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_QUERY_PIECES), max_size=16))
def test_parse_query_equals_parse_qsl_limited(pieces: list[str]) -> None:
    text = "".join(pieces)
    expected = ImmutableMultiDict(parse_qsl_limited(text, None))
    got = parse_query(text, None, cls=ImmutableMultiDict)
    assert type(got) is ImmutableMultiDict
    assert list(got.items(multi=True)) == list(expected.items(multi=True))
    # The url-encoded body parser gives the same, whole or in pieces.
    data = text.encode()
    form, _ = parse_form_data(data, "application/x-www-form-urlencoded", {})
    assert list(form.items(multi=True)) == list(expected.items(multi=True))
    form, _ = parse_form_data(io.BytesIO(data), "application/x-www-form-urlencoded", {})
    assert list(form.items(multi=True)) == list(expected.items(multi=True))


def test_parse_query_limits() -> None:
    ok = "&".join(f"k{i}=v" for i in range(1000))
    assert len(parse_query(ok, 1000)) == 1000
    with pytest.raises(BadRequest):
        parse_query(ok + "&x=1", 1000)
    with pytest.raises(RequestEntityTooLarge):
        parse_query(ok + "&x=1", 1000, RequestEntityTooLarge)
    assert parse_query("", 0) == MultiDict()


def test_multidict_from_lists() -> None:
    lists = {"a": ["1", "2"], "b": ["3"]}
    pairs = [("a", "1"), ("a", "2"), ("b", "3")]
    for cls in (MultiDict, ImmutableMultiDict):
        made = multidict_from_lists(cls, {k: list(v) for k, v in lists.items()})
        assert type(made) is cls and made == cls(pairs)
        assert list(made.items(multi=True)) == pairs
        assert made.getlist("a") == ["1", "2"] and made["b"] == "3"
    with pytest.raises(TypeError):
        multidict_from_lists(ImmutableMultiDict, {"a": ["1"]})["a"] = "2"

    class Counting(MultiDict):  # type: ignore[type-arg]
        made = 0

        def __init__(self, mapping: Any = None) -> None:
            Counting.made += 1
            super().__init__(mapping)

    made = multidict_from_lists(Counting, dict(lists))
    assert Counting.made == 1 and list(made.items(multi=True)) == pairs


def test_whole_bodies_parse_like_streams_and_keep_the_limits() -> None:
    data = body(part("a", b"1"), part("f", b"x" * 70_000, filename="f.bin"))
    opts = {"boundary": B.decode()}
    whole = parse_form_data(data, "multipart/form-data", opts)
    streamed = parse_form_data(io.BytesIO(data), "multipart/form-data", opts)
    for form, files in (whole, streamed):
        assert form.to_dict() == {"a": "1"}
        assert files["f"].read() == b"x" * 70_000
        files["f"].close()
    with pytest.raises(RequestEntityTooLarge):
        parse_form_data(data, "multipart/form-data", opts, max_form_parts=1)
    urlencoded = "application/x-www-form-urlencoded"
    with pytest.raises(RequestEntityTooLarge):  # the field limit
        parse_form_data(b"a=" + b"x" * 11, urlencoded, {}, max_form_memory_size=10)
    with pytest.raises(RequestEntityTooLarge):  # the field count
        parse_form_data(b"a&b&c", urlencoded, {}, max_form_parts=2)
    with pytest.raises(RequestEntityTooLarge):  # the total budget
        parse_form_data(
            b"a=1&b=" + b"x" * 30,
            urlencoded,
            {},
            max_content_length=20,
            max_form_memory_size=10,
        )
    assert parse_form_data(b"a=" + b"x" * 11, urlencoded, {})[0]["a"] == "x" * 11


def test_48_content_encoding_is_not_decoded() -> None:
    # BAD_INPUTS 48 is n/a: bodies are not decompressed, so nothing can inflate.
    import gzip

    packed = gzip.compress(b"a=" + b"0" * 100_000)
    form, _ = parse_form_data(
        io.BytesIO(packed), "application/x-www-form-urlencoded", {}
    )
    assert "a" not in form


def test_multipart_names_are_re_exported() -> None:
    # erlen.formparser stays the one import path for every form name.
    import erlen.formparser
    import erlen.multipart

    for name in erlen.multipart.__all__:
        assert getattr(erlen.formparser, name) is getattr(erlen.multipart, name), name
