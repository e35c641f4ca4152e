"""Bottle apps for each scenario, written as Bottle's documentation writes them.

Sessions are Bottle's signed cookies (``get_cookie``/``set_cookie`` with ``secret``);
templates use Bottle's built-in Jinja2 adapter. Imports ``bottle`` and ``scenarios``.
WSGI only.
"""

from __future__ import annotations

import scenarios as S
from bottle import Bottle, jinja2_template, request, response

PROTOCOLS = ("wsgi",)

# Bottle caches compiled templates by the lookup list's identity: keep one list.
_LOOKUP = [S.TEMPLATE_DIR]
# Bottle's Jinja2 adapter does not autoescape by default; the other frameworks do,
# so ask for it to render the same way.
_SETTINGS = {"autoescape": True}


def version() -> str:
    from importlib.metadata import version as v

    return v("bottle")


def hello() -> Bottle:
    app = Bottle()

    @app.route("/")
    def index():
        return "Hello, World!"

    return app


def json() -> Bottle:
    app = Bottle()

    @app.route("/users/<user_id:int>")
    def user(user_id):
        return {"id": user_id, "name": f"user {user_id}", "active": True}

    return app


def query() -> Bottle:
    app = Bottle()

    @app.route("/search")
    def search():
        q = request.query
        return {
            "q": q.get("q", ""),
            "page": int(q.get("page", 1)),
            "tags": q.getall("tags"),
            "sort": q.get("sort", "asc"),
        }

    return app


def form() -> Bottle:
    app = Bottle()

    @app.post("/form")
    def submit():
        return dict(request.forms)

    return app


def upload() -> Bottle:
    app = Bottle()

    @app.post("/upload")
    def receive():
        f = request.files.get("file")
        data = f.file.read()
        return {"title": request.forms.title, "filename": f.filename, "size": len(data)}

    return app


def template() -> Bottle:
    app = Bottle()

    @app.route("/items")
    def items():
        return jinja2_template(
            "items.html",
            template_lookup=_LOOKUP,
            template_settings=_SETTINGS,
            title=S.TEMPLATE_TITLE,
            items=S.ITEMS,
        )

    return app


def session_() -> Bottle:
    app = Bottle()

    @app.route("/counter")
    def counter():
        count = int(request.get_cookie("count", "0", secret=S.SECRET_KEY)) + 1
        response.set_cookie("count", str(count), secret=S.SECRET_KEY, path="/")
        return str(count)

    return app


def routes() -> Bottle:
    app = Bottle()

    def make_view(i):
        def view(item_id):
            return f"resource{i} item {item_id}"

        return view

    for i in range(S.N_ROUTES):
        app.route(f"/resource{i}/<item_id:int>", callback=make_view(i))
    return app


def hooks() -> Bottle:
    app = Bottle()

    @app.hook("before_request")
    def one():
        request.one = "1"

    @app.hook("before_request")
    def two():
        request.two = "2"

    @app.hook("before_request")
    def three():
        request.three = "3"

    @app.hook("after_request")
    def hook1():
        response.set_header("X-Hook-1", "1")

    @app.hook("after_request")
    def hook2():
        response.set_header("X-Hook-2", "2")

    @app.hook("after_request")
    def hook3():
        response.set_header("X-Hook-3", "3")

    @app.route("/")
    def index():
        return f"hooks {request.one}{request.two}{request.three}"

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


def build(scenario: str, protocol: str) -> Bottle:
    """Return a Bottle app serving *scenario*."""
    return _BUILDERS[scenario]()
