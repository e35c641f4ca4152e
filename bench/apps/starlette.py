"""Starlette apps for each scenario, written as Starlette's documentation writes them.

Endpoints take a ``Request`` and return a ``Response``; sessions are
``SessionMiddleware`` (itsdangerous-signed cookie); templates are ``Jinja2Templates``;
hooks are ``BaseHTTPMiddleware`` subclasses, the documented way to run code before and
after every request. Imports ``starlette`` and ``scenarios``. ASGI only.
"""

from __future__ import annotations

import scenarios as S
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

PROTOCOLS = ("asgi",)


def version() -> str:
    from importlib.metadata import version as v

    return v("starlette")


async def hello_endpoint(request):
    return PlainTextResponse("Hello, World!")


async def user(request):
    user_id = request.path_params["user_id"]
    return JSONResponse({"id": user_id, "name": f"user {user_id}", "active": True})


async def search(request):
    params = request.query_params
    return JSONResponse(
        {
            "q": params.get("q", ""),
            "page": int(params.get("page", 1)),
            "tags": params.getlist("tags"),
            "sort": params.get("sort", "asc"),
        }
    )


async def submit(request):
    async with request.form() as form:
        return JSONResponse(dict(form))


async def receive_upload(request):
    async with request.form() as form:
        f = form["file"]
        data = await f.read()
        return JSONResponse(
            {"title": form["title"], "filename": f.filename, "size": len(data)}
        )


templates = Jinja2Templates(directory=S.TEMPLATE_DIR)


async def items(request):
    return templates.TemplateResponse(
        request, "items.html", {"title": S.TEMPLATE_TITLE, "items": S.ITEMS}
    )


async def counter(request):
    count = request.session.get("count", 0) + 1
    request.session["count"] = count
    return PlainTextResponse(str(count))


def make_view(i):
    async def view(request):
        return PlainTextResponse(f"resource{i} item {request.path_params['item_id']}")

    return view


class Hook1(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        request.state.one = "1"
        response = await call_next(request)
        response.headers["X-Hook-1"] = "1"
        return response


class Hook2(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        request.state.two = "2"
        response = await call_next(request)
        response.headers["X-Hook-2"] = "2"
        return response


class Hook3(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        request.state.three = "3"
        response = await call_next(request)
        response.headers["X-Hook-3"] = "3"
        return response


async def hooked(request):
    state = request.state
    return PlainTextResponse(f"hooks {state.one}{state.two}{state.three}")


def routes() -> Starlette:
    return Starlette(
        routes=[
            Route(f"/resource{i}/{{item_id:int}}", make_view(i))
            for i in range(S.N_ROUTES)
        ]
    )


_BUILDERS = {
    "hello": lambda: Starlette(routes=[Route("/", hello_endpoint)]),
    "json": lambda: Starlette(routes=[Route("/users/{user_id:int}", user)]),
    "query": lambda: Starlette(routes=[Route("/search", search)]),
    "form": lambda: Starlette(routes=[Route("/form", submit, methods=["POST"])]),
    "upload": lambda: Starlette(
        routes=[Route("/upload", receive_upload, methods=["POST"])]
    ),
    "template": lambda: Starlette(routes=[Route("/items", items)]),
    "session": lambda: Starlette(
        routes=[Route("/counter", counter)],
        middleware=[Middleware(SessionMiddleware, secret_key=S.SECRET_KEY)],
    ),
    "notfound": routes,
    "hooks": lambda: Starlette(
        routes=[Route("/", hooked)],
        middleware=[Middleware(Hook1), Middleware(Hook2), Middleware(Hook3)],
    ),
    "routes": routes,
}


def build(scenario: str, protocol: str) -> Starlette:
    """Return a Starlette app serving *scenario*."""
    return _BUILDERS[scenario]()
