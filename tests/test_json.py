"""Tests for erlen.json and erlen.json.provider, checked byte for byte against Flask."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import gc
import io
import json
import math
import uuid
import weakref
from types import SimpleNamespace
from typing import Any

import flask
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup
from werkzeug.wrappers import Response

import erlen.json as ejson
from erlen.globals import _cv_ctx
from erlen.json import provider as provider_module
from erlen.json.provider import (
    DefaultJSONProvider,
    JSONProvider,
    OrjsonProvider,
    default_provider_class,
)

try:
    import orjson
except ImportError:  # pragma: no cover
    orjson = None

needs_orjson = pytest.mark.skipif(orjson is None, reason="orjson is not installed")

PROVIDERS = [
    pytest.param(DefaultJSONProvider, id="stdlib"),
    pytest.param(OrjsonProvider, id="orjson", marks=needs_orjson),
]


class FakeApp:
    """The slice of the app a provider uses: ``debug`` and ``response_class``."""

    response_class = Response
    #: Providers hold their app weakly; keep every fake alive for the session.
    alive: list[FakeApp] = []

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        FakeApp.alive.append(self)


@dataclasses.dataclass
class Point:
    y: int
    x: datetime.date


class HasHTML:
    def __html__(self) -> str:
        return "<em>hi</em>"


class Color(enum.Enum):
    RED = "red"


@pytest.fixture(scope="module")
def flask_app() -> flask.Flask:
    return flask.Flask("reference")


def flask_body(
    flask_app: flask.Flask, value: Any, debug: bool = False, **attrs: Any
) -> bytes:
    """Return the body Flask's default provider sends for ``value``."""
    flask_app.debug = debug
    prov = flask_app.json
    saved = {name: getattr(prov, name) for name in attrs}
    try:
        for name, attr in attrs.items():
            setattr(prov, name, attr)
        with flask_app.app_context():
            return prov.response(value).get_data()
    finally:
        for name, attr in saved.items():
            setattr(prov, name, attr)
        flask_app.debug = False


def flask_dumps(flask_app: flask.Flask, value: Any, **kwargs: Any) -> str:
    with flask_app.app_context():
        return flask_app.json.dumps(value, **kwargs)


SAMPLES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**64,
    -(2**63) - 1,
    1.5,
    -0.0,
    1e16,
    1e-5,
    1.5e-7,
    0.000123,
    float("nan"),
    float("inf"),
    -float("inf"),
    "plain",
    'é€😀 and \x00\x1f\x7f"\\/ \u2028',
    "\ud800 lone surrogate",
    [],
    {},
    {"b": 1, "a": [1, 2, {"d": None, "c": "x"}], "e-": "e-mail", "n": "null"},
    {"x": [0.00001, 2.5e-8], "y": "0.0000 in text"},
    (1, "two", 3.0),
    datetime.datetime(2024, 5, 6, 7, 8, 9),
    datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
    datetime.date(2020, 2, 29),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    decimal.Decimal("10.50"),
    Markup("<b>bold</b>"),
    HasHTML(),
    Point(1, datetime.date(2021, 1, 1)),
    {"nested": [Point(2, datetime.date(2022, 3, 4)), {"u": uuid.UUID(int=5)}]},
    {"k": 1.0, "deep": [[[[[[["x"]]]]]]]},
    [{"id": i, "score": i / 7, "name": f"user{i}", "tag": None} for i in range(30)],
]


# -- output parity with Flask -------------------------------------------------------


@pytest.mark.parametrize("provider_class", PROVIDERS)
@pytest.mark.parametrize("debug", [False, True], ids=["compact", "debug"])
def test_response_bytes_equal_flask(
    provider_class: type[DefaultJSONProvider], debug: bool, flask_app: flask.Flask
) -> None:
    prov = provider_class(FakeApp(debug=debug))
    for value in SAMPLES:
        expected = flask_body(flask_app, value, debug=debug)
        assert prov.response_bytes(value) == expected, value
        resp = prov.response(value)
        assert resp.get_data() == expected
        assert resp.mimetype == "application/json"


