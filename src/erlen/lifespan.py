"""The ASGI lifespan protocol: startup and shutdown work, once per worker.

Register work on the app with ``@app.before_serving`` / ``@app.after_serving``
(plain or ``async`` functions, run inside an application context) or with
``@app.lifespan``, an async context manager factory that receives the app::

    @app.lifespan
    @contextlib.asynccontextmanager
    async def database(app):
        app.extensions["db"] = await connect()
        yield
        await app.extensions["db"].close()

Startup runs before-serving functions in registration order, then enters the
lifespan contexts; shutdown exits the contexts (last first), then runs the
after-serving functions. A failure reports ``lifespan.startup.failed`` (or
``.shutdown.failed``) with the error's type and message.

Each server runs the lifespan once per worker process; under WSGI there is no
lifespan, so these functions do not run.

May import: erlen.typing. The app is passed in.
"""

from __future__ import annotations

import inspect
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .typing import Receive, Scope, Send


async def _call(func: Any) -> None:
    rv = func()
    if inspect.isawaitable(rv):
        await rv


async def startup(app: Erlen, stack: AsyncExitStack) -> None:
    """Run the before-serving functions and enter the lifespan contexts.

    If one fails, the contexts already entered are exited before the error
    propagates, so nothing opened at startup is left open.
    """
    with app.app_context():
        try:
            for func in app.before_serving_funcs:
                await _call(func)
            for factory in app.lifespan_contexts:
                await stack.enter_async_context(factory(app))
        except BaseException:
            try:
                await stack.aclose()
            except Exception as e:
                app.logger.error("Cleanup after a failed startup failed: %s", e)
            raise


async def shutdown(app: Erlen, stack: AsyncExitStack) -> None:
    """Exit the lifespan contexts, then run the after-serving functions.

    Every step runs even if an earlier one fails; the first error is raised.
    """
    error: BaseException | None = None
    with app.app_context():
        try:
            await stack.aclose()
        except Exception as e:
            error = e
        for func in app.after_serving_funcs:
            try:
                await _call(func)
            except Exception as e:
                error = error or e
    if error is not None:
        raise error


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def run_lifespan(app: Erlen, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ``lifespan`` scope (the server calls this once per worker)."""
    stack = AsyncExitStack()
    for phase, step in (("startup", startup), ("shutdown", shutdown)):
        message = await receive()
        if message["type"] != f"lifespan.{phase}":  # pragma: no cover - server bug
            return
        try:
            await step(app, stack)
        except Exception as e:
            app.logger.error(
                "%s failed: %s", phase.capitalize(), _describe(e), exc_info=e
            )
            await send({"type": f"lifespan.{phase}.failed", "message": _describe(e)})
            return
        await send({"type": f"lifespan.{phase}.complete"})
