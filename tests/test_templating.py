"""Templating: the lazy Jinja environment, loaders, rendering, context, filters.

The ``app`` fixture's root is ``tests/``, so its templates live in
``tests/templates/``; blueprints here use ``tests/blueprint_templates*/``.
"""

from __future__ import annotations

import asyncio
import logging
import os

import flask
import jinja2
import pytest
from markupsafe import Markup

import erlen
from erlen import Blueprint, Erlen, g, request, session
from erlen.flashing import flash
from erlen.signals import before_render_template, template_rendered
from erlen.templating import (
    DispatchingJinjaLoader,
    Environment,
    get_template_attribute,
    render_template,
    render_template_string,
    stream_template,
    stream_template_string,
)

HERE = os.path.dirname(__file__)


def _bp(name: str, folder: str | None = "blueprint_templates", **kw) -> Blueprint:
    return Blueprint(name, __name__, template_folder=folder, root_path=HERE, **kw)


# -- the environment ------------------------------------------------------------------
def test_jinja_env_is_created_on_first_use_only(app, client):
    app.add_url_rule("/", "index", lambda: "plain")
    assert client.get("/").text == "plain"
    assert "jinja_env" not in app.__dict__
    env = app.jinja_env
    assert isinstance(env, Environment)
    assert env.app is app
    assert app.jinja_env is env
    assert app.__dict__["jinja_env"] is env


def test_registering_filters_does_not_create_the_environment(app):
    app.add_template_filter(str.upper, "up")
    app.add_template_test(callable, "a_callable")
    app.add_template_global(len, "length")
    assert "jinja_env" not in app.__dict__
    env = app.jinja_env
    assert env.filters["up"] is str.upper
    assert env.tests["a_callable"] is callable
    assert env.globals["length"] is len


def test_registering_after_the_environment_exists_goes_straight_in(app):
    env = app.jinja_env
    app.add_template_filter(str.lower, "low")
    assert env.filters["low"] is str.lower


def test_jinja_options_are_used(app):
    app.jinja_options = {"trim_blocks": True, "extensions": ["jinja2.ext.do"]}
    env = app.jinja_env
    assert env.trim_blocks is True
    assert "jinja2.ext.ExprStmtExtension" in env.extensions
    with app.app_context():
        assert render_template_string("{% if 1 %}\nx{% endif %}") == "x"


def test_jinja_options_can_turn_autoescape_off(app):
    app.jinja_options = {"autoescape": False}
    with app.app_context():
        assert render_template_string("{{ x }}", x="<b>") == "<b>"


def test_create_jinja_environment_and_environment_class_can_be_overridden():
    class MyEnvironment(Environment):
        pass

    class MyApp(Erlen):
        jinja_environment = MyEnvironment

        def create_jinja_environment(self):
            env = super().create_jinja_environment()
            env.globals["site"] = "erlen.test"
            return env

    app = MyApp(__name__, root_path=HERE)
    assert type(app.jinja_env) is MyEnvironment
    with app.app_context():
        assert render_template_string("{{ site }}") == "erlen.test"


def test_environment_takes_an_explicit_loader(app):
    env = Environment(app, loader=jinja2.DictLoader({"a.txt": "A"}))
    assert env.get_template("a.txt").render() == "A"
    assert isinstance(Environment(app).loader, DispatchingJinjaLoader)


# -- rendering -------------------------------------------------------------------------
def test_render_template_in_a_view(app, client):
    @app.route("/")
    def index():
        return render_template("hello.html", name="World")

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.text == "Hello World!"
    assert rv.mimetype == "text/html"


def test_render_template_list_renders_the_first_that_exists(app):
    with app.test_request_context():
        assert render_template(["missing.html", "hello.html"], name="x") == "Hello x!"
        with pytest.raises(jinja2.TemplatesNotFound):
            render_template(["missing.html", "nope.html"])


def test_render_template_accepts_a_template_object(app):
    with app.test_request_context():
        tpl = app.jinja_env.from_string("{{ a }}{{ request.path }}")
        assert render_template(tpl, a=1) == "1/"


def test_missing_template_raises_template_not_found(app):
    with app.test_request_context(), pytest.raises(jinja2.TemplateNotFound) as exc:
        render_template("does-not-exist.html")
    assert exc.value.name == "does-not-exist.html"


