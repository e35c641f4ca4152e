"""The app object: construction, config, registration rules, URL building."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from werkzeug.routing import BuildError

import erlen
from erlen import Erlen, Flask, url_for


def test_flask_alias():
    assert Flask is Erlen


def test_name_and_root_path(app):
    assert app.name == "erlen_test_app"
    assert app.root_path == os.path.dirname(__file__)
    assert repr(app) == f"<{type(app).__name__} 'erlen_test_app'>"


def test_default_config_and_attributes():
    app = Erlen(__name__)
    assert app.config["DEBUG"] is False
    assert app.config["TESTING"] is False
    assert app.config["SECRET_KEY"] is None
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=31)
    assert app.config["MAX_FORM_MEMORY_SIZE"] == 500_000
    assert app.config["MAX_FORM_PARTS"] == 1000
    assert app.config["APPLICATION_ROOT"] == "/"
    app.testing = True
    assert app.config["TESTING"] is True
    app.secret_key = "s"
    assert app.config["SECRET_KEY"] == "s"
    app.debug = True
    assert app.debug and app.config["DEBUG"] is True
    app.permanent_session_lifetime = 60
    assert app.permanent_session_lifetime == timedelta(seconds=60)


def test_debug_from_environment(monkeypatch):
    monkeypatch.setenv("ERLEN_DEBUG", "1")
    assert Erlen(__name__).debug is True
    monkeypatch.setenv("ERLEN_DEBUG", "0")
    assert Erlen(__name__).debug is False


def test_instance_path(tmp_path):
    app = Erlen(__name__)
    assert app.instance_path == os.path.join(os.path.dirname(__file__), "instance")
    app = Erlen(__name__, instance_path=str(tmp_path))
    assert app.instance_path == str(tmp_path)
    with pytest.raises(ValueError, match="must be absolute"):
        Erlen(__name__, instance_path="relative")


def test_instance_relative_config(tmp_path):
    (tmp_path / "settings.py").write_text("SECRET_KEY = 'from instance'\n")
    app = Erlen(__name__, instance_path=str(tmp_path), instance_relative_config=True)
    app.config.from_pyfile("settings.py")
    assert app.secret_key == "from instance"
    with app.open_instance_resource("settings.py", "r") as f:
        assert "SECRET_KEY" in f.read()


def test_open_resource(app):
    with app.open_resource("conftest.py") as f:
        assert b"fixture" in f.read()
    with app.open_resource("conftest.py", "r") as f:
        assert "fixture" in f.read()
    with pytest.raises(ValueError, match="reading"):
        app.open_resource("conftest.py", "w")


def test_app_factory_pattern():
    def create_app(config=None):
        app = Erlen(__name__)
        app.config.from_mapping(SECRET_KEY="dev")
        if config:
            app.config.update(config)

        @app.route("/")
        def index():
            return app.config["GREETING"]

        return app

    a = create_app({"GREETING": "a"})
    b = create_app({"GREETING": "b"})
    assert a.test_client().get("/").data == b"a"
    assert b.test_client().get("/").data == b"b"


def test_prefixed_env(monkeypatch):
    monkeypatch.setenv("ERLEN_SECRET_KEY", '"k"')
    monkeypatch.setenv("ERLEN_DB__PORT", "5432")
    app = Erlen(__name__)
    app.config.from_prefixed_env()
    assert app.secret_key == "k"
    assert app.config["DB"] == {"PORT": 5432}


# -- registration -----------------------------------------------------------------


def test_route_shortcut_methods(app, client):
    @app.get("/g")
    def g_():
        return "get"

    @app.post("/p")
    def p_():
        return "post"

    @app.put("/u")
    def u_():
        return "put"

    @app.patch("/pa")
    def pa_():
        return "patch"

    @app.delete("/d")
    def d_():
        return "delete"

    assert client.get("/g").data == b"get"
    assert client.post("/p").data == b"post"
    assert client.put("/u").data == b"put"
    assert client.patch("/pa").data == b"patch"
    assert client.delete("/d").data == b"delete"
    assert client.post("/g").status_code == 405
    with pytest.raises(TypeError, match="route"):
        app.get("/x", methods=["POST"])


def test_endpoint_reuse_raises(app):
    @app.route("/a")
    def view():
        return "a"

    with pytest.raises(AssertionError, match="overwriting an existing endpoint"):

        @app.route("/b", endpoint="view")
        def other():
            return "b"

    # Same function, second rule: allowed.
    app.add_url_rule("/c", "view", view)


def test_methods_must_be_a_list(app):
    with pytest.raises(TypeError, match="list of strings"):
        app.add_url_rule("/", "x", lambda: "", methods="GET")


def test_endpoint_decorator(app, client):
    app.add_url_rule("/", "index")

    @app.endpoint("index")
    def index():
        return "via endpoint"

    assert client.get("/").data == b"via endpoint"


def test_view_func_attributes(app, client):
    def view():
        return "x"

    view.methods = ["POST"]
    view.required_methods = ["PUT"]
    view.provide_automatic_options = False
    app.add_url_rule("/", view_func=view)
    rule = next(app.url_map.iter_rules("view"))
    assert rule.methods == {"POST", "PUT"}
    assert client.open("/", method="OPTIONS").status_code == 405


def test_setup_after_first_request_raises(app, client):
    app.add_url_rule("/", "x", lambda: "x")
    client.get("/")
    with pytest.raises(AssertionError, match="can no longer be called"):
        app.add_url_rule("/y", "y", lambda: "y")
    with pytest.raises(AssertionError, match="first request"):
        app.before_request(lambda: None)


def test_url_map_lists_rules(app):
    @app.route("/user/<int:uid>", methods=["GET", "POST"])
    def user(uid):
        return ""

    rule = next(app.url_map.iter_rules("user"))
    assert rule.rule == "/user/<int:uid>"
    assert rule.endpoint == "user"
    assert rule.methods == {"GET", "HEAD", "POST", "OPTIONS"}
    assert rule.arguments == {"uid"}


def test_run_does_nothing_under_the_cli(app, monkeypatch, recwarn):
    # The erlen command sets this; app.run() in the module must not serve.
    monkeypatch.setenv("ERLEN_RUN_FROM_CLI", "true")
    app.run()  # returns at once instead of serving


def test_example_from_issue(app, client):
    @app.route("/user/<int:uid>", methods=["GET", "POST"])
    def user(uid):
        return {"id": uid, "q": erlen.request.args.get("q")}

    assert client.get("/user/5?q=x").json == {"id": 5, "q": "x"}
    assert client.post("/user/6").json == {"id": 6, "q": None}
    assert client.get("/user/x").status_code == 404


# -- url_for ----------------------------------------------------------------------


@pytest.fixture
def url_app(app):
    @app.route("/")
    def index():
        return ""

    @app.route("/user/<int:uid>")
    def user(uid):
        return ""

    @app.route("/page/", defaults={"n": 1})
    @app.route("/page/<int:n>")
    def page(n):
        return ""

    @app.route("/p/<path:rest>")
    def path(rest):
        return ""

    return app


def test_url_for_in_request(url_app):
    with url_app.test_request_context("/"):
        assert url_for("index") == "/"
        assert url_for("user", uid=3) == "/user/3"
        assert url_for("user", uid=3, q="a b", t=[1, 2]) == "/user/3?q=a+b&t=1&t=2"
        assert url_for("page") == "/page/"
        assert url_for("page", n=1) == "/page/"
        assert url_for("page", n=2) == "/page/2"
        assert url_for("path", rest="a/b c") == "/p/a/b%20c"
        assert url_for("index", _anchor="x y") == "/#x%20y"
        assert url_for("index", _external=True) == "http://localhost/"
        assert url_for("index", _scheme="https", _external=True) == "https://localhost/"
        assert url_for("index", _scheme="https") == "https://localhost/"
        with pytest.raises(ValueError, match="_external"):
            url_for("index", _scheme="https", _external=False)


def test_url_for_script_root(url_app):
    with url_app.test_request_context("/", base_url="http://example.com/app"):
        assert url_for("user", uid=1) == "/app/user/1"
        assert url_for("user", uid=1, _external=True) == "http://example.com/app/user/1"


def test_url_for_build_error(url_app):
    with url_app.test_request_context("/"):
        with pytest.raises(BuildError) as info:
            url_for("user")
        assert "user" in str(info.value)
        with pytest.raises(BuildError):
            url_for("nonexistent")


def test_url_for_build_error_handlers(url_app):
    def handler(error, endpoint, values):
        return f"/fallback/{endpoint}"

    url_app.url_build_error_handlers.append(handler)
    with url_app.test_request_context("/"):
        assert url_for("nonexistent") == "/fallback/nonexistent"


def test_url_for_app_context_needs_server_name(url_app):
    with url_app.app_context(), pytest.raises(RuntimeError, match="SERVER_NAME"):
        url_for("index")
    url_app.config.update(
        SERVER_NAME="example.org",
        APPLICATION_ROOT="/root",
        PREFERRED_URL_SCHEME="https",
    )
    with url_app.app_context():
        assert url_for("user", uid=2) == "https://example.org/root/user/2"
        assert url_for("user", uid=2, _external=False) == "/root/user/2"


def test_url_for_outside_context():
    with pytest.raises(RuntimeError, match="application context"):
        url_for("index")


def test_url_for_method(app):
    @app.route("/a", methods=["GET"])
    def a_get():
        return ""

    app.add_url_rule("/b", "multi", lambda: "", methods=["POST"])
    with app.test_request_context():
        assert url_for("multi", _method="POST") == "/b"
        with pytest.raises(BuildError):
            url_for("multi", _method="GET")


def test_subdomain_matching_and_building():
    app = Erlen(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/", subdomain="<user>")
    def profile(user):
        return f"user {user}"

    @app.route("/")
    def index():
        return "root"

    c = app.test_client()
    assert c.get("/", base_url="http://alice.example.com/").data == b"user alice"
    assert c.get("/", base_url="http://example.com/").data == b"root"
    with app.test_request_context(base_url="http://example.com/"):
        assert url_for("profile", user="bob") == "http://bob.example.com/"
        assert url_for("index") == "/"


def test_host_matching():
    app = Erlen(__name__, host_matching=True, static_folder=None)

    @app.route("/", host="api.example.com")
    def api():
        return "api"

    @app.route("/", host="<name>.example.org")
    def org(name):
        return name

    c = app.test_client()
    assert c.get("/", base_url="http://api.example.com/").data == b"api"
    assert c.get("/", base_url="http://x.example.org/").data == b"x"
    assert c.get("/", base_url="http://other.net/").status_code == 404
    with app.test_request_context(base_url="http://api.example.com/"):
        assert url_for("api") == "/"
        assert url_for("org", name="y") == "http://y.example.org/"


def test_static_host_requires_host_matching():
    with pytest.raises(ValueError, match="static_host"):
        Erlen(__name__, static_host="cdn.example.com")


def test_trusted_hosts(app, client):
    app.config["TRUSTED_HOSTS"] = ["good.example"]
    app.add_url_rule("/", "i", lambda: "ok")
    assert client.get("/", base_url="http://good.example/").status_code == 200
    assert client.get("/", base_url="http://evil.example/").status_code == 400


def test_custom_request_and_response_classes(protocol):
    from erlen import Request, Response, request

    class MyRequest(Request):
        @property
        def shout(self):
            return self.args.get("w", "").upper()

    class MyResponse(Response):
        default_mimetype = "text/plain"

    class MyApp(Erlen):
        request_class = MyRequest
        response_class = MyResponse

    app = MyApp(__name__, static_folder=None)

    @app.route("/")
    def index():
        assert isinstance(request._get_current_object(), MyRequest)
        return request.shout, {"X-Custom": "1"}

    rv = app.test_client().get("/?w=hey")
    assert rv.data == b"HEY"
    assert rv.mimetype == "text/plain"
    assert isinstance(rv, MyResponse)


def test_app_call_is_marked_for_asgi_auto_detection():
    import asyncio

    app = Erlen(__name__, static_folder=None)
    # uvicorn's "auto" interface picks ASGI 3 when this holds.
    assert asyncio.iscoroutinefunction(app.__call__)
