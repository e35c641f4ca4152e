"""Litestar apps for each scenario, written as Litestar's documentation writes them.

Typed handlers: path and query values are handler parameters, bodies arrive as
``data`` with a declared encoding. Sessions are Litestar's client-side cookie backend
(AES-GCM encrypted, so it needs ``cryptography``); hooks are ``ASGIMiddleware``
subclasses, because Litestar's ``before_request``/``after_request`` take one function
per layer. Imports ``litestar`` and ``scenarios``. ASGI only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import scenarios as S
from litestar import Litestar, MediaType, Request, get, post
from litestar.datastructures import MutableScopeHeaders, UploadFile
from litestar.enums import RequestEncodingType
from litestar.middleware import ASGIMiddleware
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.params import Body
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

PROTOCOLS = ("asgi",)


def version() -> str:
    from importlib.metadata import version as v

    return v("litestar")


@get("/", media_type=MediaType.TEXT)
async def hello_handler() -> str:
    return "Hello, World!"


@get("/users/{user_id:int}")
async def user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "name": f"user {user_id}", "active": True}


@get("/search")
async def search(
    q: str = "", page: int = 1, tags: list[str] | None = None, sort: str = "asc"
) -> dict[str, Any]:
    return {"q": q, "page": page, "tags": tags or [], "sort": sort}


@post("/form", status_code=200)
async def submit(
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> dict[str, str]:
    return data


@dataclass
class UploadForm:
    title: str
    file: UploadFile


@post("/upload", status_code=200)
async def receive_upload(
    data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> dict[str, Any]:
    content = await data.file.read()
    return {"title": data.title, "filename": data.file.filename, "size": len(content)}


@get("/items")
async def items() -> Template:
    return Template(
        template_name="items.html",
        context={"title": S.TEMPLATE_TITLE, "items": S.ITEMS},
    )


@get("/counter", media_type=MediaType.TEXT)
async def counter(request: Request) -> str:
    count = request.session.get("count", 0) + 1
    request.set_session({"count": count})
    return str(count)


def make_handler(i: int):
    @get(
        f"/resource{i}/{{item_id:int}}", name=f"resource{i}", media_type=MediaType.TEXT
    )
    async def view(item_id: int) -> str:
        return f"resource{i} item {item_id}"

    return view


class Hook1(ASGIMiddleware):
    async def handle(self, scope, receive, send, next_app) -> None:
        scope["state"]["one"] = "1"

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Hook-1"] = "1"
            await send(message)

        await next_app(scope, receive, send_wrapper)


class Hook2(ASGIMiddleware):
    async def handle(self, scope, receive, send, next_app) -> None:
        scope["state"]["two"] = "2"

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Hook-2"] = "2"
            await send(message)

        await next_app(scope, receive, send_wrapper)


class Hook3(ASGIMiddleware):
    async def handle(self, scope, receive, send, next_app) -> None:
        scope["state"]["three"] = "3"

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["X-Hook-3"] = "3"
            await send(message)

        await next_app(scope, receive, send_wrapper)


@get("/", media_type=MediaType.TEXT)
async def hooked(request: Request) -> str:
    state = request.state
    return f"hooks {state.one}{state.two}{state.three}"


def routes() -> Litestar:
    return Litestar([make_handler(i) for i in range(S.N_ROUTES)])


_BUILDERS = {
    "hello": lambda: Litestar([hello_handler]),
    "json": lambda: Litestar([user]),
    "query": lambda: Litestar([search]),
    "form": lambda: Litestar([submit]),
    "upload": lambda: Litestar([receive_upload]),
    "template": lambda: Litestar(
        [items],
        template_config=TemplateConfig(
            directory=S.TEMPLATE_DIR, engine=JinjaTemplateEngine
        ),
    ),
    "session": lambda: Litestar(
        [counter],
        middleware=[CookieBackendConfig(secret=S.SECRET_KEY.encode()).middleware],
    ),
    "notfound": routes,
    "hooks": lambda: Litestar([hooked], middleware=[Hook1(), Hook2(), Hook3()]),
    "routes": routes,
}


def build(scenario: str, protocol: str) -> Litestar:
    """Return a Litestar app serving *scenario*."""
    return _BUILDERS[scenario]()