@pytest.mark.parametrize(
    "name", ["../conftest.py", "../../pyproject.toml", "/etc/passwd", "..\\conftest.py"]
)
def test_template_names_cannot_leave_the_template_folders(app, name):
    with app.test_request_context(), pytest.raises(jinja2.TemplateNotFound):
        render_template(name)


def test_render_template_string(app, client):
    @app.route("/")
    def index():
        return render_template_string("Hi {{ name }} at {{ request.path }}", name="<x>")

    assert client.get("/").text == "Hi &lt;x&gt; at /"


def test_stream_template_keeps_the_request_context(app, client):
    @app.route("/s")
    def streamed():
        return app.response_class(stream_template("stream.html", items=[1, 2, 3]))

    rv = client.get("/s")
    assert rv.text == "1-/s;2-/s;3-/s;"


def test_stream_template_string_yields_pieces(app):
    with app.test_request_context("/p"):
        gen = stream_template_string("{% for i in n %}{{ i }}{% endfor %}", n="ab")
        assert not isinstance(gen, str)
        assert list(gen) == ["a", "b"]


def test_stream_template_without_request_needs_no_request_context(app):
    with app.app_context():
        assert "".join(stream_template("hello.html", name="app")) == "Hello app!"


@pytest.mark.parametrize(
    "call",
    [
        lambda: render_template("hello.html"),
        lambda: render_template_string("x"),
        lambda: stream_template("hello.html"),
        lambda: stream_template_string("x"),
        lambda: get_template_attribute("_macros.html", "hello"),
    ],
)
def test_rendering_outside_a_context_is_a_clear_error(call):
    with pytest.raises(RuntimeError, match="outside of application context"):
        call()


def test_render_with_only_an_app_context(app):
    with app.app_context():
        g.who = "worker"
        out = render_template_string("{{ g.who }} {{ config.TESTING }}")
    assert out == "worker True"


def test_get_template_attribute(app):
    with app.app_context():
        hello = get_template_attribute("_macros.html", "hello")
        assert hello("macro") == "Hello macro!"
        assert get_template_attribute("_macros.html", "answer") == 42


# -- names available in templates ----------------------------------------------------------
def test_config_request_session_g_url_for_and_flashes_in_templates(app, client):
    @app.route("/")
    def index():
        session["user"] = "ann"
        g.who = "me"
        flash("hi")
        return render_template("context.html")

    assert client.get("/").text == "True|/|ann|me|/|[&#39;hi&#39;]"


def test_context_holds_the_real_request_and_g(app):
    seen = {}

    def record(sender, template, context, **extra):
        seen.update(context)

    with template_rendered.connected_to(record, app), app.test_request_context("/q"):
        render_template_string("x")
        assert seen["request"] is request._get_current_object()
        assert seen["g"] is g._get_current_object()
    assert "session" not in seen  # the global proxy serves it (and marks access)


def test_using_session_in_a_template_varies_on_cookie(app, client):
    @app.route("/")
    def index():
        return render_template_string("{{ session.get('a') }}")

    rv = client.get("/")
    assert rv.text == "None"
    assert "Cookie" in rv.headers.get("Vary", "")


def test_globals_reach_imported_templates(app):
    # A template imported without context sees only the globals: the proxies.
    with app.test_request_context("/imported"):
        g.who = "imp"
        out = render_template_string(
            '{% import "_ctx_macro.html" as m %}{{ m.show() }}'
            '|{% import "_ctx_macro.html" as c with context %}{{ c.show() }}'
        )
    assert out == "/imported imp|/imported imp"


# -- context processors ------------------------------------------------------------------
def test_app_context_processor_and_explicit_values_win(app, client):
    @app.context_processor
    def inject():
        return {"app_value": "A", "name": "from processor", "bp_value": ""}

    @app.route("/")
    def index():
        return render_template("processors.html", name="explicit")

    assert client.get("/").text == "|A|explicit"


