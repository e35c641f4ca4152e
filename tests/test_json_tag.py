"""Tests for erlen.json.tag: the tagged JSON wire format, checked against Flask's."""

from __future__ import annotations

import datetime
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import flask
import pytest
from flask.json.tag import TaggedJSONSerializer as FlaskSerializer
from markupsafe import Markup
from werkzeug.wrappers import Response

from erlen.globals import _cv_ctx
from erlen.json.provider import DefaultJSONProvider
from erlen.json.tag import JSONTag, PassDict, TaggedJSONSerializer

UTC = datetime.UTC

VALUES: list[Any] = [
    ("a", 1, (2, 3)),
    b"\x00\xffbytes",
    Markup("<b>safe</b>"),
    UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
    datetime.datetime(2024, 2, 29, 13, 14, 15, tzinfo=UTC),
    {"nested": {"list": [1, (b"x", Markup("<i>"))], "n": None, "f": 1.5}},
    [{"a": [1, 2]}, [[]], {}],
    {" t": "a dict whose only key looks like a tag"},
    {" di": {" t": [1]}},
    {" b": b"bytes under a tag-like key"},
    {" t": 1, "other": 2},  # two keys: never mistaken for a tag
    {" unknown": 5},
    "plain",
    17,
    None,
    True,
    [" t", " di"],
    {"ünï": "cødé €", "emoji": "😀"},
    # Dicts of plain values (the serializer's shortcut) and their near misses.
    {},
    {"count": 2},
    {"a": 1.5, "b": None, "c": True, "d": "x", "e": 10**20, "f": False},
    {" di": "a plain value under a tag's key"},
    {" x": 1},
    {"html": Markup("<b>markup is a str subclass</b>")},
    {"tuple": (1,)},
]


@pytest.fixture(scope="module")
def flask_app() -> flask.Flask:
    return flask.Flask("reference")


