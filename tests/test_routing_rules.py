"""Tests for erlen.routing.rules: parsing rule strings, attributes, errors."""

from __future__ import annotations

import pytest

from erlen.routing import Map, Rule
from erlen.routing.rules import tokenize


def bound(rule: Rule, **map_kwargs) -> Rule:
    Map([rule], **map_kwargs)
    return rule


# -- attributes -----------------------------------------------------------------


def test_attributes_of_a_new_rule():
    rule = Rule("/user/<int:uid>", endpoint="user", methods=["get", "post"])
    assert rule.rule == "/user/<int:uid>"
    assert rule.endpoint == "user"
    assert rule.methods == frozenset({"GET", "HEAD", "POST"})
    assert isinstance(rule.methods, frozenset)
    assert rule.arguments == {"uid"}
    assert rule.defaults is None
    assert rule.map is None
    assert rule.strict_slashes is None
    assert rule.merge_slashes is None
    assert rule.subdomain is None
    assert rule.host is None
    assert rule.redirect_to is None
    assert rule.websocket is False
    assert rule.build_only is False
    assert rule.alias is False
    assert rule.provide_automatic_options is None
    assert rule.is_leaf and not rule.is_branch
    assert str(rule) == "/user/<int:uid>"


def test_head_added_only_with_get():
    assert Rule("/", methods=["GET"]).methods == {"GET", "HEAD"}
    assert Rule("/", methods=["POST"]).methods == {"POST"}
    assert Rule("/").methods is None


def test_methods_as_a_string_is_a_type_error():
    with pytest.raises(TypeError, match="list of strings"):
        Rule("/", methods="GET")


def test_websocket_rules_only_allow_get_head_options():
    assert Rule("/ws", websocket=True, methods=["GET", "OPTIONS"]).websocket
    with pytest.raises(ValueError, match="WebSocket rules"):
        Rule("/ws", websocket=True, methods=["POST"])


def test_arguments_include_defaults_and_subdomain_variables():
    rule = Rule("/<a>/<int:b>", defaults={"c": 1}, subdomain="<user>", endpoint="e")
    assert rule.arguments == {"a", "b", "c"}
    bound(rule)
    assert rule.arguments == {"a", "b", "c", "user"}


def test_bind_fills_in_map_settings():
    url_map = Map(strict_slashes=False, merge_slashes=False, default_subdomain="www")
    rule = Rule("/x", endpoint="x")
    url_map.add(rule)
    assert rule.map is url_map
    assert rule.strict_slashes is False
    assert rule.merge_slashes is False
    assert rule.subdomain == "www"
    own = Rule(
        "/y", endpoint="y", strict_slashes=True, merge_slashes=True, subdomain=""
    )
    url_map.add(own)
    assert (own.strict_slashes, own.merge_slashes, own.subdomain) == (True, True, "")


def test_rule_cannot_join_two_maps():
    rule = bound(Rule("/x", endpoint="x"))
    with pytest.raises(RuntimeError, match="already bound"):
        Map([rule])


def test_repr():
    rule = Rule("/user/<int:uid>", endpoint="user", methods=["GET", "OPTIONS"])
    assert repr(rule) == "<Rule '/user/<int:uid>' (GET, HEAD, OPTIONS) -> user>"
    assert repr(Rule("/", endpoint="index")) == "<Rule '/' -> index>"
    sub = bound(Rule("/", endpoint="i", subdomain="<u>"))
    assert repr(sub) == "<Rule '<u>|/' -> i>"


# -- parse errors ---------------------------------------------------------------


@pytest.mark.parametrize("string", ["", "user", "<a>/"])
def test_rule_must_start_with_a_slash(string):
    with pytest.raises(ValueError, match="must start with a slash"):
        Rule(string)


@pytest.mark.parametrize(
    ("string", "reason"),
    [
        ("/<a", "expected '>'"),
        ("/<>", "expected a name after '<'"),
        ("/<1a>", "expected a name after '<'"),
        ("/<int:>", "expected a variable name after ':'"),
        ("/<int(3):>", "expected a variable name after ':'"),
        ("/<int(3)a>", "expected ':name' after converter arguments"),
        ("/<int(3:a>", "unclosed '\\('"),
        ("/<a b>", "expected '>'"),
    ],
)
def test_malformed_rules(string, reason):
    with pytest.raises(ValueError, match=f"malformed url rule.*{reason}"):
        Rule(string)


def test_malformed_rule_message_says_how_to_write_variables():
    with pytest.raises(ValueError, match="<converter:name>"):
        Rule("/<a")


def test_duplicate_variable_names():
    with pytest.raises(ValueError, match="'a' used twice"):
        Rule("/<a>/<int:a>")


def test_duplicate_variable_in_subdomain_and_path():
    with pytest.raises(ValueError, match="'a' used twice"):
        Map([Rule("/<a>", subdomain="<a>", endpoint="e")])


def test_unknown_converter_is_a_lookup_error():
    with pytest.raises(LookupError, match="the converter 'nope' does not exist"):
        Map([Rule("/<nope:x>", endpoint="e")])


def test_bad_converter_arguments():
    with pytest.raises(ValueError, match="converter argument"):
        Rule("/<int(x y):n>")


def test_redirect_to_placeholders_must_be_variables():
    with pytest.raises(ValueError, match=r"\['other'\]"):
        Rule("/<a>", redirect_to="/x/<other>")
    assert Rule("/<a>", defaults={"b": 1}, redirect_to="/x/<a>/<b>").redirect_to


def test_converter_regex_that_does_not_compile():
    from erlen.routing import BaseConverter

    class Broken(BaseConverter):
        regex = "(?<=a+)b"  # variable-width look-behind

    with pytest.raises(ValueError, match=r"converter regex .* does not compile"):
        Map([Rule("/<broken:x>", endpoint="e")], converters={"broken": Broken})


def test_converter_regex_that_only_compiles_alone():
    from erlen.routing import BaseConverter

    class Flagged(BaseConverter):
        regex = "(?i)abc"  # global flags are only allowed at the very start

    with pytest.raises(ValueError, match="does not compile to a regex"):
        Map([Rule("/<flagged:x>", endpoint="e")], converters={"flagged": Flagged})


def test_greater_than_alone_is_static_text():
    rule = bound(Rule("/a>b", endpoint="e"))
    assert rule.arguments == set()
    assert rule.map is not None
    assert rule.map.match("/a>b", "GET")[0] is rule


# -- tokenizer ------------------------------------------------------------------


def test_tokenize():
    pieces = tokenize("/a/<int(min=1):b>.json/<c>")
    assert pieces[0] == "/a/"
    assert (pieces[1].name, pieces[1].converter, pieces[1].kwargs) == (
        "b",
        "int",
        {"min": 1},
    )
    assert pieces[2] == ".json/"
    assert (pieces[3].name, pieces[3].converter) == ("c", "default")


def test_tokenize_converter_arguments_with_parenthesis_in_quotes():
    (_, var) = tokenize("/<any('a)b', c):x>")
    assert var.args == ("a)b", "c")


def test_merge_slashes_applies_to_the_rule_string():
    rule = bound(Rule("/a//b", endpoint="e"))
    assert rule.map is not None
    assert rule.map.match("/a/b", "GET")[0] is rule
    assert rule.map.build("e") == ("", "/a/b")
    keep = bound(Rule("/a//b", endpoint="e", merge_slashes=False))
    assert keep.map is not None
    assert keep.map.build("e") == ("", "/a//b")
