"""Quart apps for each scenario, written as Quart's documentation writes them.

Flask's API with ``async def`` views and ``await`` on the request body. Imports
``quart`` and ``scenarios``. ASGI only.
"""

from __future__ import annotations

import scenarios as S
from quart import Quart, g, render_template, request, session

PROTOCOLS = ("asgi",)


def version() -> str:
    from importlib.metadata import version as v

    return v("quart")


def _app() -> Quart:
    return Quart(__name__, template_folder=S.TEMPLATE_DIR)


def hello() -> Quart:
    app = _app()

    @app.route("/")
    async def index():
        return "Hello, World!"

    return app


def json() -> Quart:
    app = _app()

    @app.route("/users/<int:user_id>")
    async def user(user_id):
        return {"id": user_id, "name": f"user {user_id}", "active": True}

    return app


def query() -> Quart:
    app = _app()

    @app.route("/search")
    async def search():
        args = request.args
        return {
            "q": args.get("q", ""),
            "page": args.get("page", 1, type=int),
            "tags": args.getlist("tags"),
            "sort": args.get("sort", "asc"),
        }

    return app


def form() -> Quart:
    app = _app()

    @app.route("/form", methods=["POST"])
    async def submit():
        return (await request.form).to_dict()

    return app


def upload() -> Quart:
    app = _app()

    @app.route("/upload", methods=["POST"])
    async def receive():
        files = await request.files
        form = await request.form
        f = files["file"]
        data = f.read()
        return {"title": form["title"], "filename": f.filename, "size": len(data)}

    return app


def template() -> Quart:
    app = _app()

    @app.route("/items")
    async def items():
        return await render_template(
            "items.html", title=S.TEMPLATE_TITLE, items=S.ITEMS
        )

    return app


def session_() -> Quart:
    app = _app()
    app.secret_key = S.SECRET_KEY

    @app.route("/counter")
    async def counter():
        count = session.get("count", 0) + 1
        session["count"] = count
        return str(count)

    return app


def routes() -> Quart:
    app = _app()

    def make_view(i):
        async def view(item_id):
            return f"resource{i} item {item_id}"

        return view

    for i in range(S.N_ROUTES):
        app.add_url_rule(f"/resource{i}/<int:item_id>", f"resource{i}", make_view(i))
    return app


def hooks() -> Quart:
    app = _app()

    @app.before_request
    async def one():
        g.one = "1"

    @app.before_request
    async def two():
        g.two = "2"

    @app.before_request
    async def three():
        g.three = "3"

    @app.after_request
    async def hook1(response):
        response.headers["X-Hook-1"] = "1"
        return response

    @app.after_request
    async def hook2(response):
        response.headers["X-Hook-2"] = "2"
        return response

    @app.after_request
    async def hook3(response):
        response.headers["X-Hook-3"] = "3"
        return response

    @app.route("/")
    async def index():
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


def build(scenario: str, protocol: str) -> Quart:
    """Return a Quart app serving *scenario*."""
    return _BUILDERS[scenario]()