def test_blueprint_context_processor_only_for_its_requests(app, client):
    bp = _bp("admin", url_prefix="/admin")
    other = _bp("other", url_prefix="/other")

    @bp.context_processor
    def inject_bp():
        return {"bp_value": "B"}

    @app.context_processor
    def inject_app():
        return {"app_value": "A"}

    def view():
        return render_template("processors.html", name="n")

    bp.add_url_rule("/", "index", view)
    other.add_url_rule("/", "index", view)
    app.add_url_rule("/", "index", view)
    app.register_blueprint(bp)
    app.register_blueprint(other)

    assert client.get("/admin/").text == "B|A|n"
    assert client.get("/other/").text == "|A|n"
    assert client.get("/").text == "|A|n"
    # Again, now from the cached chains.
    assert client.get("/admin/").text == "B|A|n"
    assert client.get("/other/").text == "|A|n"


def test_blueprint_app_context_processor_applies_everywhere(app, client):
    bp = _bp("admin", url_prefix="/admin")

    @bp.app_context_processor
    def inject():
        return {"app_value": "everywhere"}

    app.register_blueprint(bp)
    app.add_url_rule("/", "index", lambda: render_template("processors.html"))
    assert client.get("/").text == "|everywhere|"


def test_nested_blueprint_processors_run_outer_to_inner(app, client):
    calls = []
    parent = _bp("parent", url_prefix="/p")
    child = _bp("child", url_prefix="/c")

    @app.context_processor
    def app_proc():
        calls.append("app")
        return {"bp_value": "app"}

    @parent.context_processor
    def parent_proc():
        calls.append("parent")
        return {"bp_value": "parent", "app_value": "parent"}

    @child.context_processor
    def child_proc():
        calls.append("child")
        return {"bp_value": "child"}

    child.add_url_rule("/", "index", lambda: render_template("processors.html"))
    parent.add_url_rule("/", "index", lambda: render_template("processors.html"))
    parent.register_blueprint(child)
    app.register_blueprint(parent)

    assert client.get("/p/c/").text == "child|parent|"
    assert calls == ["app", "parent", "child"]
    calls.clear()
    assert client.get("/p/").text == "parent|parent|"
    assert calls == ["app", "parent"]


def test_processors_run_on_every_render(app, client):
    counter = iter(range(100))

    @app.context_processor
    def count():
        return {"name": next(counter)}

    app.add_url_rule("/", "index", lambda: render_template_string("{{ name }}"))
    assert [client.get("/").text for _ in range(3)] == ["0", "1", "2"]


def test_async_context_processor(app, client):
    @app.context_processor
    async def inject():
        await asyncio.sleep(0)
        return {"app_value": "async"}

    app.add_url_rule("/", "index", lambda: render_template("processors.html"))
    assert client.get("/").text == "|async|"


def test_processors_added_before_first_request_apply_in_test_request_context(app):
    with app.test_request_context():
        assert render_template_string("{{ v }}") == ""

    @app.context_processor
    def late():
        return {"v": "late"}

    with app.test_request_context():
        assert render_template_string("{{ v }}") == "late"


def test_update_template_context_fills_the_dict_in_place(app):
    @app.context_processor
    def inject():
        return {"a": 1, "b": 1}

    with app.test_request_context():
        context = {"b": 2}
        app.update_template_context(context)
        assert context["a"] == 1
        assert context["b"] == 2
        assert context["request"] is request._get_current_object()


# -- filters, tests, globals ----------------------------------------------------------------
def test_template_filter_decorator_forms(app):
    @app.template_filter()
    def reverse(s):
        return s[::-1]

    @app.template_filter("twice")
    def double_it(s):
        return s * 2

    @app.template_filter
    def shout(s):
        return s.upper()

    assert reverse("ab") == "ba"  # the decorator returns the function itself
    assert shout("a") == "A"
    with app.app_context():
        assert render_template_string("{{ 'ab'|reverse|twice|shout }}") == "BABA"
    assert "double_it" not in app.jinja_env.filters


def test_template_test_and_global_decorators(app):
    @app.template_test()
    def even(n):
        return n % 2 == 0

    @app.template_test("odd_one")
    def odd(n):
        return n % 2 == 1

    @app.template_global()
    def double(n):
        return 2 * n

    @app.template_global("triple")
    def times_three(n):
        return 3 * n

    app.add_template_global(lambda: "lam", "lam")
    with app.app_context():
        out = render_template_string(
            "{{ 4 is even }} {{ 3 is odd_one }} {{ double(2) }} {{ triple(2) }}"
            " {{ lam() }}"
        )
    assert out == "True True 4 6 lam"


