"""Tests for erlen.lifespan: startup and shutdown work over the ASGI lifespan scope.

Each test plays the server: it sends ``lifespan.startup`` (and later
``lifespan.shutdown``) through ``receive`` and checks what the app answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest

from erlen import Erlen, current_app, g


class LifespanServer:
    """Drive one lifespan scope the way uvicorn does."""

    def __init__(self, app: Erlen) -> None:
        self.app = app
        self.sent: list[dict[str, Any]] = []
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.answered = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        self.answered.set()

    async def _step(self, kind: str) -> dict[str, Any]:
        self.answered.clear()
        await self.inbox.put({"type": kind})
        await asyncio.wait_for(self.answered.wait(), 5)
        return self.sent[-1]

    async def run(self, between: Any = None) -> list[dict[str, Any]]:
        task = asyncio.ensure_future(
            self.app(
                {"type": "lifespan", "asgi": {"version": "3.0"}},
                self.receive,
                self.send,
            )
        )
        started = await self._step("lifespan.startup")
        if started["type"] == "lifespan.startup.complete":
            if between is not None:
                await between()
            await self._step("lifespan.shutdown")
        await asyncio.wait_for(task, 5)
        return self.sent


def serve_lifespan(app: Erlen, between: Any = None) -> list[dict[str, Any]]:
    async def main() -> list[dict[str, Any]]:
        return await LifespanServer(app).run(between)

    return asyncio.run(main())


@pytest.fixture
def app() -> Erlen:
    return Erlen("erlen_lifespan_test")


def test_startup_and_shutdown_run_in_order(app):
    log: list[str] = []

    @app.before_serving
    def first():
        log.append("before 1 (sync)")

    @app.before_serving
    async def second():
        await asyncio.sleep(0)
        log.append("before 2 (async)")

    @app.lifespan
    @contextlib.asynccontextmanager
    async def resource(the_app):
        assert the_app is app
        log.append("enter context A")
        yield
        log.append("exit context A")

    @app.lifespan
    @contextlib.asynccontextmanager
    async def other(the_app):
        log.append("enter context B")
        yield
        log.append("exit context B")

    @app.after_serving
    async def stop_first():
        log.append("after 1 (async)")

    @app.after_serving
    def stop_second():
        log.append("after 2 (sync)")

    async def between():
        log.append("serving")

    sent = serve_lifespan(app, between)
    assert sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    assert log == [
        "before 1 (sync)",
        "before 2 (async)",
        "enter context A",
        "enter context B",
        "serving",
        "exit context B",
        "exit context A",
        "after 1 (async)",
        "after 2 (sync)",
    ]


def test_hooks_run_inside_an_application_context(app):
    seen = {}

    @app.before_serving
    async def start():
        seen["start"] = current_app.name
        g.opened = True

    @app.after_serving
    def stop():
        seen["stop"] = current_app.name

    serve_lifespan(app)
    assert seen == {"start": "erlen_lifespan_test", "stop": "erlen_lifespan_test"}


def test_lifespan_context_can_store_state_for_requests(app):
    @app.lifespan
    @contextlib.asynccontextmanager
    async def pool(the_app):
        the_app.extensions["pool"] = "open"
        yield
        the_app.extensions["pool"] = "closed"

    states = []

    async def between():
        states.append(app.extensions["pool"])

    serve_lifespan(app, between)
    assert states == ["open"]
    assert app.extensions["pool"] == "closed"


def test_a_failing_startup_reports_startup_failed_with_the_error(app, caplog):
    log: list[str] = []

    @app.lifespan
    @contextlib.asynccontextmanager
    async def opened(the_app):
        log.append("open")
        yield
        log.append("closed")

    @app.lifespan
    @contextlib.asynccontextmanager
    async def broken(the_app):
        raise ConnectionError("database unreachable")
        yield  # pragma: no cover

    @app.after_serving
    def never():
        log.append("after_serving")

    with caplog.at_level(logging.ERROR):
        sent = serve_lifespan(app)
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "ConnectionError: database unreachable",
        }
    ]
    # What was opened before the failure is closed again; shutdown work does
    # not run for a worker that never started.
    assert log == ["open", "closed"]
    assert "Startup failed: ConnectionError: database unreachable" in caplog.text


def test_a_failing_before_serving_function(app):
    @app.before_serving
    def boom():
        raise RuntimeError()

    sent = serve_lifespan(app)
    assert sent == [{"type": "lifespan.startup.failed", "message": "RuntimeError"}]


def test_a_failing_shutdown_reports_shutdown_failed_and_still_runs_the_rest(
    app, caplog
):
    log: list[str] = []

    @app.lifespan
    @contextlib.asynccontextmanager
    async def resource(the_app):
        yield
        raise OSError("flush failed")

    @app.after_serving
    def first():
        log.append("first")

    @app.after_serving
    async def second():
        raise ValueError("second failed")

    @app.after_serving
    def third():
        log.append("third")

    with caplog.at_level(logging.ERROR):
        sent = serve_lifespan(app)
    assert sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.failed", "message": "OSError: flush failed"},
    ]
    assert log == ["first", "third"]
    assert "Shutdown failed: OSError: flush failed" in caplog.text


def test_shutdown_stops_the_worker_threads(app):
    @app.route("/")
    def sync_view():
        return "ok"

    async def between():
        messages = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            messages.append(message)

        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "root_path": "",
            "headers": [],
        }
        await app(scope, receive, send)
        assert messages[-1]["body"] == b"ok"
        pools.append(app._asgi_executor)
        assert not pools[0]._shutdown

    pools: list[Any] = []
    serve_lifespan(app, between)
    assert pools[0]._shutdown
    assert "_asgi_executor" not in app.__dict__


def test_registering_serving_hooks_after_the_first_request_is_refused(app):
    @app.route("/")
    def index():
        return "ok"

    app.test_client().get("/")
    with pytest.raises(AssertionError, match="before_serving"):
        app.before_serving(lambda: None)
    with pytest.raises(AssertionError, match="lifespan"):
        app.lifespan(lambda the_app: None)
