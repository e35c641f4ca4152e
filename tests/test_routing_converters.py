"""Tests for erlen.routing.converters: each converter's options and the argument parser."""

from __future__ import annotations

import uuid

import pytest
import werkzeug.routing
from werkzeug.exceptions import NotFound

from erlen.routing import (
    AnyConverter,
    BaseConverter,
    FloatConverter,
    IntegerConverter,
    Map,
    PathConverter,
    Rule,
    UnicodeConverter,
    UUIDConverter,
    ValidationError,
)
from erlen.routing.converters import parse_converter_args, quote_path


def match(rule: str, path: str, **map_kwargs):
    """Match *path* against a one-rule map; return the values."""
    url_map = Map([Rule(rule, endpoint="e")], **map_kwargs)
    return url_map.match(path, "GET")[1]


def no_match(rule: str, path: str) -> None:
    url_map = Map([Rule(rule, endpoint="e")])
    with pytest.raises(NotFound):
        url_map.match(path, "GET")


# -- BaseConverter contract -----------------------------------------------------


def test_base_converter_defaults():
    conv = BaseConverter(None)  # type: ignore[arg-type]
    assert conv.regex == "[^/]+"
    assert conv.weight == 100
    assert conv.part_isolating is True
    assert conv.to_python("x y") == "x y"
    assert conv.to_url("a b/ü?#") == "a%20b/%C3%BC%3F%23"
    assert conv.to_url(5) == "5"


def test_to_url_keeps_path_safe_characters():
    assert quote_path("!$&'()*+,/:;=@-._~") == "!$&'()*+,/:;=@-._~"
    assert quote_path("%") == "%25"


def test_subclass_regex_with_slash_is_not_part_isolating():
    class Slashy(BaseConverter):
        regex = "[a-z/]+"

    class Plain(BaseConverter):
        regex = "[a-z]+"

    class Explicit(BaseConverter):
        regex = "[a-z/]+"
        part_isolating = True

    assert Slashy.part_isolating is False
    assert Plain.part_isolating is True
    assert Explicit.part_isolating is True


# -- string ---------------------------------------------------------------------


def test_string_default_matches_one_segment():
    assert match("/<name>", "/ab c") == {"name": "ab c"}
    no_match("/<name>", "/a/b")
    no_match("/<name>", "/")


def test_string_length_options():
    assert match("/<string(length=2):c>", "/de") == {"c": "de"}
    no_match("/<string(length=2):c>", "/d")
    no_match("/<string(length=2):c>", "/deu")
    assert match("/<string(minlength=2, maxlength=3):c>", "/abc") == {"c": "abc"}
    no_match("/<string(minlength=2, maxlength=3):c>", "/a")
    no_match("/<string(minlength=2, maxlength=3):c>", "/abcd")
    assert UnicodeConverter(None, maxlength=4).regex == "[^/]{1,4}"  # type: ignore[arg-type]


# -- path -----------------------------------------------------------------------


def test_path_matches_slashes():
    assert PathConverter.part_isolating is False
    assert PathConverter.weight == 200
    assert match("/f/<path:p>", "/f/a/b/c.txt") == {"p": "a/b/c.txt"}
    assert match("/f/<path:p>/edit", "/f/a/b/edit") == {"p": "a/b"}
    no_match("/f/<path:p>", "/f/")


# -- int ------------------------------------------------------------------------


def test_int_basic_and_weight():
    assert IntegerConverter.weight == 50
    assert match("/<int:n>", "/42") == {"n": 42}
    assert match("/<int:n>", "/007") == {"n": 7}
    no_match("/<int:n>", "/-1")
    no_match("/<int:n>", "/1.5")
    no_match("/<int:n>", "/x")


def test_int_signed():
    assert match("/<int(signed=True):n>", "/-5") == {"n": -5}
    assert match("/<int(signed=True):n>", "/5") == {"n": 5}