@pytest.mark.parametrize("provider_class", PROVIDERS)
@pytest.mark.parametrize(
    "attrs",
    [
        {"sort_keys": False},
        {"ensure_ascii": False},
        {"compact": True},
        {"compact": False},
        {"sort_keys": False, "ensure_ascii": False, "compact": False},
    ],
)
def test_settings_changed_after_use_equal_flask(
    provider_class: type[DefaultJSONProvider],
    attrs: dict[str, Any],
    flask_app: flask.Flask,
) -> None:
    app = FakeApp(debug=True)
    prov = provider_class(app)
    value = {"z": "é", "a": [1, None, 1e-7], "m": Markup("<i>")}
    prov.response_bytes(value)  # prepare the encoders with the old settings
    for name, attr in attrs.items():
        setattr(prov, name, attr)
    for value in SAMPLES:
        if attrs.get("ensure_ascii") is False and isinstance(value, str):
            continue  # a lone surrogate cannot be encoded to UTF-8 by either
        expected = flask_body(flask_app, value, debug=True, **attrs)
        assert prov.response_bytes(value) == expected, value


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_debug_is_read_on_each_call(provider_class: type[DefaultJSONProvider]) -> None:
    app = FakeApp(debug=False)
    prov = provider_class(app)
    assert prov.response_bytes({"a": 1}) == b'{"a":1}\n'
    app.debug = True
    assert prov.response_bytes({"a": 1}) == b'{\n  "a": 1\n}\n'
    prov.compact = True
    assert prov.response_bytes({"a": 1}) == b'{"a":1}\n'


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_dumps_equal_flask(
    provider_class: type[DefaultJSONProvider], flask_app: flask.Flask
) -> None:
    prov = provider_class(FakeApp())
    for value in SAMPLES:
        for kwargs in ({}, {"separators": (",", ":")}, {"indent": 4}):
            expected = flask_dumps(flask_app, value, **kwargs)
            assert prov.dumps(value, **kwargs) == expected, (value, kwargs)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None), max_size=12),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=6), children, max_size=5)
        | st.tuples(children, children)
    ),
    max_leaves=25,
)


@needs_orjson
@settings(max_examples=400, deadline=None)
@given(value=json_values, debug=st.booleans(), ensure_ascii=st.booleans())
def test_orjson_output_equals_stdlib_property(
    value: Any, debug: bool, ensure_ascii: bool
) -> None:
    app = FakeApp(debug=debug)
    std, fast = DefaultJSONProvider(app), OrjsonProvider(app)
    std.ensure_ascii = fast.ensure_ascii = ensure_ascii
    try:
        expected: Any = std.response_bytes(value)
    except (UnicodeEncodeError, ValueError) as exc:
        expected = type(exc)
    try:
        got: Any = fast.response_bytes(value)
    except (UnicodeEncodeError, ValueError) as exc:
        got = type(exc)
    assert got == expected


@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_stdlib_output_equals_flask_property(value: Any) -> None:
    reference = flask.Flask("prop")
    prov = DefaultJSONProvider(FakeApp())
    assert prov.response_bytes(value) == flask_body(reference, value)


# -- what the response holds ------------------------------------------------------


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_response_argument_rules(provider_class: type[DefaultJSONProvider]) -> None:
    prov = provider_class(FakeApp())
    assert prov.response().get_data() == b"null\n"
    assert prov.response([1]).get_data() == b"[1]\n"
    assert prov.response(1, "a").get_data() == b'[1,"a"]\n'
    assert prov.response(b=1, a=2).get_data() == b'{"a":2,"b":1}\n'
    with pytest.raises(TypeError, match="either args or kwargs"):
        prov.response(1, a=2)