def test_blueprint_app_template_registrations(app, client):
    bp = _bp("admin")

    @bp.app_template_filter()
    def rev(s):
        return s[::-1]

    @bp.app_template_filter
    def bare(s):
        return f"[{s}]"

    @bp.app_template_test("short")
    def is_short(s):
        return len(s) < 3

    @bp.app_template_global()
    def answer():
        return 42

    bp.add_app_template_filter(str.upper, "up")
    bp.add_app_template_test(str.isdigit, "digits")
    bp.add_app_template_global(lambda: "g", "gee")
    assert "rev" not in app.jinja_env.filters  # nothing before registration
    app.register_blueprint(bp)
    app.add_url_rule(
        "/",
        "index",
        lambda: render_template_string(
            "{{ 'abc'|rev|up|bare }} {{ 'ab' is short }} {{ '12' is digits }}"
            " {{ answer() }} {{ gee() }}"
        ),
    )
    assert client.get("/").text == "[CBA] True True 42 g"


def test_template_registration_is_closed_after_the_first_request(app, client):
    app.add_url_rule("/", "index", lambda: "x")
    client.get("/")
    for method in (app.add_template_filter, app.add_template_test):
        with pytest.raises(AssertionError, match="first request"):
            method(len)
    with pytest.raises(AssertionError, match="first request"):
        app.template_global()


def test_blueprint_template_registration_is_closed_after_registration(app):
    bp = _bp("admin")
    app.register_blueprint(bp)
    with pytest.raises(AssertionError, match="already been registered"):
        bp.add_app_template_filter(len)


# -- autoescaping ------------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["html", "htm", "xml", "xhtml", "svg"])
def test_markup_files_are_autoescaped(app, ext):
    with app.test_request_context():
        assert render_template(f"escape.{ext}", text="<a&b>") == "&lt;a&amp;b&gt;"


def test_other_files_are_not_autoescaped(app):
    with app.test_request_context():
        assert render_template("escape.txt", text="<a&b>") == "<a&b>"


def test_template_strings_are_autoescaped_and_markup_is_not(app):
    with app.test_request_context():
        assert render_template_string("{{ x }}", x="<i>") == "&lt;i&gt;"
        assert render_template_string("{{ x }}", x=Markup("<i>")) == "<i>"
        assert render_template_string("{{ x|safe }}", x="<i>") == "<i>"


def test_select_jinja_autoescape(app):
    assert app.select_jinja_autoescape(None) is True
    assert app.select_jinja_autoescape("a.HTML") is False  # as Flask: exact suffix
    assert app.select_jinja_autoescape("a.svg") is True
    assert app.select_jinja_autoescape("a.txt") is False

    class TxtApp(Erlen):
        def select_jinja_autoescape(self, filename):
            return True

    txt_app = TxtApp(__name__, root_path=HERE)
    with txt_app.app_context():
        assert render_template("escape.txt", text="<") == "&lt;"


# -- tojson ----------------------------------------------------------------------------------
def test_tojson_is_safe_inside_script_and_attributes(app):
    data = {"b": "</script><script>alert('x')</script>", "a": "&"}
    with app.test_request_context():
        out = render_template("script.html", data=data)
    assert out.count("</script>") == 1  # only the template's own closing tag
    assert "'x'" not in out
    expected = (
        '{"a": "\\u0026", "b": "\\u003c/script\\u003e\\u003cscript\\u003e'
        'alert(\\u0027x\\u0027)\\u003c/script\\u003e"}'
    )
    assert out == (
        f"<script>var data = {expected};</script>\n<div data-x='{expected}'></div>"
    )


def test_tojson_returns_markup_and_takes_indent(app):
    with app.test_request_context():
        env = app.jinja_env
        rv = env.filters["tojson"](env, [1, {"k": "<"}])
        assert isinstance(rv, Markup)
        assert rv == '[1, {"k": "\\u003c"}]'
        out = render_template_string("{{ x|tojson(indent=2) }}", x={"b": 1, "a": 2})
    assert out == '{\n  "a": 2,\n  "b": 1\n}'


