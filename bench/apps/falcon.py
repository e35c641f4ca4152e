"""Falcon apps for each scenario, written as Falcon's documentation writes them.

Resources with ``on_get``/``on_post`` responders; hooks are middleware components
with ``process_request``/``process_response``. Falcon has no templating or session
support, so those scenarios are :class:`~apps.Unsupported`. Imports ``falcon`` and
``scenarios``. WSGI only (Falcon's ASGI app is not part of this comparison).
"""

from __future__ import annotations

import falcon
import scenarios as S

from apps import Unsupported

PROTOCOLS = ("wsgi",)


def version() -> str:
    return falcon.__version__


class Hello:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "Hello, World!"


class User:
    def on_get(self, req, resp, user_id):
        resp.media = {"id": user_id, "name": f"user {user_id}", "active": True}


class Search:
    def on_get(self, req, resp):
        resp.media = {
            "q": req.get_param("q", default=""),
            "page": req.get_param_as_int("page", default=1),
            "tags": req.get_param_as_list("tags", default=[]),
            "sort": req.get_param("sort", default="asc"),
        }


class Form:
    def on_post(self, req, resp):
        resp.media = req.get_media()


class Upload:
    def on_post(self, req, resp):
        title = filename = None
        size = 0
        for part in req.get_media():
            if part.name == "title":
                title = part.text
            elif part.name == "file":
                filename = part.filename
                size = len(part.stream.read())
        resp.media = {"title": title, "filename": filename, "size": size}


class Resource:
    def __init__(self, index):
        self.index = index

    def on_get(self, req, resp, item_id):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"resource{self.index} item {item_id}"


class Hook1:
    def process_request(self, req, resp):
        req.context.one = "1"

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("X-Hook-1", "1")


class Hook2:
    def process_request(self, req, resp):
        req.context.two = "2"

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("X-Hook-2", "2")


class Hook3:
    def process_request(self, req, resp):
        req.context.three = "3"

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("X-Hook-3", "3")


class HookedHello:
    def on_get(self, req, resp):
        ctx = req.context
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"hooks {ctx.one}{ctx.two}{ctx.three}"


def _one(path: str, resource: object, **kwargs) -> falcon.App:
    app = falcon.App(**kwargs)
    app.add_route(path, resource)
    return app


def routes() -> falcon.App:
    app = falcon.App()
    for i in range(S.N_ROUTES):
        app.add_route(f"/resource{i}/{{item_id:int}}", Resource(i))
    return app


def _unsupported(what: str):
    def build():
        raise Unsupported(f"falcon has no {what}")

    return build


_BUILDERS = {
    "hello": lambda: _one("/", Hello()),
    "json": lambda: _one("/users/{user_id:int}", User()),
    "query": lambda: _one("/search", Search()),
    "form": lambda: _one("/form", Form()),
    "upload": lambda: _one("/upload", Upload()),
    "template": _unsupported("templating"),
    "session": _unsupported("sessions"),
    "notfound": routes,
    "hooks": lambda: _one("/", HookedHello(), middleware=[Hook1(), Hook2(), Hook3()]),
    "routes": routes,
}


def build(scenario: str, protocol: str) -> falcon.App:
    """Return a Falcon WSGI app serving *scenario*."""
    return _BUILDERS[scenario]()
