"""Blueprints: prefixes, names, nesting, hooks and handlers scoped to them."""

from __future__ import annotations

import pytest

from erlen import Blueprint, abort, request, url_for


def test_prefix_and_endpoint_names(app, client):
    bp = Blueprint("admin", __name__, url_prefix="/admin")

    @bp.route("/")
    def index():
        return f"{request.endpoint} {request.blueprint} {url_for('.index')}"

    @bp.route("/users/<int:uid>")
    def user(uid):
        return url_for("admin.user", uid=uid)

    app.register_blueprint(bp)
    assert client.get("/admin/").data == b"admin.index admin /admin/"
    assert client.get("/admin/users/3").data == b"/admin/users/3"
    assert app.blueprints == {"admin": bp}
    assert list(app.iter_blueprints()) == [bp]


def test_register_options_override(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/x")

    @bp.route("/<lang>/")
    def index(lang):
        return lang

    app.register_blueprint(bp, url_prefix="/y", url_defaults={"lang": "en"})
    app.register_blueprint(bp, name="bp2", url_prefix="/z")
    # As in Flask: a registration default wins over the URL's value.
    assert client.get("/y/de/").data == b"en"
    assert client.get("/z/fr/").data == b"fr"
    with app.test_request_context():
        assert url_for("bp2.index", lang="it") == "/z/it/"


def test_name_rules(app):
    with pytest.raises(ValueError, match="dot"):
        Blueprint("a.b", __name__)
    with pytest.raises(ValueError, match="empty"):
        Blueprint("", __name__)
    bp = Blueprint("same", __name__)
    other = Blueprint("same", __name__)
    app.register_blueprint(bp)
    with pytest.raises(ValueError, match="a different blueprint"):
        app.register_blueprint(other)
    with pytest.raises(ValueError, match="this blueprint"):
        app.register_blueprint(bp)
    with pytest.raises(ValueError, match="dot"):
        app.register_blueprint(other, name="x.y")
    with pytest.raises(ValueError, match="dot"):
        other.add_url_rule("/", "a.b", lambda: "")
    with pytest.raises(ValueError, match="itself"):
        other.register_blueprint(other)


def test_nested_blueprints(app, client):
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")
    grandchild = Blueprint("grandchild", __name__)
    calls = []

    @parent.before_request
    def p_before():
        calls.append("parent")

    @child.before_request
    def c_before():
        calls.append("child")

    @child.route("/")
    def index():
        return f"{request.endpoint} {request.blueprints}"

    @grandchild.route("/gc")
    def gc():
        return url_for(".gc")

    @child.errorhandler(404)
    def child_404(e):
        return "child 404", 404

    @child.route("/missing")
    def missing():
        abort(404)

    child.register_blueprint(grandchild, url_prefix="/g")
    parent.register_blueprint(child)
    app.register_blueprint(parent)

    rv = client.get("/parent/child/")
    assert rv.data == b"parent.child.index ['parent.child', 'parent']"
    assert calls == ["parent", "child"]
    assert client.get("/parent/child/g/gc").data == b"/parent/child/g/gc"
    assert client.get("/parent/child/missing").data == b"child 404"
    # The app's own 404 is not the blueprint's.
    assert client.get("/nowhere").status_code == 404
    assert client.get("/nowhere").data != b"child 404"


def test_blueprint_hooks_only_for_its_requests(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    seen = []

    @bp.before_request
    def before():
        seen.append("bp before")

    @bp.after_request
    def after(resp):
        seen.append("bp after")
        return resp

    @bp.teardown_request
    def td(exc):
        seen.append("bp teardown")

    @bp.url_value_preprocessor
    def uvp(endpoint, values):
        seen.append(("uvp", endpoint))

    @bp.route("/")
    def index():
        return "bp"

    @app.route("/")
    def root():
        return "app"

    app.register_blueprint(bp)
    client.get("/")
    assert seen == []
    client.get("/bp/")
    assert seen == [("uvp", "bp.index"), "bp before", "bp after", "bp teardown"]


def test_app_wide_hooks_from_blueprint(app, client):
    bp = Blueprint("bp", __name__)
    seen = []

    @bp.before_app_request
    def before():
        seen.append("before")

    @bp.after_app_request
    def after(resp):
        resp.headers["X-App"] = "1"
        return resp

    @bp.teardown_app_request
    def td(exc):
        seen.append("teardown")

    @bp.app_errorhandler(404)
    def nf(e):
        return "bp says 404", 404

    @bp.app_url_value_preprocessor
    def uvp(endpoint, values):
        seen.append("uvp")

    @bp.app_url_defaults
    def defaults(endpoint, values):
        values.setdefault("x", "1")

    @bp.app_context_processor
    def cp():
        return {}

    @app.route("/")
    def index():
        return url_for("index")

    app.register_blueprint(bp)
    rv = client.get("/")
    assert rv.headers["X-App"] == "1"
    assert rv.data == b"/?x=1"
    assert seen == ["uvp", "before", "teardown"]
    assert client.get("/missing").data == b"bp says 404"


def test_record_and_record_once(app):
    bp = Blueprint("bp", __name__)
    states = []
    bp.record(lambda s: states.append(("every", s.first_registration)))
    bp.record_once(lambda s: states.append(("once", s.first_registration)))
    app.register_blueprint(bp)
    app.register_blueprint(bp, name="bp2")
    assert states == [("every", True), ("once", True), ("every", False)]


def test_setup_after_registration_raises(app):
    bp = Blueprint("bp", __name__)
    app.register_blueprint(bp)
    with pytest.raises(AssertionError, match="blueprint 'bp'"):
        bp.route("/")(lambda: "")


def test_subdomain_blueprint(app, client):
    app.config["SERVER_NAME"] = "example.com"
    app.subdomain_matching = True
    bp = Blueprint("api", __name__, subdomain="api")

    @bp.route("/")
    def index():
        return "api"

    app.register_blueprint(bp)
    assert client.get("/", base_url="http://api.example.com/").data == b"api"
    assert client.get("/", base_url="http://example.com/").status_code == 404


def test_relative_url_for_without_blueprint(app):
    @app.route("/")
    def index():
        return ""

    with app.test_request_context("/"):
        assert url_for(".index") == "/"


def test_blueprint_static_max_age(app, client, tmp_path):
    (tmp_path / "x.txt").write_text("x")
    bp = Blueprint("files", __name__, static_folder=str(tmp_path), url_prefix="/f")
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 60
    app.register_blueprint(bp)
    rv = client.get("/f/" + tmp_path.name + "/x.txt")
    assert rv.status_code == 200
    assert "max-age=60" in rv.headers["Cache-Control"]

    class Short(Blueprint):
        def get_send_file_max_age(self, filename):
            return 5

    app2 = type(app)("other", root_path=app.root_path)
    app2.register_blueprint(Short("s", __name__, static_folder=str(tmp_path)))
    rv = app2.test_client().get("/" + tmp_path.name + "/x.txt")
    assert "max-age=5" in rv.headers["Cache-Control"]