def test_mimetype_attribute_is_used() -> None:
    prov = DefaultJSONProvider(FakeApp())
    prov.mimetype = "application/vnd.api+json"
    assert prov.response({}).mimetype == "application/vnd.api+json"


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_unserializable_raises_type_error(
    provider_class: type[DefaultJSONProvider],
) -> None:
    prov = provider_class(FakeApp())
    with pytest.raises(
        TypeError, match="Object of type object is not JSON serializable"
    ):
        prov.response_bytes({"a": object()})
    with pytest.raises(TypeError, match="not JSON serializable"):
        prov.dumps(datetime.time(1, 2))
    with pytest.raises(TypeError):
        prov.response_bytes(Point)  # a dataclass type, not an instance


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_circular_reference_raises_value_error(
    provider_class: type[DefaultJSONProvider],
) -> None:
    prov = provider_class(FakeApp())
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        prov.response_bytes(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        prov.dumps({"a": loop})
    # The encoders are still good afterwards.
    assert prov.response_bytes([1]) == b"[1]\n"


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_shared_object_is_not_circular(
    provider_class: type[DefaultJSONProvider],
) -> None:
    shared = {"v": 1}
    prov = provider_class(FakeApp())
    assert prov.response_bytes([shared, shared]) == b'[{"v":1},{"v":1}]\n'


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_custom_default_on_subclass_and_instance(
    provider_class: type[DefaultJSONProvider],
) -> None:
    def as_hex(o: Any) -> Any:
        if isinstance(o, uuid.UUID):
            return o.hex
        if isinstance(o, set):
            return sorted(o)
        raise TypeError(type(o).__name__)

    class SubProvider(provider_class):  # type: ignore[misc,valid-type]
        default = staticmethod(as_hex)

    value = {"u": uuid.UUID(int=255), "s": {3, 1}}
    expected = b'{"s":[1,3],"u":"000000000000000000000000000000ff"}\n'
    assert SubProvider(FakeApp()).response_bytes(value) == expected
    prov = provider_class(FakeApp())
    prov.response_bytes([1])
    prov.default = as_hex
    assert prov.response_bytes(value) == expected


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_overridden_dumps_is_used_for_responses(
    provider_class: type[DefaultJSONProvider],
) -> None:
    calls: list[dict[str, Any]] = []

    class Upper(provider_class):  # type: ignore[misc,valid-type]
        def dumps(self, obj: Any, **kwargs: Any) -> str:
            calls.append(kwargs)
            return super().dumps(obj, **kwargs).upper()

    app = FakeApp()
    prov = Upper(app)
    assert prov.response_bytes({"a": "b"}) == b'{"A":"B"}\n'
    assert calls == [{"separators": (",", ":")}]
    app.debug = True
    assert prov.response({"a": "b"}).get_data() == b'{\n  "A": "B"\n}\n'
    assert calls[-1] == {"indent": 2}


def test_base_provider() -> None:
    class Minimal(JSONProvider):
        def dumps(self, obj: Any, **kwargs: Any) -> str:
            return json.dumps(obj, **kwargs)

        def loads(self, s: str | bytes, **kwargs: Any) -> Any:
            return json.loads(s, **kwargs)

    prov = Minimal(FakeApp())
    resp = prov.response(a=1)
    assert resp.get_data() == b'{"a": 1}'  # no trailing newline in the base class
    assert resp.mimetype == "application/json"
    assert prov.response_bytes([1, 2]) == b"[1, 2]"
    out = io.StringIO()
    prov.dump({"x": 1}, out)
    assert out.getvalue() == '{"x": 1}'
    assert prov.load(io.BytesIO(b'{"x": 2}')) == {"x": 2}
    bare = JSONProvider(FakeApp())
    with pytest.raises(NotImplementedError, match="dumps"):
        bare.dumps(1)
    with pytest.raises(NotImplementedError, match="loads"):
        bare.loads("1")


def test_provider_holds_app_weakly() -> None:
    app = FakeApp()
    FakeApp.alive.remove(app)
    prov = DefaultJSONProvider(app)
    ref = weakref.ref(app)
    del app
    gc.collect()
    assert ref() is None
    with pytest.raises(ReferenceError):
        prov.response_bytes({})


# -- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_loads_text_and_encodings(provider_class: type[DefaultJSONProvider]) -> None:
    prov = provider_class(FakeApp())
    doc = '{"name": "Zoë €", "n": [1, 2.5, null, true]}'
    expected = json.loads(doc)
    assert prov.loads(doc) == expected
    for codec in ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        assert prov.loads(doc.encode(codec)) == expected, codec
    assert prov.loads(bytearray(doc.encode())) == expected
    assert prov.load(io.StringIO(doc)) == expected
    assert prov.load(io.BytesIO(doc.encode("utf-16"))) == expected


@pytest.mark.parametrize("provider_class", PROVIDERS)
@pytest.mark.parametrize(
    "doc",
    [
        "[" * 100_000,
        "{" * 100_000,
        '{"a":' * 100_000,
        b"[" * 100_000,
        "[" * 3000 + "]" * 3000,
        ("[" * 50_000).encode("utf-16"),
    ],
    ids=["lists", "braces", "objects", "bytes", "closed", "utf16"],
)
def test_loads_deep_nesting_is_a_value_error(
    provider_class: type[DefaultJSONProvider], doc: str | bytes
) -> None:
    prov = provider_class(FakeApp())
    with pytest.raises(json.JSONDecodeError):
        prov.loads(doc)
    with pytest.raises(ValueError):
        ejson.loads(doc)


@pytest.mark.parametrize("provider_class", PROVIDERS)
@pytest.mark.parametrize(
    "doc",
    [
        "",
        "{",
        "[1,]",
        "\ufeff{}",
        b"\xff\xfe\x00",
        b'"\xc3\x28"',
        b"\x00\x00\xfe\xff{}",
        "NaN x",
        '{"a" 1}',
        "\x00",
    ],
)
def test_loads_bad_input_raises_value_error(
    provider_class: type[DefaultJSONProvider], doc: str | bytes
) -> None:
    prov = provider_class(FakeApp())
    with pytest.raises(ValueError):
        prov.loads(doc)


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_loads_wrong_type_raises_type_error(
    provider_class: type[DefaultJSONProvider],
) -> None:
    with pytest.raises(TypeError):
        provider_class(FakeApp()).loads(12)  # type: ignore[arg-type]


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_loads_values_that_orjson_reads_differently(
    provider_class: type[DefaultJSONProvider],
) -> None:
    prov = provider_class(FakeApp())
    for doc in (
        "123456789012345678901234567890",
        "-9223372036854775809",
        "18446744073709551616",
        "1e400",
        "NaN",
        "-Infinity",
        '"\\ud800"',
        "\ufeff1".encode(),
        '{"a": 1, "a": 2}',
        "-0",
        "-0.0",
        '"a\\u0000b"',
    ):
        expected = json.loads(doc)
        got = prov.loads(doc)
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(got)
        else:
            assert repr(got) == repr(expected), doc
        assert type(got) is type(expected)


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_loads_passes_keyword_arguments(
    provider_class: type[DefaultJSONProvider],
) -> None:
    prov = provider_class(FakeApp())
    assert prov.loads('{"a": 1.5}', parse_float=decimal.Decimal) == {
        "a": decimal.Decimal("1.5")
    }


json_documents = st.one_of(
    json_values.map(lambda v: json.dumps(v)),
    json_values.map(
        lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ),
    st.text(alphabet='[]{}",:0123456789.eE+-tfnrul \\ua', max_size=40),
    st.binary(max_size=30),
)


@needs_orjson
@settings(max_examples=600, deadline=None)
@given(doc=json_documents)
def test_orjson_loads_equals_stdlib_property(doc: str | bytes) -> None:
    std, fast = DefaultJSONProvider(FakeApp()), OrjsonProvider(FakeApp())
    try:
        expected: Any = repr(std.loads(doc))
    except ValueError:
        expected = ValueError
    try:
        got: Any = repr(fast.loads(doc))
    except ValueError:
        got = ValueError
    assert got == expected


# -- orjson specifics ---------------------------------------------------------------


@needs_orjson
def test_default_provider_class_prefers_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_provider_class() is OrjsonProvider
    monkeypatch.setattr(provider_module, "_orjson", None)
    assert default_provider_class() is DefaultJSONProvider
    with pytest.raises(RuntimeError, match="pip install orjson"):
        OrjsonProvider(FakeApp())


@needs_orjson
def test_orjson_escapes_del_like_stdlib() -> None:
    prov = OrjsonProvider(FakeApp())
    assert prov.response_bytes({"a": "x\x7fy"}) == b'{"a":"x\\u007fy"}\n'
    prov.ensure_ascii = False
    assert prov.response_bytes({"a": "x\x7fy"}) == b'{"a":"x\x7fy"}\n'


@needs_orjson
def test_orjson_enum_is_the_documented_difference() -> None:
    # Flask and the stdlib provider raise TypeError for a plain Enum member;
    # orjson writes its value. docs/json.md lists this difference.
    with pytest.raises(TypeError):
        DefaultJSONProvider(FakeApp()).response_bytes([Color.RED])
    assert OrjsonProvider(FakeApp()).response_bytes([Color.RED]) == b'["red"]\n'


@needs_orjson
def test_only_finite_walk() -> None:
    only_finite = provider_module._only_finite
    assert only_finite({"a": [1, "x", None, True, 1.5, (2, 3.0)]})
    assert not only_finite({"a": [1, {"b": float("nan")}]})
    assert not only_finite([float("-inf")])
    assert not only_finite(float("inf"))
    assert not only_finite({"a": Point(1, datetime.date(2020, 1, 1))})  # unknown type


# -- module-level helpers -------------------------------------------------------------


class RecordingProvider(DefaultJSONProvider):
    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.calls: list[str] = []

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        self.calls.append("dumps")
        return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        self.calls.append("loads")
        return super().loads(s, **kwargs)


@pytest.fixture
def app_context() -> Any:
    app = FakeApp()
    app.json = RecordingProvider(app)  # type: ignore[attr-defined]
    token = _cv_ctx.set(SimpleNamespace(app=app, request=None))  # type: ignore[arg-type]
    try:
        yield app
    finally:
        _cv_ctx.reset(token)


def test_helpers_without_app_use_stdlib_with_flask_defaults(
    flask_app: flask.Flask,
) -> None:
    value = {"b": datetime.date(2020, 1, 2), "a": uuid.UUID(int=1), "c": Markup("<p>")}
    # Outside a context Flask keeps insertion order and default separators.
    assert ejson.dumps(value) == flask.json.dumps(value)
    assert ejson.dumps(value, sort_keys=True, indent=1) == flask.json.dumps(
        value, sort_keys=True, indent=1
    )
    out = io.StringIO()
    ejson.dump(value, out)
    assert out.getvalue() == flask.json.dumps(value)
    assert ejson.loads(b'{"a": [1]}') == {"a": [1]}
    assert ejson.loads('{"a": 1.5}', parse_float=decimal.Decimal) == {
        "a": decimal.Decimal("1.5")
    }
    assert ejson.load(io.BytesIO('"é"'.encode("utf-16"))) == "é"
    with pytest.raises(RuntimeError, match="application context"):
        ejson.jsonify(1)


def test_helpers_in_app_context_use_the_provider(app_context: Any) -> None:
    prov = app_context.json
    assert ejson.dumps({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'  # provider sorts
    assert ejson.loads("[1]") == [1]
    out = io.StringIO()
    ejson.dump([1], out)
    assert ejson.load(io.StringIO("[2]")) == [2]
    assert prov.calls == ["dumps", "loads", "dumps", "loads"]
    resp = ejson.jsonify(x=1)
    assert resp.get_data() == b'{"x":1}\n'
    assert resp.mimetype == "application/json"
    with pytest.raises(ValueError):
        ejson.loads("[" * 100_000)
    with pytest.raises(ValueError):
        ejson.load(io.StringIO("[" * 100_000))


def test_reexports() -> None:
    assert ejson.JSONProvider is JSONProvider
    assert ejson.DefaultJSONProvider is DefaultJSONProvider
    assert set(ejson.__all__) == {
        "DefaultJSONProvider",
        "JSONProvider",
        "dump",
        "dumps",
        "jsonify",
        "load",
        "loads",
    }


@pytest.mark.parametrize("provider_class", PROVIDERS)
def test_response_with_erlen_response_class(
    provider_class: type[DefaultJSONProvider],
) -> None:
    from erlen.wrappers.response import Response as ErlenResponse

    app = FakeApp()
    app.response_class = ErlenResponse  # type: ignore[misc]
    resp = provider_class(app).response({"b": [1, 2], "a": "é"})
    assert isinstance(resp, ErlenResponse)
    assert resp.get_data() == b'{"a":"\\u00e9","b":[1,2]}\n'
    assert resp.mimetype == "application/json"


@pytest.mark.parametrize("debug", [False, True], ids=["compact", "debug"])
def test_end_to_end_bodies_equal_flask(debug: bool, flask_app: flask.Flask) -> None:
    from erlen import Erlen, jsonify

    app = Erlen("erlen_json_e2e")
    app.debug = debug
    value = {"b": [1, None, 1e-5, "é"], "a": uuid.UUID(int=7), "c": Markup("<x>")}

    @app.route("/dict")
    def as_dict() -> Any:
        return value

    @app.route("/jsonify")
    def as_jsonify() -> Any:
        return jsonify(value)

    client = app.test_client()
    expected = flask_body(flask_app, value, debug=debug)
    for path in ("/dict", "/jsonify"):
        response = client.get(path)
        assert response.get_data() == expected, path
        assert response.mimetype == "application/json"