def _same(a: Any, b: Any) -> bool:
    """Compare values including their types (a tuple is not a list here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    return bool(a == b)


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_same_text_as_flask_outside_app(value: Any) -> None:
    assert TaggedJSONSerializer().dumps(value) == FlaskSerializer().dumps(value)


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_same_text_as_flask_in_app_context(value: Any, flask_app: flask.Flask) -> None:
    class App:
        debug = False
        response_class = Response

    app = App()
    app.json = DefaultJSONProvider(app)  # type: ignore[attr-defined]
    with flask_app.app_context():
        expected = FlaskSerializer().dumps(value)
    token = _cv_ctx.set(SimpleNamespace(app=app, request=None))  # type: ignore[arg-type]
    try:
        assert TaggedJSONSerializer().dumps(value) == expected
    finally:
        _cv_ctx.reset(token)


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_round_trip_both_directions(value: Any) -> None:
    ours, theirs = TaggedJSONSerializer(), FlaskSerializer()
    assert _same(ours.loads(ours.dumps(value)), value)
    assert _same(theirs.loads(ours.dumps(value)), value)
    assert _same(ours.loads(theirs.dumps(value)), value)


def test_wire_format() -> None:
    s = TaggedJSONSerializer()
    assert s.dumps((1, 2)) == '{" t":[1,2]}'
    assert s.dumps(b"hi") == '{" b":"aGk="}'
    assert s.dumps(Markup("<p>")) == '{" m":"<p>"}'
    assert s.dumps(UUID(int=1)) == '{" u":"00000000000000000000000000000001"}'
    dt = datetime.datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert s.dumps(dt) == '{" d":"Sat, 02 Jan 2021 03:04:05 GMT"}'
    assert s.dumps({" t": (1,)}) == '{" di":{" t__":{" t":[1]}}}'
    assert s.loads('{" di":{" t__":{" t":[1]}}}') == {" t": (1,)}


def test_datetime_loses_microseconds_and_becomes_aware_utc() -> None:
    s = TaggedJSONSerializer()
    naive = datetime.datetime(2020, 5, 1, 10, 0, 0, 123456)
    got = s.loads(s.dumps(naive))
    assert got == datetime.datetime(2020, 5, 1, 10, 0, 0, tzinfo=UTC)


def test_default_tag_order_matches_flask() -> None:
    ours = [(type(t).__name__, t.key) for t in TaggedJSONSerializer().order]
    theirs = [(type(t).__name__, t.key) for t in FlaskSerializer().order]
    assert ours == theirs
    assert set(TaggedJSONSerializer().tags) == {" di", " t", " b", " m", " u", " d"}


class TagOrderedDict(JSONTag):
    __slots__ = ()
    key = " od"

    def check(self, value: Any) -> bool:
        return isinstance(value, OrderedDict)

    def to_json(self, value: Any) -> Any:
        return [[k, self.serializer.tag(v)] for k, v in value.items()]

    def to_python(self, value: Any) -> Any:
        return OrderedDict(value)


def test_register_custom_tag_with_index() -> None:
    s = TaggedJSONSerializer()
    s.register(TagOrderedDict, index=0)
    value = OrderedDict([("b", 1), ("a", (2,))])
    text = s.dumps(value)
    assert text == '{" od":[["b",1],["a",{" t":[2]}]]}'
    got = s.loads(text)
    assert type(got) is OrderedDict and list(got.items()) == [("b", 1), ("a", (2,))]


def test_register_duplicate_key_needs_force() -> None:
    s = TaggedJSONSerializer()

    class OtherTuple(JSONTag):
        key = " t"

        def check(self, value: Any) -> bool:
            return False

    with pytest.raises(KeyError, match="already registered"):
        s.register(OtherTuple)
    s.register(OtherTuple, force=True)
    assert isinstance(s.tags[" t"], OtherTuple)


def test_custom_tag_may_claim_plain_values() -> None:
    class TagShout(JSONTag):
        key = " s"

        def check(self, value: Any) -> bool:
            return isinstance(value, str) and value.isupper()

        def to_json(self, value: Any) -> Any:
            return value.lower()

        def to_python(self, value: Any) -> Any:
            return value.upper()

    s = TaggedJSONSerializer()
    s.register(TagShout, index=0)
    assert s.dumps(["HI", "lo"]) == '[{" s":"hi"},"lo"]'
    assert s.loads(s.dumps(["HI", "lo"])) == ["HI", "lo"]


def test_keyless_tag_and_base_class() -> None:
    s = TaggedJSONSerializer()
    pass_dict = next(t for t in s.order if isinstance(t, PassDict))
    assert pass_dict.key == ""
    assert pass_dict.tag({"a": (1,)}) == {"a": {" t": [1]}}
    bare = JSONTag(s)
    for method in (bare.check, bare.to_json, bare.to_python):
        with pytest.raises(NotImplementedError):
            method(1)


def test_untag_leaves_non_tags_alone() -> None:
    s = TaggedJSONSerializer()
    assert s.untag({" nope": 1}) == {" nope": 1}
    assert s.untag({"a": 1, "b": 2}) == {"a": 1, "b": 2}
    assert s.untag({" t": [1]}) == (1,)


def test_loads_accepts_bytes() -> None:
    assert TaggedJSONSerializer().loads(b'{" t":[1]}') == (1,)


def test_overridden_tag_and_untag_see_plain_dicts() -> None:
    class Upper(TaggedJSONSerializer):
        def tag(self, value: Any) -> Any:
            if isinstance(value, str):
                return value.upper()
            return super().tag(value)

    assert Upper().dumps({"a": "x", "b": 1}) == '{"a":"X","b":1}'

    seen: list[Any] = []

    class Watch(TaggedJSONSerializer):
        def untag(self, value: dict[str, Any]) -> Any:
            seen.append(value)
            return super().untag(value)

    assert Watch().loads('{"a":"x"}') == {"a": "x"}
    assert Watch().loads('{"a":1,"b":2}') == {"a": 1, "b": 2}
    assert seen == [{"a": "x"}, {"a": 1, "b": 2}]


def test_plain_dict_shortcut_stops_after_register() -> None:
    class TagLower(JSONTag):
        key = " l"

        def check(self, value: Any) -> bool:
            return isinstance(value, str) and value.islower()

        def to_json(self, value: Any) -> Any:
            return value.upper()

        def to_python(self, value: Any) -> Any:
            return value.lower()

    s = TaggedJSONSerializer()
    assert s.dumps({"a": "x"}) == '{"a":"x"}'
    s.register(TagLower, index=0)
    assert s.dumps({"a": "x"}) == '{"a":{" l":"X"}}'
    assert s.loads('{" l":"X"}') == "x"
    assert s.loads('{"a":{" l":"X"}}') == {"a": "x"}


def test_non_string_keys_are_written_as_flask_writes_them() -> None:
    value = {1: "an int key", 2.5: None, False: 1}
    assert TaggedJSONSerializer().dumps(value) == FlaskSerializer().dumps(value)