def test_int_fixed_digits_min_max():
    assert match("/<int(fixed_digits=4):y>", "/2024") == {"y": 2024}
    no_match("/<int(fixed_digits=4):y>", "/224")
    assert match("/<int(min=1, max=10):n>", "/10") == {"n": 10}
    no_match("/<int(min=1, max=10):n>", "/0")
    no_match("/<int(min=1, max=10):n>", "/11")
    conv = IntegerConverter(None, fixed_digits=3)  # type: ignore[arg-type]
    assert conv.to_url(7) == "007"


def test_int_rejects_non_ascii_digits():
    # Werkzeug's \d accepts U+0661 (Arabic-Indic one) as 1; erlen does not, so a
    # path-based rule in front of the app cannot be bypassed by another spelling.
    no_match("/<int:n>", "/\u0661")
    no_match("/<float:x>", "/\u0661.5")


def test_int_to_python_rejects_bad_text_from_a_custom_regex():
    class Loose(IntegerConverter):
        regex = "[0-9a-z]+"

    url_map = Map(
        [Rule("/<loose:n>", endpoint="n"), Rule("/<s>", endpoint="s")],
        converters={"loose": Loose},
    )
    assert url_map.match("/12", "GET")[1] == {"n": 12}
    assert url_map.match("/1a", "GET")[0].endpoint == "s"


# -- float ----------------------------------------------------------------------


def test_float():
    assert match("/<float:x>", "/1.5") == {"x": 1.5}
    no_match("/<float:x>", "/1")
    no_match("/<float:x>", "/-1.5")
    assert match("/<float(signed=True):x>", "/-1.5") == {"x": -1.5}
    no_match("/<float(max=2.0):x>", "/2.5")
    assert match("/<float(min=0.5):x>", "/0.5") == {"x": 0.5}
    assert FloatConverter(None).to_url(2) == "2.0"  # type: ignore[arg-type]


# -- uuid -----------------------------------------------------------------------


def test_uuid():
    text = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
    assert match("/<uuid:u>", f"/{text}") == {"u": uuid.UUID(text)}
    assert match("/<uuid:u>", f"/{text.upper()}") == {"u": uuid.UUID(text)}
    no_match("/<uuid:u>", "/6ba7b810-9dad-11d1-80b4")
    assert UUIDConverter(None).to_url(uuid.UUID(text)) == text  # type: ignore[arg-type]


# -- any ------------------------------------------------------------------------


def test_any():
    rule = "/<any(about, help, 'x y', \"a,b\"):page>"
    for page in ("about", "help", "x y", "a,b"):
        assert match(rule, f"/{page}") == {"page": page}
    no_match(rule, "/other")
    no_match(rule, "/aboutx")
    conv = AnyConverter(None, "a", "b c")  # type: ignore[arg-type]
    assert conv.to_url("b c") == "b%20c"
    with pytest.raises(ValueError, match="'z' is not one of 'a', 'b c'"):
        conv.to_url("z")


def test_any_needs_items():
    with pytest.raises(ValueError, match="at least one item"):
        AnyConverter(None)  # type: ignore[arg-type]


# -- ValidationError and custom converters ----------------------------------------


class EvenConverter(werkzeug.routing.BaseConverter):
    """A converter written for Flask: subclasses Werkzeug's BaseConverter."""

    regex = r"\d+"

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, *args, **kwargs)
        self.args = args
        self.kwargs = kwargs

    def to_python(self, value):
        number = int(value)
        if number % 2:
            raise werkzeug.routing.ValidationError()
        return number

    def to_url(self, value):
        return str(value)


def test_validation_error_is_werkzeugs():
    assert ValidationError is werkzeug.routing.ValidationError


def test_werkzeug_converter_works_unchanged():
    url_map = Map()
    url_map.converters["even"] = EvenConverter
    url_map.add(Rule("/n/<even(1, 'a', k=True):n>", endpoint="even"))
    url_map.add(Rule("/n/<n>", endpoint="other"))
    rule, values = url_map.match("/n/4", "GET")
    assert (rule.endpoint, values) == ("even", {"n": 4})
    assert rule._converters["n"].args == (1, "a")
    assert rule._converters["n"].kwargs == {"k": True}
    assert url_map.build("even", {"n": 6}) == ("", "/n/6")