def test_tojson_uses_the_current_json_provider(app):
    from erlen.json.provider import DefaultJSONProvider

    class Upper(DefaultJSONProvider):
        def dumps(self, obj, **kwargs):
            return super().dumps(obj, **kwargs).upper()

    with app.test_request_context():
        assert render_template_string("{{ 'a'|tojson }}") == '"a"'
        app.json = Upper(app)
        assert render_template_string("{{ 'a'|tojson }}") == '"A"'


def test_tojson_sorts_keys_even_when_the_provider_does_not(app):
    # Jinja's json.dumps_kwargs policy (sort_keys=True) applies, as in Flask.
    app.json.sort_keys = False
    with app.test_request_context():
        assert render_template_string("{{ x|tojson }}", x={"b": 1, "a": 2}) == (
            '{"a": 2, "b": 1}'
        )
        app.jinja_env.policies["json.dumps_kwargs"] = {}
        assert render_template_string("{{ x|tojson }}", x={"b": 1, "a": 2}) == (
            '{"b": 1, "a": 2}'
        )


def test_tojson_policy_function_overrides_the_provider(app):
    app.jinja_env.policies["json.dumps_function"] = lambda obj, **kw: "'<>'"
    with app.test_request_context():
        assert (
            render_template_string("{{ 1|tojson }}") == "\\u0027\\u003c\\u003e\\u0027"
        )


def test_tojson_dates_and_markup_like_jsonify(app):
    import datetime

    with app.test_request_context():
        out = render_template_string(
            "{{ x|tojson }}", x=[datetime.date(2024, 1, 2), Markup("<b>")]
        )
    assert out == '["Tue, 02 Jan 2024 00:00:00 GMT", "\\u003cb\\u003e"]'


# -- loaders --------------------------------------------------------------------------------
def test_app_templates_win_over_blueprint_templates(app):
    app.register_blueprint(_bp("admin"))
    with app.test_request_context():
        assert render_template("override.html") == "from the app"


def test_blueprint_folders_are_searched_in_registration_order(app):
    app.register_blueprint(_bp("one", "blueprint_templates"))
    app.register_blueprint(_bp("two", "blueprint_templates2"))
    with app.test_request_context():
        assert render_template("shared/both.html") == "first blueprint"
        assert render_template("shared/only2.html") == "only second"


def test_blueprint_folders_in_other_registration_order(app):
    app.register_blueprint(_bp("two", "blueprint_templates2"))
    app.register_blueprint(_bp("one", "blueprint_templates"))
    with app.test_request_context():
        assert render_template("shared/both.html") == "second blueprint"


def test_inheritance_macros_and_includes_across_loaders(app, client):
    bp = _bp("admin", url_prefix="/admin")
    bp.add_url_rule("/", "index", lambda: render_template("admin/index.html", name="x"))
    bp.add_url_rule(
        "/macro", "macro", lambda: render_template("admin/uses_app_macro.html")
    )
    app.register_blueprint(bp)
    app.add_url_rule(
        "/", "index", lambda: render_template("uses_blueprint_parts.html", name="ab")
    )
    # A blueprint template extends the app's base.html.
    assert client.get("/admin/").text == "<title>Default</title>\n<body>admin:x</body>"
    # A blueprint template imports a macro from the app's folder.
    assert client.get("/admin/macro").text == "Hello bp!"
    # An app template imports a blueprint macro and includes a blueprint partial.
    assert client.get("/").text == "AB!|<b>badge ab</b>"


def test_app_without_template_folder_uses_blueprint_folders():
    app = Erlen(__name__, root_path=HERE, template_folder=None)
    assert app.jinja_loader is None
    app.register_blueprint(_bp("admin"))
    with app.test_request_context():
        assert render_template("override.html") == "from a blueprint"
        with pytest.raises(jinja2.TemplateNotFound):
            render_template("hello.html")


def test_jinja_loader_is_a_cached_file_system_loader(app):
    loader = app.jinja_loader
    assert isinstance(loader, jinja2.FileSystemLoader)
    assert loader.searchpath == [os.path.join(HERE, "templates")]
    assert app.jinja_loader is loader
    assert _bp("b", None).jinja_loader is None
    assert _bp("b").jinja_loader.searchpath == [
        os.path.join(HERE, "blueprint_templates")
    ]


