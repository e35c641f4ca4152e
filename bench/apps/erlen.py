"""erlen apps for each scenario, written exactly as a Flask user writes them.

Names a scenario needs beyond ``Erlen`` and ``request`` are imported in its builder,
so that a feature erlen lacks yet makes only that scenario n/a. The same app object
serves WSGI (``app(environ, start_response)``) and ASGI
(``await app(scope, receive, send)``). Under WSGI the views are plain functions, as in
``apps/flask.py``; under ASGI they are ``async def``, as in ``apps/quart.py``.
Imports ``erlen`` and ``scenarios``.
"""

from __future__ import annotations

import scenarios as S

from erlen import Erlen, request

PROTOCOLS = ("wsgi", "asgi")


def version() -> str:
    from importlib.metadata import version as v

    return v("erlen")


def _app() -> Erlen:
    return Erlen(__name__, template_folder=S.TEMPLATE_DIR)


def hello(aio: bool) -> Erlen:
    app = _app()
    if aio:

        @app.route("/")
        async def index():
            return "Hello, World!"

    else:

        @app.route("/")
        def index():
            return "Hello, World!"

    return app


def json(aio: bool) -> Erlen:
    app = _app()
    if aio:

        @app.route("/users/<int:user_id>")
        async def user(user_id):
            return {"id": user_id, "name": f"user {user_id}", "active": True}

    else:

        @app.route("/users/<int:user_id>")
        def user(user_id):
            return {"id": user_id, "name": f"user {user_id}", "active": True}

    return app


def query(aio: bool) -> Erlen:
    app = _app()
    if aio:

        @app.route("/search")
        async def search():
            args = request.args
            return {
                "q": args.get("q", ""),
                "page": args.get("page", 1, type=int),
                "tags": args.getlist("tags"),
                "sort": args.get("sort", "asc"),
            }

    else:

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


def form(aio: bool) -> Erlen:
    app = _app()
    if aio:

        @app.route("/form", methods=["POST"])
        async def submit():
            return request.form.to_dict()

    else:

        @app.route("/form", methods=["POST"])
        def submit():
            return request.form.to_dict()

    return app


def upload(aio: bool) -> Erlen:
    app = _app()
    if aio:

        @app.route("/upload", methods=["POST"])
        async def receive():
            f = request.files["file"]
            data = f.read()
            return {
                "title": request.form["title"],
                "filename": f.filename,
                "size": len(data),
            }

    else:

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


def template(aio: bool) -> Erlen:
    # Imported here, not at the top, so that a missing feature makes this scenario
    # n/a instead of every scenario while erlen is being written.
    from erlen import render_template

    app = _app()
    if aio:

        @app.route("/items")
        async def items():
            return render_template("items.html", title=S.TEMPLATE_TITLE, items=S.ITEMS)

    else:

        @app.route("/items")
        def items():
            return render_template("items.html", title=S.TEMPLATE_TITLE, items=S.ITEMS)

    return app


def session_(aio: bool) -> Erlen:
    from erlen import session

    app = _app()
    app.secret_key = S.SECRET_KEY
    if aio:

        @app.route("/counter")
        async def counter():
            count = session.get("count", 0) + 1
            session["count"] = count
            return str(count)

    else:

        @app.route("/counter")
        def counter():
            count = session.get("count", 0) + 1
            session["count"] = count
            return str(count)

    return app


def routes(aio: bool) -> Erlen:
    app = _app()

    def make_view(i):
        if aio:

            async def view(item_id):
                return f"resource{i} item {item_id}"

        else:

            def view(item_id):
                return f"resource{i} item {item_id}"

        return view

    for i in range(S.N_ROUTES):
        app.add_url_rule(f"/resource{i}/<int:item_id>", f"resource{i}", make_view(i))
    return app


def hooks(aio: bool) -> Erlen:
    from erlen import g

    app = _app()
    if aio:

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

    else:

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


def build(scenario: str, protocol: str) -> Erlen:
    """Return an erlen app serving *scenario*, with async views under ASGI."""
    return _BUILDERS[scenario](protocol == "asgi")
