"""Tests for URL building with erlen.routing.Map.build and its BuildError messages."""

from __future__ import annotations

import uuid

import pytest
import werkzeug.routing
from werkzeug.datastructures import MultiDict

from erlen.routing import BuildError, Map, Rule


@pytest.fixture
def url_map() -> Map:
    return Map(
        [
            Rule("/", endpoint="index"),
            Rule("/all/", defaults={"page": 1}, endpoint="all"),
            Rule("/all/page/<int:page>", endpoint="all"),
            Rule("/user/<int:uid>", endpoint="user", methods=["GET"]),
            Rule("/user/<int:uid>/edit", endpoint="user", methods=["POST"]),
            Rule("/s/<name>", endpoint="s"),
            Rule("/p/<path:p>", endpoint="p"),
            Rule("/u/<uuid:id>", endpoint="uuid"),
            Rule("/y/<int(fixed_digits=4):year>", endpoint="year"),
            Rule("/ws", endpoint="ws", websocket=True),
            Rule("/ws", endpoint="ws_http"),
        ]
    )


def test_simple(url_map):
    assert url_map.build("index") == ("", "/")
    assert url_map.build("user", {"uid": 5}) == ("", "/user/5")
    assert url_map.build("year", {"year": 7}) == ("", "/y/0007")
    uid = uuid.UUID(int=1)
    assert url_map.build("uuid", {"id": uid}) == ("", f"/u/{uid}")


def test_defaults_are_left_out(url_map):
    assert url_map.build("all") == ("", "/all/")
    assert url_map.build("all", {"page": 1}) == ("", "/all/")
    assert url_map.build("all", {"page": 2}) == ("", "/all/page/2")


def test_unknown_values_go_to_the_query(url_map):
    assert url_map.build("s", {"name": "n", "q": "x y", "n": None, "k": [1, 2]}) == (
        "",
        "/s/n?q=x+y&k=1&k=2",
    )
    assert url_map.build("s", {"name": "n", "k": (1, None, "ü")}) == (
        "",
        "/s/n?k=1&k=%C3%BC",
    )
    assert url_map.build("s", {"name": "n", "e": "", "b": True}) == (
        "",
        "/s/n?e=&b=True",
    )
    assert url_map.build("s", {"name": "n", "z": "a&b=c#d"}) == (
        "",
        "/s/n?z=a%26b%3Dc%23d",
    )
    assert url_map.build("s", {"name": "n", b"raw": b"b y"}) == ("", "/s/n?raw=b+y")


def test_append_unknown_off(url_map):
    assert url_map.build("s", {"name": "n", "q": "x"}, append_unknown=False) == (
        "",
        "/s/n",
    )


def test_multidict_values(url_map):
    values = MultiDict([("name", "n"), ("k", "1"), ("k", "2"), ("one", "x")])
    assert url_map.build("s", values) == ("", "/s/n?k=1&k=2&one=x")


def test_sort_parameters():
    url_map = Map([Rule("/", endpoint="i")], sort_parameters=True)
    assert url_map.build("i", {"b": 1, "a": 2}) == ("", "/?a=2&b=1")
    url_map = Map(
        [Rule("/", endpoint="i")], sort_parameters=True, sort_key=lambda kv: -kv[1]
    )
    assert url_map.build("i", {"b": 1, "a": 2}) == ("", "/?a=2&b=1")


def test_quoting(url_map):
    assert url_map.build("s", {"name": "a b/ü?#%"}) == ("", "/s/a%20b/%C3%BC%3F%23%25")
    assert url_map.build("p", {"p": "dir one/ö.txt"}) == ("", "/p/dir%20one/%C3%B6.txt")
    assert url_map.build("s", {"name": "!$&'()*+,:;=@"}) == ("", "/s/!$&'()*+,:;=@")


def test_static_text_is_quoted():
    url_map = Map([Rule("/a b/ü", endpoint="e")])
    assert url_map.build("e") == ("", "/a%20b/%C3%BC")
    assert url_map.match("/a b/ü", "GET")[0].endpoint == "e"


def test_method_selects_the_rule(url_map):
    assert url_map.build("user", {"uid": 1}, "POST") == ("", "/user/1/edit")
    assert url_map.build("user", {"uid": 1}) == ("", "/user/1")
    assert url_map.build("user", {"uid": 1}, default_method="POST") == (
        "",
        "/user/1/edit",
    )
    assert url_map.build("user", {"uid": 1}, default_method=None) == ("", "/user/1")


def test_websocket_filter(url_map):
    assert url_map.build_rule("ws", websocket=True)[0].websocket
    with pytest.raises(BuildError, match="no HTTP rule"):
        url_map.build("ws", websocket=False)
    rule, domain, path = url_map.build_rule("ws")
    assert (rule.websocket, domain, path) == (True, "", "/ws")