def test_validation_error_falls_through_to_the_next_rule():
    # Documented by Werkzeug ("the next URL is tried"); Werkzeug 3.1 gives 404.
    url_map = Map(
        [Rule("/n/<even:n>", endpoint="even"), Rule("/n/<n>", endpoint="other")],
        converters={"even": EvenConverter},
    )
    rule, values = url_map.match("/n/3", "GET")
    assert (rule.endpoint, values) == ("other", {"n": "3"})


def test_validation_error_with_no_next_rule_is_404():
    url_map = Map(
        [Rule("/n/<even:n>", endpoint="even")], converters={"even": EvenConverter}
    )
    with pytest.raises(NotFound):
        url_map.match("/n/3", "GET")


def test_validation_error_in_to_url_skips_the_rule_when_building():
    class Picky(BaseConverter):
        def to_url(self, value):
            if value == "bad":
                raise ValidationError()
            return super().to_url(value)

    url_map = Map(
        [Rule("/a/<picky:x>", endpoint="e"), Rule("/b/<x>", endpoint="e")],
        converters={"picky": Picky},
    )
    assert url_map.build("e", {"x": "good"}) == ("", "/a/good")
    assert url_map.build("e", {"x": "bad"}) == ("", "/b/bad")


def test_converter_with_inner_groups():
    class Pair(BaseConverter):
        regex = r"(\d+)-(\d+)"

        def to_python(self, value):
            return tuple(int(x) for x in value.split("-"))

    url_map = Map(
        [Rule("/p/<pair:a>/<int:b>", endpoint="p"), Rule("/q/<pair:a>", endpoint="q")],
        converters={"pair": Pair},
    )
    assert url_map.match("/p/1-2/3", "GET")[1] == {"a": (1, 2), "b": 3}
    assert url_map.match("/q/4-5", "GET")[1] == {"a": (4, 5)}


def test_converter_with_named_groups_is_refused():
    class Named(BaseConverter):
        regex = r"(?P<x>\d+)"

    url_map = Map(converters={"named": Named})
    with pytest.raises(ValueError, match="named groups"):
        url_map.add(Rule("/<named:v>", endpoint="e"))


def test_converter_rejecting_its_arguments():
    url_map = Map()
    with pytest.raises(TypeError, match="does not accept the arguments"):
        url_map.add(Rule("/<int(bogus=1):v>", endpoint="e"))


# -- argument parser ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ((), {})),
        ("about, help", (("about", "help"), {})),
        ("1, 2.5, -3, True, False, None", ((1, 2.5, -3, True, False, None), {})),
        ("'x y', \"a,b\", u'u', r\"r\"", (("x y", "a,b", "u", "r"), {})),
        ("min=1, signed=True", ((), {"min": 1, "signed": True})),
        ("  a ,b  ,  k = 'v' ", (("a", "b"), {"k": "v"})),
        ("foo.bar, 1e3, user", (("foo.bar", 1000.0, "user"), {})),
        ("'True', '1'", (("True", "1"), {})),
        ("a,", (("a",), {})),
    ],
)
def test_parse_converter_args(text, expected):
    assert parse_converter_args(text) == expected


@pytest.mark.parametrize("text", ["x y", "'open", "a b=1", "=1", "a;b", "(x)"])
def test_parse_converter_args_errors(text):
    with pytest.raises(ValueError, match=r"converter argument|Unterminated"):
        parse_converter_args(text)


def test_parse_converter_args_is_linear():
    # A long argument list parses in one pass (no backtracking blow-up).
    text = ", ".join(["'a'"] * 20000)
    args, _ = parse_converter_args(text)
    assert len(args) == 20000
