"""Class-based views: View and MethodView."""

from __future__ import annotations

import asyncio

import pytest

from erlen import request
from erlen.views import MethodView, View


def test_view_dispatch_and_args(app, client):
    class Greet(View):
        methods = ["GET", "POST"]

        def __init__(self, greeting):
            self.greeting = greeting

        def dispatch_request(self, name):
            return f"{self.greeting} {name} {request.method}"

    app.add_url_rule("/hi/<name>", view_func=Greet.as_view("greet", "Hello"))
    assert client.get("/hi/ann").data == b"Hello ann GET"
    assert client.post("/hi/bob").data == b"Hello bob POST"
    assert client.put("/hi/bob").status_code == 405
    rule = next(app.url_map.iter_rules("greet"))
    assert rule.methods == {"GET", "HEAD", "POST", "OPTIONS"}
    assert app.view_functions["greet"].view_class is Greet


def test_init_every_request(app, client):
    created = []

    class Counter(View):
        init_every_request = False

        def __init__(self):
            created.append(self)
            self.n = 0

        def dispatch_request(self):
            self.n += 1
            return str(self.n)

    class Fresh(View):
        def __init__(self):
            created.append(self)

        def dispatch_request(self):
            return str(len(created))

    app.add_url_rule("/", view_func=Counter.as_view("count"))
    app.add_url_rule("/fresh", view_func=Fresh.as_view("fresh"))
    assert len(created) == 1
    assert client.get("/").data == b"1"
    assert client.get("/").data == b"2"
    assert len(created) == 1
    assert client.get("/fresh").data == b"2"
    assert client.get("/fresh").data == b"3"


def test_decorators_applied_in_order(app, client):
    def add(tag):
        def decorator(f):
            def wrapper(**kw):
                return tag + f(**kw)

            return wrapper

        return decorator

    class V(View):
        decorators = [add("a"), add("b")]

        def dispatch_request(self):
            return "!"

    app.add_url_rule("/", view_func=V.as_view("v"))
    assert client.get("/").data == b"ba!"
    assert app.view_functions["v"].__name__ == "v"


def test_plain_view_must_implement_dispatch(app, client):
    app.add_url_rule("/", view_func=View.as_view("bare"))
    with pytest.raises(NotImplementedError, match="dispatch_request"):
        client.get("/")


def test_method_view_methods_and_dispatch(app, client):
    class Item(MethodView):
        def get(self, id):
            return f"get {id}"

        def post(self, id):
            return f"post {id}"

        async def delete(self, id):
            await asyncio.sleep(0)
            return f"delete {id}"

    assert Item.methods == {"GET", "POST", "DELETE"}
    app.add_url_rule("/items/<int:id>", view_func=Item.as_view("item"))
    assert client.get("/items/1").data == b"get 1"
    assert client.post("/items/2").data == b"post 2"
    assert client.delete("/items/3").data == b"delete 3"
    head = client.head("/items/4")
    assert head.status_code == 200 and head.data == b""
    assert client.put("/items/5").status_code == 405


def test_method_view_inheritance(app, client):
    class Base(MethodView):
        def get(self):
            return "base get"

    class Child(Base):
        def post(self):
            return "child post"

    class Explicit(Child):
        methods = ["GET"]

    assert Child.methods == {"GET", "POST"}
    assert Explicit.methods == ["GET"]
    app.add_url_rule("/c", view_func=Child.as_view("child"))
    assert client.get("/c").data == b"base get"
    assert client.post("/c").data == b"child post"


def test_method_view_missing_handler_is_clear(app, client):
    class Odd(MethodView):
        methods = ["GET", "PATCH"]

        def get(self):
            return "g"

    app.add_url_rule("/", view_func=Odd.as_view("odd"))
    with pytest.raises(RuntimeError, match="no handler for 'PATCH'"):
        client.patch("/")


def test_provide_automatic_options_from_class(app, client):
    class NoOpts(MethodView):
        provide_automatic_options = False

        def get(self):
            return "x"

    app.add_url_rule("/", view_func=NoOpts.as_view("noopts"))
    assert client.open("/", method="OPTIONS").status_code == 405