def test_subdomain_building():
    url_map = Map(
        [
            Rule("/", subdomain="<user>", endpoint="home"),
            Rule("/x", endpoint="x"),
            Rule("/api", subdomain="api", endpoint="api"),
        ]
    )
    assert url_map.build("home", {"user": "bob"}) == ("bob", "/")
    assert url_map.build("x") == ("", "/x")
    assert url_map.build("api") == ("api", "/api")


def test_host_building_prefers_the_given_host():
    url_map = Map(
        [
            Rule("/", host="a.example.com", endpoint="home"),
            Rule("/", host="b.example.com", endpoint="home"),
            Rule("/<n>", host="<sub>.example.com", endpoint="sub"),
        ],
        host_matching=True,
    )
    assert url_map.build("home") == ("a.example.com", "/")
    assert url_map.build("home", host="b.example.com") == ("b.example.com", "/")
    assert url_map.build("home", host="c.example.com") == ("a.example.com", "/")
    assert url_map.build("sub", {"sub": "x", "n": 1}) == ("x.example.com", "/1")


def test_default_in_the_rule_path_is_constant():
    url_map = Map([Rule("/<lang>/x", defaults={"lang": "en"}, endpoint="x")])
    assert url_map.build("x") == ("", "/en/x")
    assert url_map.build("x", {"lang": "en"}) == ("", "/en/x")
    with pytest.raises(BuildError):
        url_map.build("x", {"lang": "de"})


def test_rules_added_later_are_buildable():
    url_map = Map([Rule("/a", endpoint="a")])
    assert url_map.build("a") == ("", "/a")
    url_map.add(Rule("/b", endpoint="b"))
    assert url_map.build("b") == ("", "/b")


# -- BuildError -------------------------------------------------------------------


def test_build_error_is_werkzeugs(url_map):
    with pytest.raises(werkzeug.routing.BuildError) as info:
        url_map.build("user", {})
    error = info.value
    assert isinstance(error, LookupError)
    assert error.endpoint == "user"
    assert error.values == {}
    assert error.method is None


def test_build_error_missing_values(url_map):
    with pytest.raises(BuildError) as info:
        url_map.build("user", {"x": 1})
    message = str(info.value)
    assert "Could not build url for endpoint 'user' with values ['x']." in message
    assert "Did you forget to specify values ['uid']?" in message
    assert info.value.suggested is not None
    assert info.value.suggested.endpoint == "user"


def test_build_error_wrong_method(url_map):
    with pytest.raises(BuildError) as info:
        url_map.build("user", {"uid": 1}, "DELETE")
    message = str(info.value)
    assert "('DELETE')" in message
    assert "Did you mean to use methods ['GET', 'HEAD', 'POST']?" in message


def test_build_error_unknown_endpoint(url_map):
    with pytest.raises(BuildError, match="Did you mean 'user' instead"):
        url_map.build("usr")
    with pytest.raises(BuildError, match="No URL rule is registered"):
        url_map.build("zzzzzzzzzz")
    with pytest.raises(BuildError, match="No URL rule is registered"):
        Map().build("x")


def test_build_error_conflicting_default():
    url_map = Map([Rule("/", defaults={"page": 1}, endpoint="e")])
    with pytest.raises(
        BuildError, match=r"The values \['page'\] differ from the defaults"
    ):
        url_map.build("e", {"page": 2})


def test_build_error_converter_refused():
    from erlen.routing import BaseConverter, ValidationError

    class Never(BaseConverter):
        def to_url(self, value):
            raise ValidationError()

    url_map = Map([Rule("/<never:x>", endpoint="e")], converters={"never": Never})
    with pytest.raises(BuildError, match="converter rejected"):
        url_map.build("e", {"x": 1})


def test_any_converter_error_propagates():
    url_map = Map([Rule("/<any(a, b):x>", endpoint="e")])
    assert url_map.build("e", {"x": "a"}) == ("", "/a")
    with pytest.raises(ValueError, match="'c' is not one of 'a', 'b'"):
        url_map.build("e", {"x": "c"})


def test_build_error_message_without_werkzeug_adapter():
    error = BuildError("e", {"a": 1}, "GET")
    assert str(error) == (
        "Could not build url for endpoint 'e' ('GET') with values ['a']."
        " No URL rule is registered for this endpoint."
    )
    assert error.suggested is None


def test_build_error_missing_values_for_a_method(url_map):
    with pytest.raises(BuildError, match=r"forget to specify values \['uid'\]"):
        url_map.build("user", {}, "POST")