def test_list_templates_covers_app_and_blueprints(app):
    app.register_blueprint(_bp("one", "blueprint_templates"))
    app.register_blueprint(_bp("two", "blueprint_templates2"))
    names = app.jinja_env.list_templates()
    assert "hello.html" in names
    assert "admin/_tools.html" in names
    assert "shared/only2.html" in names
    assert names.count("shared/both.html") == 1


def test_explain_template_loading_logs_each_attempt(app, caplog):
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    bp = _bp("admin", url_prefix="/admin")
    app.register_blueprint(bp)
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        with app.test_request_context():
            assert render_template("override.html") == "from the app"
        with app.test_request_context(), pytest.raises(jinja2.TemplateNotFound):
            render_template("nowhere.html")
    text = caplog.text
    assert "Locating template 'override.html'" in text
    assert "application 'erlen_test_app'" in text
    assert "blueprint 'admin'" in text
    assert "several loaders found the template" in text
    assert "Locating template 'nowhere.html'" in text
    assert "the template could not be found" in text


# -- auto reload -------------------------------------------------------------------------
def _reload_app(tmp_path, **config):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.txt").write_text("one")
    app = Erlen("reload_app", root_path=str(tmp_path))
    app.config.update(config)
    return app


def _rewrite(path, text):
    # Jinja compares modification times; make sure the new one differs.
    stat = os.stat(path)
    path.write_text(text)
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))


@pytest.mark.parametrize(
    ("config", "debug", "expected"),
    [
        (None, False, False),
        (None, True, True),
        (True, False, True),
        (False, True, False),
    ],
)
def test_auto_reload_follows_config_then_debug(tmp_path, config, debug, expected):
    app = _reload_app(tmp_path, TEMPLATES_AUTO_RELOAD=config, DEBUG=debug)
    assert app.jinja_env.auto_reload is expected


def test_debug_setter_flips_auto_reload_of_an_existing_environment(tmp_path):
    app = _reload_app(tmp_path)
    assert app.jinja_env.auto_reload is False
    app.debug = True
    assert app.jinja_env.auto_reload is True
    app.config["TEMPLATES_AUTO_RELOAD"] = False
    app.debug = False
    app.debug = True
    assert app.jinja_env.auto_reload is True  # unchanged: the config decides


def test_changed_template_is_reloaded_only_with_auto_reload(tmp_path):
    app = _reload_app(tmp_path, TEMPLATES_AUTO_RELOAD=True)
    page = tmp_path / "templates" / "page.txt"
    with app.app_context():
        assert render_template("page.txt") == "one"
        _rewrite(page, "two")
        assert render_template("page.txt") == "two"
        app.jinja_env.auto_reload = False
        _rewrite(page, "three")
        assert render_template("page.txt") == "two"


def test_jinja_options_auto_reload_wins(tmp_path):
    app = _reload_app(tmp_path, DEBUG=True)
    app.jinja_options = {"auto_reload": False}
    assert app.jinja_env.auto_reload is False


# -- signals ------------------------------------------------------------------------------
def test_render_signals_carry_template_and_context(app, client):
    events = []

    def before(sender, template, context, **extra):
        events.append(("before", sender, template.name, dict(context)))
        context["name"] = "changed by receiver"

    def after(sender, template, context, **extra):
        events.append(("after", sender, template.name, context["name"]))

    app.add_url_rule("/", "index", lambda: render_template("hello.html", name="x"))
    with (
        before_render_template.connected_to(before),
        template_rendered.connected_to(after),
    ):
        rv = client.get("/")
    assert rv.text == "Hello changed by receiver!"
    assert [e[0] for e in events] == ["before", "after"]
    assert events[0][1] is app
    assert events[0][2] == "hello.html"
    assert events[0][3]["name"] == "x"
    assert events[1][3] == "changed by receiver"


def test_template_rendered_is_sent_after_a_stream_is_consumed(app):
    names = []

    def after(sender, template, context, **extra):
        names.append(template.name)

    with template_rendered.connected_to(after, app), app.test_request_context():
        gen = stream_template("hello.html", name="s")
        assert names == []
        assert "".join(gen) == "Hello s!"
    assert names == ["hello.html"]


