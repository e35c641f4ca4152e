"""Flask apps for each scenario, written as the Flask documentation writes them.

Imports ``flask`` and ``scenarios``. WSGI only.
"""

from __future__ import annotations

import flask
import scenarios as S
from flask import Flask, g, render_template, request, session

PROTOCOLS = ("wsgi",)


def version() -> str:
    from importlib.metadata import version as v

    return v("flask")


def _app() -> Flask:
    return Flask(__name__, template_folder=S.TEMPLATE_DIR)


def hello() -> Flask:
    app = _app()

    @app.route("/")
    def index():
        return "Hello, World!"

    return app


def json() -> Flask:
    app = _app()

    @app.route("/users/<int:user_id>")
    def user(user_id):
        return {"id": user_id, "name": f"user {user_id}", "active": True}

    return app


def query() -> Flask:
    app = _app()

    @app.route("/search")
    def search():
        args = request.args
        return {
            "q": args.get("q", ""),
            "page": args.get("page", 1, type=int),
            "tags": args.getlist("tags"),
            "sort": args.get("sort", "asc"),
        }

    return app


def form() -> Flask:
    app = _app()

    @app.route("/form", methods=["POST"])
    def submit():
        return request.form.to_dict()

    return app


def upload() -> Flask:
    app = _app()

    @app.route("/upload", methods=["POST"])
    def receive():
        f = request.files["file"]
        data = f.read()
        return {
            "title": request.form["title"],
            "filename": f.filename,
            "size": len(data),
        }

    return app


def template() -> Flask:
    app = _app()

    @app.route("/items")
    def items():
        return render_template("items.html", title=S.TEMPLATE_TITLE, items=S.ITEMS)

    return app


def session_() -> Flask:
    app = _app()
    app.secret_key = S.SECRET_KEY

    @app.route("/counter")
    def counter():
        count = session.get("count", 0) + 1
        session["count"] = count
        return str(count)

    return app


def routes() -> Flask:
    app = _app()

    def make_view(i):
        def view(item_id):
            return f"resource{i} item {item_id}"

        return view

    for i in range(S.N_ROUTES):
        app.add_url_rule(f"/resource{i}/<int:item_id>", f"resource{i}", make_view(i))
    return app


def hooks() -> Flask:
    app = _app()

    @app.before_request
    def one():
        g.one = "1"

    @app.before_request
    def two():
        g.two = "2"

    @app.before_request
    def three():
        g.three = "3"

    @app.after_request
    def hook1(response):
        response.headers["X-Hook-1"] = "1"
        return response

    @app.after_request
    def hook2(response):
        response.headers["X-Hook-2"] = "2"
        return response

    @app.after_request
    def hook3(response):
        response.headers["X-Hook-3"] = "3"
        return response

    @app.route("/")
    def index():
        return f"hooks {g.one}{g.two}{g.three}"

    return app


_BUILDERS = {
    "hello": hello,
    "json": json,
    "query": query,
    "form": form,
    "upload": upload,
    "template": template,
    "session": session_,
    "notfound": routes,
    "hooks": hooks,
    "routes": routes,
}


def build(scenario: str, protocol: str) -> flask.Flask:
    """Return a Flask app serving *scenario*."""
    return _BUILDERS[scenario]()
