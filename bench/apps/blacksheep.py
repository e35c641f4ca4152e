"""BlackSheep apps for each scenario, written as BlackSheep's documentation writes them.

Handlers registered on the app's router, values bound from the route and query by
parameter name, ``text``/``json``/``view`` responses; sessions are ``use_sessions``
(itsdangerous-signed cookie); hooks are middlewares ``(request, handler)``.
Imports ``blacksheep`` and ``scenarios``. ASGI only.
"""

from __future__ import annotations

import scenarios as S
from blacksheep import Application, Request, Router, json, text
from blacksheep.server.rendering.jinja2 import JinjaRenderer
from blacksheep.server.responses import view
from blacksheep.settings.html import html_settings
from jinja2 import FileSystemLoader

PROTOCOLS = ("asgi",)


def version() -> str:
    from importlib.metadata import version as v

    return v("blacksheep")


def _app() -> Application:
    # Each Application needs its own Router: BlackSheep refuses to share the
    # default one between the many apps this benchmark builds in one process.
    return Application(router=Router())


def hello() -> Application:
    app = _app()

    @app.router.get("/")
    async def index():
        return text("Hello, World!")

    return app


def json_() -> Application:
    app = _app()

    @app.router.get("/users/{int:user_id}")
    async def user(user_id: int):
        return json({"id": user_id, "name": f"user {user_id}", "active": True})

    return app


def query() -> Application:
    app = _app()

    @app.router.get("/search")
    async def search(
        q: str = "", page: int = 1, tags: list[str] | None = None, sort: str = "asc"
    ):
        return json({"q": q, "page": page, "tags": tags or [], "sort": sort})

    return app


def form() -> Application:
    app = _app()

    @app.router.post("/form")
    async def submit(request: Request):
        return json(await request.form())

    return app


def upload() -> Application:
    app = _app()

    @app.router.post("/upload")
    async def receive(request: Request):
        form = await request.form()
        f = (await request.files("file"))[0]
        return json(
            {
                "title": form["title"],
                "filename": f.file_name.decode(),
                "size": len(f.data),
            }
        )

    return app


def template() -> Application:
    # BlackSheep looks templates up as "<name>.jinja"; apps/templates/items.jinja
    # links to items.html.
    html_settings.use(JinjaRenderer(loader=FileSystemLoader(S.TEMPLATE_DIR)))
    app = _app()

    @app.router.get("/items")
    async def items():
        return view("items", {"title": S.TEMPLATE_TITLE, "items": S.ITEMS})

    return app


def session_() -> Application:
    app = _app()
    app.use_sessions(S.SECRET_KEY)

    @app.router.get("/counter")
    async def counter(request: Request):
        count = request.session.get("count", 0) + 1
        request.session["count"] = count
        return text(str(count))

    return app


def routes() -> Application:
    app = _app()

    def make_view(i):
        async def resource(item_id: int):
            return text(f"resource{i} item {item_id}")

        return resource

    for i in range(S.N_ROUTES):
        app.router.add_get(f"/resource{i}/{{int:item_id}}", make_view(i))
    return app


async def hook1(request, handler):
    request.one = "1"
    response = await handler(request)
    response.add_header(b"X-Hook-1", b"1")
    return response


async def hook2(request, handler):
    request.two = "2"
    response = await handler(request)
    response.add_header(b"X-Hook-2", b"2")
    return response


async def hook3(request, handler):
    request.three = "3"
    response = await handler(request)
    response.add_header(b"X-Hook-3", b"3")
    return response


def hooks() -> Application:
    app = _app()
    app.middlewares.append(hook1)
    app.middlewares.append(hook2)
    app.middlewares.append(hook3)

    @app.router.get("/")
    async def index(request: Request):
        return text(f"hooks {request.one}{request.two}{request.three}")

    return app


_BUILDERS = {
    "hello": hello,
    "json": json_,
    "query": query,
    "form": form,
    "upload": upload,
    "template": template,
    "session": session_,
    "notfound": routes,
    "hooks": hooks,
    "routes": routes,
}


def build(scenario: str, protocol: str) -> Application:
    """Return a BlackSheep app serving *scenario*."""
    return _BUILDERS[scenario]()