def test_async_signal_receivers_run(app):
    seen = []

    async def receiver(sender, template, context, **extra):
        seen.append(template.name)

    with template_rendered.connected_to(receiver, app), app.test_request_context():
        render_template("hello.html", name="a")
    assert seen == ["hello.html"]


# -- Flask parity -------------------------------------------------------------------------
PARITY_CASES = [
    ("child.html", {"text": "<b>&"}),
    ("uses_macro.html", {"name": "<m>"}),
    ("include_parent.html", {"name": "inc"}),
    ("script.html", {"data": {"z": [1, 2.5, None, True], "a": "</script>'&"}}),
    ("escape.txt", {"text": "<raw>"}),
    ("escape.svg", {"text": "<svg>"}),
    ("hello.html", {"name": Markup("<em>ok</em>")}),
]


@pytest.mark.parametrize(("name", "context"), PARITY_CASES)
def test_output_matches_flask(app, name, context):
    flask_app = flask.Flask("flask_parity", root_path=HERE)
    with flask_app.test_request_context("/x?q=1"):
        expected = flask.render_template(name, **context)
    with app.test_request_context("/x?q=1"):
        assert render_template(name, **context) == expected


def test_string_output_and_globals_match_flask(app):
    source = (
        "{{ request.path }} {{ request.args.q }} {{ config.TESTING }}"
        " {{ x }} {{ x|tojson }} {{ url_for('index', a='<') }}"
    )
    flask_app = flask.Flask("flask_parity", root_path=HERE)
    flask_app.config["TESTING"] = True
    flask_app.add_url_rule("/", "index", lambda: "")
    app.add_url_rule("/", "index", lambda: "")
    with flask_app.test_request_context("/x?q=1"):
        expected = flask.render_template_string(source, x="'<'")
    with app.test_request_context("/x?q=1"):
        assert render_template_string(source, x="'<'") == expected


def test_public_names_are_exported():
    for name in (
        "render_template",
        "render_template_string",
        "stream_template",
        "stream_template_string",
        "get_template_attribute",
    ):
        assert getattr(erlen, name) is getattr(erlen.templating, name)
        assert name in erlen.__all__


def test_loader_is_consulted_once_per_template(app):
    calls = []
    loader = app.create_global_jinja_loader()
    original = loader.get_source

    def counting(environment, template):
        calls.append(template)
        return original(environment, template)

    loader.get_source = counting
    app.jinja_env.loader = loader
    with app.app_context():
        for _ in range(3):
            render_template("hello.html", name="c")
    assert calls == ["hello.html"]


# -- the render shortcut keeps Jinja's behaviour ----------------------------------------------
def test_errors_in_templates_point_at_the_template_line(app):
    import traceback

    with app.test_request_context(), pytest.raises(ZeroDivisionError) as exc:
        render_template("broken.txt", zero=0)
    frames = traceback.extract_tb(exc.value.__traceback__)
    assert any(
        f.filename.endswith(os.path.join("templates", "broken.txt")) and f.lineno == 2
        for f in frames
    )


def test_template_globals_rank_below_context_and_above_env_globals(app):
    app.add_template_global(lambda: "env", "who")
    with app.test_request_context():
        tpl = app.jinja_env.get_template(
            "hello.html", globals={"who": "template", "name": "global"}
        )
        assert render_template(tpl) == "Hello global!"
        assert render_template(tpl, name="context") == "Hello context!"
        assert app.jinja_env.from_string("{{ who() }}").render() == "env"
        assert render_template_string("{{ who() }}") == "env"


def test_a_template_class_with_its_own_render_is_used(app):
    class LoudTemplate(jinja2.Template):
        def render(self, *args, **kwargs):
            return super().render(*args, **kwargs).upper()

    app.jinja_env.template_class = LoudTemplate
    with app.test_request_context():
        assert render_template("hello.html", name="x") == "HELLO X!"


def test_async_environment_renders(app):
    app.jinja_options = {"enable_async": True}

    @app.route("/")
    def index():
        return render_template("hello.html", name="async")

    assert app.test_client().get("/").text == "Hello async!"
