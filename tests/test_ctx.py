"""Application and request contexts, g, and the context helpers."""

from __future__ import annotations

import asyncio
import threading

import pytest

from erlen import (
    after_this_request,
    appcontext_popped,
    appcontext_pushed,
    copy_current_request_context,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
)
from erlen.globals import _cv_ctx


def test_app_context_push_pop(app):
    assert not has_app_context()
    with app.app_context() as ctx:
        assert has_app_context()
        assert not has_request_context()
        assert current_app._get_current_object() is app
        assert ctx.app is app
        assert repr(ctx) == "<AppContext of 'erlen_test_app'>"
    assert not has_app_context()


def test_request_context_is_also_app_context(app):
    with app.test_request_context("/x"):
        assert has_app_context()
        assert has_request_context()
        assert request.path == "/x"
        g.a = 1
        assert g.a == 1


def test_g_shared_with_outer_app_context(app):
    with app.app_context():
        g.outer = 1
        with app.test_request_context():
            assert g.outer == 1
            g.inner = 2
        assert g.inner == 2


def test_g_not_shared_across_apps(app):
    from erlen import Erlen

    other = Erlen("other")
    with app.app_context():
        g.a = 1
        with other.test_request_context():
            assert "a" not in g
            assert current_app.name == "other"
        assert g.a == 1


def test_g_helpers(app):
    with app.app_context():
        assert g.get("x") is None
        assert g.get("x", 3) == 3
        assert g.setdefault("x", 4) == 4
        assert g.setdefault("x", 5) == 4
        assert g.pop("x") == 4
        assert g.pop("x", None) is None
        with pytest.raises(KeyError):
            g.pop("x")
        with pytest.raises(AttributeError):
            g.missing  # noqa: B018
        assert repr(g._get_current_object()) == "<erlen.g of 'erlen_test_app'>"


def test_teardown_appcontext_runs_with_exception(app):
    seen = []

    @app.teardown_appcontext
    def td(exc):
        seen.append(exc)

    with app.app_context():
        pass
    err = ValueError("x")
    with pytest.raises(ValueError), app.app_context():
        raise err
    assert seen == [None, err]


def test_teardown_request_runs(app):
    seen = []

    @app.teardown_request
    def td(exc):
        seen.append(("req", exc))

    @app.teardown_appcontext
    def td2(exc):
        seen.append(("app", exc))

    with app.test_request_context():
        pass
    assert seen == [("req", None), ("app", None)]

    # Inside an outer app context, the app-context teardown waits for it.
    seen.clear()
    with app.app_context():
        with app.test_request_context():
            pass
        assert seen == [("req", None)]
    assert seen == [("req", None), ("app", None)]


def test_wrong_pop_order_raises(app):
    a = app.app_context()
    b = app.app_context()
    a.push()
    b.push()
    with pytest.raises(AssertionError, match="Popped the wrong app context"):
        a.pop()
    # Clean up in the right order.
    _cv_ctx.set(b)
    b.pop()
    a.pop()


def test_appcontext_signals(app):
    events = []

    def pushed(sender, **kw):
        events.append(("pushed", sender))

    def popped(sender, **kw):
        events.append(("popped", sender))

    with appcontext_pushed.connected_to(pushed), appcontext_popped.connected_to(popped):
        with app.app_context():
            pass
        with app.test_request_context():
            pass
    assert events == [("pushed", app), ("popped", app)] * 2


def test_after_this_request(app, client):
    @app.route("/")
    def index():
        @after_this_request
        def add(resp):
            resp.headers["X-A"] = "1"
            return resp

        return "ok"

    rv = client.get("/")
    assert rv.headers["X-A"] == "1"


def test_after_this_request_outside_request():
    with pytest.raises(RuntimeError, match="after_this_request"):
        after_this_request(lambda r: r)


def test_copy_current_request_context(app, client):
    results = []

    @app.route("/")
    def index():
        @copy_current_request_context
        def work():
            results.append((request.path, request.args["a"]))

        t = threading.Thread(target=work)
        t.start()
        t.join()
        return "ok"

    client.get("/?a=5")
    assert results == [("/", "5")]


def test_copy_current_request_context_outside():
    with pytest.raises(RuntimeError, match="copy_current_request_context"):
        copy_current_request_context(lambda: None)


def test_contexts_are_task_local(app):
    async def main():
        async def one(path):
            with app.test_request_context(path):
                await asyncio.sleep(0.01)
                return request.path

        return await asyncio.gather(one("/a"), one("/b"))

    assert asyncio.run(main()) == ["/a", "/b"]


def test_request_context_repr_and_session_outside(app):
    with app.test_request_context("/r") as ctx:
        assert "GET" in repr(ctx) and "/r" in repr(ctx)
    with app.app_context() as actx, pytest.raises(RuntimeError):
        actx.session  # noqa: B018


def test_request_context_makes_no_reference_cycle(app):
    import gc

    @app.teardown_request
    def td(exc):
        pass

    @app.route("/")
    def index():
        from erlen import g

        g.x = 1
        return "x"

    client = app.test_client()
    client.get("/")
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            client.get("/")
        # Only the test client's own bookkeeping may create cycles; the
        # request contexts themselves must not.
        from erlen.ctx import RequestContext

        found = [o for o in gc.garbage if isinstance(o, RequestContext)]
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found = [o for o in gc.garbage if isinstance(o, RequestContext)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert found == []
