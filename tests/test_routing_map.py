"""Tests for erlen.routing.map: matching decisions, redirects, fast-path tables."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import BadRequest, MethodNotAllowed, NotFound

from erlen.routing import Map, RedirectRequired, Rule, WebsocketMismatch


def endpoint(url_map: Map, path: str, method: str = "GET", **kwargs) -> object:
    return url_map.match(path, method, **kwargs)[0].endpoint


def redirect_of(url_map: Map, path: str, method: str = "GET", **kwargs) -> str:
    with pytest.raises(RedirectRequired) as info:
        url_map.match(path, method, **kwargs)
    return info.value.path


# -- choosing the rule ----------------------------------------------------------


def test_static_beats_converter_regardless_of_order():
    url_map = Map([Rule("/<name>", endpoint="var"), Rule("/about", endpoint="static")])
    assert endpoint(url_map, "/about") == "static"
    assert endpoint(url_map, "/other") == "var"


def test_converter_weights():
    url_map = Map(
        [
            Rule("/x/<path:p>", endpoint="path"),
            Rule("/x/<s>", endpoint="string"),
            Rule("/x/<int:n>", endpoint="int"),
        ]
    )
    assert endpoint(url_map, "/x/1") == "int"
    assert endpoint(url_map, "/x/a") == "string"
    assert endpoint(url_map, "/x/a/b") == "path"


def test_static_text_in_segment_beats_plain_converter():
    url_map = Map(
        [Rule("/<name>", endpoint="plain"), Rule("/<name>.json", endpoint="json")]
    )
    assert endpoint(url_map, "/a.json") == "json"
    assert endpoint(url_map, "/a.txt") == "plain"


def test_registration_order_breaks_ties():
    url_map = Map([Rule("/<a>", endpoint="first"), Rule("/<b>", endpoint="second")])
    assert endpoint(url_map, "/x") == "first"


def test_values_are_converted_and_defaults_merged():
    url_map = Map([Rule("/p/<int:page>", endpoint="p", defaults={"lang": "en"})])
    _, values = url_map.match("/p/3", "GET")
    assert values == {"page": 3, "lang": "en"}
    # Every call returns a fresh dict (url_value_preprocessors pop from it).
    values.pop("lang")
    assert url_map.match("/p/3", "GET")[1] == {"page": 3, "lang": "en"}


def test_static_rule_values_are_a_fresh_dict():
    url_map = Map([Rule("/", endpoint="i", defaults={"page": 1})])
    first = url_map.match("/", "GET")[1]
    first["x"] = 1
    assert url_map.match("/", "GET")[1] == {"page": 1}


# -- 404 and 405 ----------------------------------------------------------------


def test_not_found():
    url_map = Map([Rule("/a", endpoint="a"), Rule("/b/<int:n>", endpoint="b")])
    for path in ("/c", "/b/x", "/a/b", "/b/1/"):
        with pytest.raises(NotFound):
            url_map.match(path, "GET")


def test_method_not_allowed_lists_the_union_of_methods():
    url_map = Map(
        [
            Rule("/r", endpoint="r", methods=["GET"]),
            Rule("/r", endpoint="r2", methods=["PUT"]),
            Rule("/r/<int:n>", endpoint="n", methods=["DELETE"]),
        ]
    )
    with pytest.raises(MethodNotAllowed) as info:
        url_map.match("/r", "POST")
    assert info.value.valid_methods == ["GET", "HEAD", "PUT"]
    with pytest.raises(MethodNotAllowed) as info:
        url_map.match("/r/1", "GET")
    assert info.value.valid_methods == ["DELETE"]


def test_method_mismatch_falls_through_to_another_rule():
    url_map = Map(
        [Rule("/foo", endpoint="post", methods=["POST"]), Rule("/<n>", endpoint="n")]
    )
    assert endpoint(url_map, "/foo", "GET") == "n"
    assert endpoint(url_map, "/foo", "POST") == "post"


def test_unknown_methods_share_one_matcher():
    url_map = Map(
        [Rule("/a/<x>", endpoint="a", methods=["GET"]), Rule("/b/<x>", endpoint="b")]
    )
    for i in range(50):
        with pytest.raises(MethodNotAllowed):
            url_map.match("/a/1", f"X{i}")
        assert endpoint(url_map, "/b/1", f"Y{i}") == "b"
    assert len(url_map._http) <= 2


def test_allowed_methods_query_with_an_impossible_method():
    url_map = Map([Rule("/a", endpoint="a", methods=["GET", "POST"])])
    with pytest.raises(MethodNotAllowed) as info:
        url_map.match("/a", "\x00any")
    assert info.value.valid_methods == ["GET", "HEAD", "POST"]


# -- trailing slashes -----------------------------------------------------------


def test_strict_slashes():
    url_map = Map([Rule("/dir/", endpoint="dir"), Rule("/leaf", endpoint="leaf")])
    assert redirect_of(url_map, "/dir") == "/dir/"
    assert endpoint(url_map, "/dir/") == "dir"
    with pytest.raises(NotFound):
        url_map.match("/leaf/", "GET")


def test_non_strict_slashes_match_both_spellings():
    url_map = Map(
        [Rule("/dir/", endpoint="dir"), Rule("/leaf", endpoint="leaf")],
        strict_slashes=False,
    )
    assert endpoint(url_map, "/dir") == "dir"
    assert endpoint(url_map, "/dir/") == "dir"
    assert endpoint(url_map, "/leaf") == "leaf"
    assert endpoint(url_map, "/leaf/") == "leaf"


def test_slash_redirect_for_dynamic_and_path_rules():
    url_map = Map(
        [Rule("/u/<int:n>/", endpoint="u"), Rule("/p/<path:p>/", endpoint="p")]
    )
    assert redirect_of(url_map, "/u/5") == "/u/5/"
    assert redirect_of(url_map, "/p/a/b") == "/p/a/b/"
    assert url_map.match("/p/a/b/", "GET")[1] == {"p": "a/b"}


def test_slash_redirect_is_quoted():
    url_map = Map([Rule("/<name>/", endpoint="n")])
    assert redirect_of(url_map, "/a b?ü") == "/a%20b%3F%C3%BC/"


def test_slash_redirect_only_for_the_requested_method():
    url_map = Map([Rule("/d/", endpoint="d", methods=["POST"])])
    with pytest.raises(NotFound):
        url_map.match("/d", "GET")
    assert redirect_of(url_map, "/d", "POST") == "/d/"


def test_empty_path_redirects_to_root():
    url_map = Map([Rule("/", endpoint="i")])
    assert redirect_of(url_map, "") == "/"


# -- merged slashes and BAD_INPUTS 19 --------------------------------------------


def test_merge_slashes_redirects_to_the_canonical_path():
    url_map = Map([Rule("/a/b", endpoint="ab"), Rule("/d/", endpoint="d")])
    assert redirect_of(url_map, "/a//b") == "/a/b"
    assert redirect_of(url_map, "//a///b") == "/a/b"
    assert redirect_of(url_map, "/d//") == "/d/"


def test_merge_slashes_redirect_then_slash():
    url_map = Map([Rule("/a/b/", endpoint="ab")])
    assert redirect_of(url_map, "/a//b") == "/a/b/"


def test_merge_slashes_off():
    url_map = Map([Rule("/a/b", endpoint="ab")], merge_slashes=False)
    with pytest.raises(NotFound):
        url_map.match("/a//b", "GET")
    # Werkzeug drops extra leading slashes before matching; so does erlen.
    assert endpoint(url_map, "//a/b") == "ab"


def test_rule_level_merge_slashes_off_gives_404():
    url_map = Map([Rule("/a/b", endpoint="ab", merge_slashes=False)])
    with pytest.raises(NotFound):
        url_map.match("/a//b", "GET")


def test_merge_slashes_keeps_405():
    url_map = Map([Rule("/a/b", endpoint="ab", methods=["POST"])])
    with pytest.raises(MethodNotAllowed):
        url_map.match("/a//b", "GET")


def test_slashes_inside_path_variables_are_kept():
    url_map = Map([Rule("/p/<path:p>", endpoint="p")])
    assert url_map.match("/p/a//b", "GET")[1] == {"p": "a//b"}


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        ("/admin", "admin"),
        ("/admin\n", NotFound),
        ("/admin%0a", NotFound),
        ("/admin/./", NotFound),
        ("/./admin", NotFound),
        ("/admin;x", NotFound),
        ("/admin/", NotFound),
        ("/ADMIN", NotFound),
        ("//admin", "redirect:/admin"),
        ("///admin", "redirect:/admin"),
        ("/admin//", NotFound),
    ],
)
def test_alternate_spellings_of_admin(path, outcome):
    """BAD_INPUTS 19: never route an alternate spelling to the protected rule."""
    url_map = Map(
        [Rule("/admin", endpoint="admin"), Rule("/public/<name>", endpoint="pub")]
    )
    if outcome is NotFound:
        with pytest.raises(NotFound):
            url_map.match(path, "GET")
    elif outcome.startswith("redirect:"):
        assert redirect_of(url_map, path) == outcome[len("redirect:") :]
    else:
        assert endpoint(url_map, path) == outcome


def test_newline_never_matches_a_static_or_int_rule():
    url_map = Map([Rule("/admin", endpoint="a"), Rule("/n/<int:n>", endpoint="n")])
    for path in ("/admin\n", "/n/1\n", "/n/\n1"):
        with pytest.raises(NotFound):
            url_map.match(path, "GET")


def test_dynamic_rule_sees_newline_as_part_of_the_value():
    url_map = Map([Rule("/<name>", endpoint="n")])
    assert url_map.match("/admin\n", "GET")[1] == {"name": "admin\n"}


def test_path_without_leading_slash_is_taken_as_rooted():
    url_map = Map([Rule("/a/<int:n>", endpoint="a"), Rule("/s", endpoint="s")])
    assert endpoint(url_map, "a/1") == "a"
    assert endpoint(url_map, "s") == "s"


# -- redirect_to, defaults, alias -------------------------------------------------


def test_redirect_to_string():
    url_map = Map(
        [Rule("/old/<int:n>/<slug>", endpoint="old", redirect_to="new/<n>/<slug>")]
    )
    with pytest.raises(RedirectRequired) as info:
        url_map.match("/old/5/a b", "GET")
    assert info.value.path == "new/5/a%20b"
    assert info.value.from_rule is True
    assert info.value.domain is None


def test_redirect_to_callable_gets_none_and_values():
    seen = []

    def target(adapter, **values):
        seen.append((adapter, values))
        return f"/new/{values['n'] + 1}"

    url_map = Map([Rule("/old/<int:n>", endpoint="old", redirect_to=target)])
    assert redirect_of(url_map, "/old/1") == "/new/2"
    assert seen == [(None, {"n": 1})]


def test_redirect_to_on_a_static_rule_is_not_in_the_fast_table():
    url_map = Map([Rule("/old", redirect_to="/new"), Rule("/new", endpoint="new")])
    url_map.refresh()
    assert "/old" not in url_map.static_routes
    assert redirect_of(url_map, "/old") == "/new"


def test_redirect_defaults():
    url_map = Map(
        [
            Rule("/all/", defaults={"page": 1}, endpoint="all"),
            Rule("/all/page/<int:page>", endpoint="all"),
        ]
    )
    assert redirect_of(url_map, "/all/page/1") == "/all/"
    assert url_map.match("/all/page/2", "GET")[1] == {"page": 2}
    assert url_map.match("/all/", "GET")[1] == {"page": 1}


def test_redirect_defaults_off():
    url_map = Map(
        [
            Rule("/all/", defaults={"page": 1}, endpoint="all"),
            Rule("/all/page/<int:page>", endpoint="all"),
        ],
        redirect_defaults=False,
    )
    assert url_map.match("/all/page/1", "GET")[1] == {"page": 1}
    url_map.redirect_defaults = True
    assert redirect_of(url_map, "/all/page/1") == "/all/"


def test_redirect_defaults_on_a_static_rule():
    url_map = Map(
        [
            Rule("/a", defaults={"x": 1}, endpoint="e"),
            Rule("/b", defaults={"x": 1}, endpoint="e"),
        ]
    )
    url_map.refresh()
    assert "/b" not in url_map.static_routes
    assert "/a" in url_map.static_routes
    assert redirect_of(url_map, "/b") == "/a"


def test_alias_redirects_to_the_canonical_rule():
    url_map = Map(
        [
            Rule("/users/<name>", endpoint="user"),
            Rule("/u/<name>", endpoint="user", alias=True),
        ]
    )
    assert redirect_of(url_map, "/u/bob") == "/users/bob"
    assert endpoint(url_map, "/users/bob") == "user"


def test_alias_without_a_canonical_rule_is_a_clear_error():
    url_map = Map([Rule("/u/<name>", endpoint="user", alias=True)])
    with pytest.raises(RuntimeError, match="alias"):
        url_map.match("/u/bob", "GET")


def test_build_only_rules_never_match():
    url_map = Map([Rule("/static/<path:f>", endpoint="static", build_only=True)])
    with pytest.raises(NotFound):
        url_map.match("/static/a.css", "GET")
    assert url_map.build("static", {"f": "a.css"}) == ("", "/static/a.css")


# -- websocket --------------------------------------------------------------------


def test_websocket_rules():
    url_map = Map(
        [
            Rule("/ws", endpoint="ws", websocket=True),
            Rule("/both", endpoint="both_ws", websocket=True),
            Rule("/both", endpoint="both_http"),
            Rule("/http", endpoint="http"),
            Rule("/d/<x>", endpoint="dyn_ws", websocket=True),
        ]
    )
    assert endpoint(url_map, "/ws", websocket=True) == "ws"
    assert endpoint(url_map, "/both", websocket=True) == "both_ws"
    assert endpoint(url_map, "/both") == "both_http"
    assert endpoint(url_map, "/d/1", websocket=True) == "dyn_ws"
    with pytest.raises(WebsocketMismatch):
        url_map.match("/ws", "GET")
    with pytest.raises(WebsocketMismatch):
        url_map.match("/d/1", "GET")
    with pytest.raises(WebsocketMismatch):
        url_map.match("/http", "GET", websocket=True)
    assert issubclass(WebsocketMismatch, BadRequest)
    url_map.refresh()
    assert "/ws" not in url_map.static_routes
    assert url_map.static_routes["/both"]["*"].endpoint == "both_http"


# -- host and subdomain matching ---------------------------------------------------


def test_subdomain_matching():
    url_map = Map(
        [
            Rule("/", endpoint="root"),
            Rule("/", subdomain="api", endpoint="api"),
            Rule("/<int:n>", subdomain="<user>", endpoint="user"),
        ]
    )
    assert endpoint(url_map, "/", subdomain="") == "root"
    assert endpoint(url_map, "/") == "root"
    assert endpoint(url_map, "/", subdomain="api") == "api"
    rule, values = url_map.match("/5", "GET", subdomain="bob")
    assert (rule.endpoint, values) == ("user", {"user": "bob", "n": 5})
    with pytest.raises(NotFound):
        url_map.match("/5", "GET", subdomain="")
    with pytest.raises(NotFound):
        url_map.match("/", "GET", subdomain="bob")
    assert not url_map.fast_path_ok


def test_subdomain_on_a_map_without_subdomain_rules():
    url_map = Map([Rule("/", endpoint="root")])
    url_map.refresh()
    assert url_map.fast_path_ok
    assert endpoint(url_map, "/", subdomain="") == "root"
    with pytest.raises(NotFound):
        url_map.match("/", "GET", subdomain="api")


def test_default_subdomain():
    url_map = Map(
        [Rule("/", endpoint="www"), Rule("/", subdomain="", endpoint="bare")],
        default_subdomain="www",
    )
    assert endpoint(url_map, "/") == "www"
    assert endpoint(url_map, "/", subdomain="") == "bare"
    assert url_map.build("www") == ("www", "/")


def test_subdomain_slash_redirect_keeps_the_domain():
    url_map = Map([Rule("/d/", subdomain="<u>", endpoint="d")])
    assert redirect_of(url_map, "/d", subdomain="bob") == "/d/"
    assert redirect_of(url_map, "//d/", subdomain="bob") == "/d/"
    assert redirect_of(url_map, "/d//", subdomain="bob") == "/d/"


def test_host_matching():
    url_map = Map(
        [
            Rule("/", host="example.com", endpoint="main"),
            Rule("/", host="<sub>.example.com", endpoint="sub"),
            Rule("/x", endpoint="hostless"),
        ],
        host_matching=True,
    )
    assert endpoint(url_map, "/", host="example.com") == "main"
    assert endpoint(url_map, "/", host="EXAMPLE.com") == "main"
    assert url_map.match("/", "GET", host="a.example.com")[1] == {"sub": "a"}
    with pytest.raises(NotFound):
        url_map.match("/", "GET", host="other.org")
    with pytest.raises(NotFound):
        url_map.match("/x", "GET", host="example.com")
    url_map.refresh()
    assert not url_map.fast_path_ok
    assert url_map.static_routes == {}


def test_host_matching_default_redirect_names_the_domain():
    url_map = Map(
        [
            Rule("/", host="www.example.com", defaults={"page": 1}, endpoint="all"),
            Rule("/p/<int:page>", host="example.com", endpoint="all"),
        ],
        host_matching=True,
    )
    with pytest.raises(RedirectRequired) as info:
        url_map.match("/p/1", "GET", host="example.com")
    assert (info.value.path, info.value.domain) == ("/", "www.example.com")
    assert url_map.match("/p/2", "GET", host="example.com")[1] == {"page": 2}


# -- the static fast path ---------------------------------------------------------


def test_static_routes_table():
    url_map = Map(
        [
            Rule("/a", endpoint="a_get", methods=["GET"]),
            Rule("/a", endpoint="a_post", methods=["POST", "GET"]),
            Rule("/b", endpoint="b_any"),
            Rule("/b", endpoint="b_never", methods=["PUT"]),
            Rule("/c", endpoint="c_put", methods=["PUT"]),
            Rule("/c", endpoint="c_any"),
            Rule("/ü", endpoint="uml"),
            Rule("/d/<x>", endpoint="dyn"),
            Rule("/e/", endpoint="e"),
        ]
    )
    url_map.refresh()
    routes = url_map.static_routes
    assert {m: r.endpoint for m, r in routes["/a"].items()} == {
        "GET": "a_get",
        "HEAD": "a_get",
        "POST": "a_post",
    }
    assert {m: r.endpoint for m, r in routes["/b"].items()} == {"*": "b_any"}
    assert {m: r.endpoint for m, r in routes["/c"].items()} == {
        "PUT": "c_put",
        "*": "c_any",
    }
    assert "/e/" in routes and "/e" not in routes
    assert not any("<" in path for path in routes)
    assert url_map.fast_path_ok
    # The table agrees with match() for every method.
    for path, by_method in routes.items():
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE"):
            rule = by_method.get(method) or by_method.get("*")
            if rule is not None:
                assert url_map.match(path, method)[0] is rule


def test_static_rule_with_method_mismatch_falls_back_to_match():
    url_map = Map(
        [Rule("/a", endpoint="a", methods=["POST"]), Rule("/<x>", endpoint="x")]
    )
    url_map.refresh()
    assert "GET" not in url_map.static_routes["/a"]
    assert endpoint(url_map, "/a") == "x"


# -- lazy rebuild -----------------------------------------------------------------


def test_rules_added_after_matching_are_seen():
    url_map = Map([Rule("/a", endpoint="a")])
    assert endpoint(url_map, "/a") == "a"
    with pytest.raises(NotFound):
        url_map.match("/b/1", "GET")
    url_map.add(Rule("/b/<int:n>", endpoint="b"))
    assert url_map._dirty
    assert endpoint(url_map, "/b/1") == "b"
    assert not url_map._dirty
    url_map.add(Rule("/c", endpoint="c"))
    url_map.refresh()
    assert "/c" in url_map.static_routes


def test_refresh_does_nothing_when_clean():
    url_map = Map([Rule("/a", endpoint="a")])
    url_map.refresh()
    table = url_map.static_routes
    url_map.refresh()
    url_map.update()
    assert url_map.static_routes is table
    url_map.add(Rule("/b", endpoint="b"))
    url_map.refresh()
    assert url_map.static_routes is not table


def test_add_is_lazy():
    url_map = Map()
    for i in range(20):
        url_map.add(Rule(f"/r{i}/<int:n>", endpoint=f"r{i}"))
    assert url_map._http == {}
    assert endpoint(url_map, "/r19/1") == "r19"


def test_empty_map():
    url_map = Map()
    with pytest.raises(NotFound):
        url_map.match("/", "GET")
    with pytest.raises(NotFound):
        url_map.match("/a//b", "GET")


# -- map API ----------------------------------------------------------------------


def test_add_refuses_other_objects():
    import werkzeug.routing

    with pytest.raises(TypeError, match=r"erlen\.routing\.Rule"):
        Map().add(werkzeug.routing.Rule("/", endpoint="x"))  # type: ignore[arg-type]


def test_converters_are_a_per_map_copy():
    first, second = Map(), Map()
    first.converters["x"] = object  # type: ignore[assignment]
    assert "x" not in second.converters
    assert "x" not in Map.default_converters
    assert set(first.converters) >= {
        "default",
        "string",
        "any",
        "path",
        "int",
        "float",
        "uuid",
    }


def test_iter_rules_and_iter():
    a1 = Rule("/a", endpoint="a")
    b = Rule("/b", endpoint="b")
    a2 = Rule("/a/<x>", endpoint="a")
    url_map = Map([a1, b, a2])
    assert list(url_map.iter_rules("a")) == [a2, a1]  # more arguments first
    assert list(url_map.iter_rules()) == [a2, a1, b]
    assert list(url_map) == [a2, a1, b]
    assert list(url_map.iter_rules("missing")) == []


def test_is_endpoint_expecting():
    url_map = Map([Rule("/<lang>/x", endpoint="x"), Rule("/y", endpoint="y")])
    assert url_map.is_endpoint_expecting("x", "lang")
    assert not url_map.is_endpoint_expecting("y", "lang")
    assert not url_map.is_endpoint_expecting("missing", "lang")


def test_bind_is_not_implemented():
    with pytest.raises(NotImplementedError, match=r"Map\.match"):
        Map().bind("example.com")
    with pytest.raises(NotImplementedError, match=r"Map\.build"):
        Map().bind_to_environ({})


def test_repr():
    url_map = Map([Rule("/", endpoint="i")])
    assert repr(url_map) == "Map([<Rule '/' -> i>])"


def test_fallthrough_tries_each_later_candidate_in_order():
    import werkzeug.routing

    class Even(werkzeug.routing.BaseConverter):
        regex = r"\d+"

        def to_python(self, value):
            if int(value) % 2:
                raise werkzeug.routing.ValidationError()
            return int(value)

    class Big(werkzeug.routing.BaseConverter):
        regex = r"\d+"

        def to_python(self, value):
            if int(value) < 100:
                raise werkzeug.routing.ValidationError()
            return int(value)

    url_map = Map(
        [
            Rule("/n/<even:n>", endpoint="even"),
            Rule("/n/<even:n>/x", endpoint="even_x"),
            Rule("/n/<big:n>", endpoint="big"),
            Rule("/n/<n>", endpoint="text", defaults={"kind": "text"}),
        ],
        converters={"even": Even, "big": Big},
    )
    assert url_map.match("/n/4", "GET")[1] == {"n": 4}
    assert url_map.match("/n/101", "GET")[0].endpoint == "big"
    rule, values = url_map.match("/n/3", "GET")
    assert (rule.endpoint, values) == ("text", {"n": "3", "kind": "text"})


def test_redirect_defaults_respects_the_method():
    url_map = Map(
        [
            Rule("/all/", defaults={"page": 1}, endpoint="all", methods=["GET"]),
            Rule("/all/page/<int:page>", endpoint="all", methods=["GET", "POST"]),
        ]
    )
    assert redirect_of(url_map, "/all/page/1") == "/all/"
    assert url_map.match("/all/page/1", "POST")[1] == {"page": 1}
    assert url_map.redirect_defaults is True


def test_redirect_to_fills_in_defaults_too():
    url_map = Map([Rule("/<a>", defaults={"b": "x y"}, redirect_to="/t/<a>/<b>")])
    assert redirect_of(url_map, "/q") == "/t/q/x%20y"


def test_static_rule_with_double_leading_slash_is_unreachable_as_in_werkzeug():
    url_map = Map([Rule("//x", endpoint="x", merge_slashes=False)])
    url_map.refresh()
    assert url_map.static_routes == {}
    with pytest.raises(NotFound):
        url_map.match("//x", "GET")


def test_empty_path_on_a_subdomain():
    url_map = Map([Rule("/", subdomain="<u>", endpoint="home")])
    with pytest.raises(RedirectRequired) as info:
        url_map.match("", "GET", subdomain="bob")
    assert info.value.path == "/"


def test_fast_path_ok_is_correct_before_refresh():
    url_map = Map([Rule("/", endpoint="i")])
    assert url_map.fast_path_ok
    url_map.add(Rule("/", subdomain="api", endpoint="api"))
    assert not url_map.fast_path_ok
    assert not Map(host_matching=True).fast_path_ok
    build_only = Map([Rule("/s", subdomain="cdn", endpoint="s", build_only=True)])
    build_only.refresh()
    assert build_only.fast_path_ok


def test_http_request_for_websocket_only_url_is_426():
    from erlen.routing import UpgradeRequired

    url_map = Map([Rule("/ws", endpoint="ws", websocket=True)])
    with pytest.raises(UpgradeRequired) as info:
        url_map.match("/ws", "GET")
    assert info.value.code == 426
    assert ("Upgrade", "websocket") in info.value.get_headers()
    # The other direction stays Werkzeug's 400.
    url_map.add(Rule("/http", endpoint="http"))
    with pytest.raises(WebsocketMismatch) as info:
        url_map.match("/http", "GET", websocket=True)
    assert not isinstance(info.value, UpgradeRequired)
