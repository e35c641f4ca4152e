"""The ASGI 3 adapter: ``http`` and ``lifespan`` scopes (``websocket`` in erlen.websockets).

:func:`asgi_app` becomes :meth:`erlen.Erlen.asgi_app`. For HTTP it builds a PEP
3333-style environ from the scope (the Request reads that), reads a request body
before dispatch (bounded by MAX_CONTENT_LENGTH, spooled to disk off the event loop),
runs the pipeline and sends the response:

- an ``async def`` view runs on the server's loop with its hooks;
- a sync view runs — with its hooks and after-request work — in one worker
  thread with the contexts copied, so it never blocks the loop; mark a view with
  :func:`run_inline` (or set ``ASGI_SYNC_INLINE``) to call it on the loop;
- a streamed body is sent chunk by chunk: async iterables on the loop, sync ones
  a chunk at a time from a worker thread; a file body uses the server's
  ``http.response.pathsend`` extension when offered;
- teardown runs after the response is sent, or when the client disconnects;
- an ``async def`` hook, error handler or teardown function called from a
  worker thread is run on the server's loop, not on a loop of the thread.

A view marked with :func:`erlen.streaming.stream_request_body` gets no
pre-read body: the adapter hands ``receive`` to it (a ReceiveStream) instead.

May import: erlen.asgi_environ, erlen.ctx, erlen.globals, erlen.pipeline, erlen.routing,
erlen.typing, erlen.sending (FileBody), erlen.streaming, erlen.views
(MethodView), erlen.websockets, erlen.lifespan.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import io
import tempfile
import threading
import weakref
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeVar

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import pipeline
from .asgi_environ import _ENV_KEYS as _ENV_KEYS
from .asgi_environ import _ENV_KEYS_MAX as _ENV_KEYS_MAX
from .asgi_environ import ASGIEnviron as ASGIEnviron
from .asgi_environ import _environ
from .ctx import RequestContext
from .globals import PRESERVE_CONTEXT_KEY, _cv_ctx
from .routing import RedirectRequired
from .streaming import ClientDisconnected as ClientDisconnected
from .streaming import ReceiveStream

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .typing import Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])

#: Request bodies up to this size stay in memory; larger ones go to a temp file.
SPOOL_THRESHOLD = 1 << 20
#: Bytes collected before each write to the temp file (one thread hop each).
_FLUSH_SIZE = 1 << 18
#: ``http_version`` values whose requests may carry a body with neither
#: Content-Length nor Transfer-Encoding (RFC 9113 §8.1: the stream ends it).
_FRAMED_VERSIONS = frozenset({"2", "2.0", "3", "3.0"})

_CTYPE_BYTES: dict[str, bytes] = {}


def run_inline(view: F) -> F:
    """Mark a sync view to run on the ASGI event loop instead of a worker thread.

    For short views that do no blocking IO; it saves the thread hop::

        @app.route("/ping")
        @run_inline
        def ping():
            return "pong"
    """
    view._erlen_inline = True  # type: ignore[attr-defined]
    return view


class _SpooledBody:
    """Collects a request body: in memory up to the threshold, then a temp file.

    Every file operation runs in the loop's default executor, never on the loop
    (BAD_INPUTS 49); writes are batched so a big upload costs one thread hop
    per ``_FLUSH_SIZE`` bytes, not one per received chunk.
    """

    __slots__ = ("chunks", "file", "pending", "size")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.pending = 0
        self.file: Any = None

    async def write(self, chunk: bytes, loop: asyncio.AbstractEventLoop) -> None:
        self.size += len(chunk)
        self.pending += len(chunk)
        self.chunks.append(chunk)
        if self.file is None:
            if self.size <= SPOOL_THRESHOLD:
                return
            self.file = await loop.run_in_executor(None, tempfile.TemporaryFile)
        if self.pending >= _FLUSH_SIZE:
            await self._flush(loop)

    async def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        data = b"".join(self.chunks)
        self.chunks = []
        self.pending = 0
        await loop.run_in_executor(None, self.file.write, data)

    async def stream(self, loop: asyncio.AbstractEventLoop) -> Any:
        """Return the body as a readable binary file, positioned at its start."""
        if self.file is None:
            return io.BytesIO(b"".join(self.chunks))
        if self.chunks:
            await self._flush(loop)
        await loop.run_in_executor(None, self.file.seek, 0)
        return self.file

    async def discard(self, loop: asyncio.AbstractEventLoop) -> None:
        """Drop what was collected; close the temp file, if any, off the loop."""
        self.chunks = []
        file, self.file = self.file, None
        if file is not None:
            await loop.run_in_executor(None, file.close)


class _UnreadBody(io.RawIOBase):
    """Stands for a body not read because it passes MAX_CONTENT_LENGTH.

    Reading it raises 413 — also when a view raised ``request.max_content_length``
    (the body was refused before the view ran): never a silently empty body.
    """

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise RequestEntityTooLarge()


async def _read_body(app: Erlen, environ: dict[str, Any], receive: Receive) -> Any:
    """Read the request body into ``wsgi.input`` before dispatch.

    A declared Content-Length over MAX_CONTENT_LENGTH is not read at all, and
    an undeclared (chunked) body is read only up to the limit: either way the
    Request answers 413 when the body is used. Returns the temp file the body
    was spooled to (the caller closes it), or None.

    :raise ClientDisconnected: the client left before the body was complete.
    """
    limit = app.config["MAX_CONTENT_LENGTH"]
    declared = environ.get("CONTENT_LENGTH")
    if declared is not None:
        if not declared.isdigit() or not declared.isascii():
            return None  # the Request reports the bad header when the body is used
        length = int(declared)
        if length == 0:
            return None
        if limit is not None and length > limit:
            environ["wsgi.input"] = _UnreadBody()
            return None
        cap = length
    else:
        cap = None if limit is None else limit
    loop = asyncio.get_running_loop()
    body = _SpooledBody()
    more = True
    try:
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if chunk:
                if cap is not None and body.size + len(chunk) > cap:
                    if declared is None:
                        # Over the limit: keep none of it (the rest stays unread).
                        await body.discard(loop)
                        environ["wsgi.input"] = _UnreadBody()
                        environ["wsgi.input_terminated"] = True
                        return None
                    chunk = chunk[: cap - body.size]  # a server sending too much
                    more = False
                await body.write(chunk, loop)
        environ["wsgi.input"] = await body.stream(loop)
    except BaseException:
        await body.discard(loop)
        raise
    environ["wsgi.input_terminated"] = True
    if declared is not None and body.size < length:
        # The client sent less than it announced: let the Request see it.
        environ["CONTENT_LENGTH"] = str(body.size)
    return body.file


class _LoopPortal:
    """The "loop" :func:`erlen.pipeline.run_coroutine` uses in erlen's worker threads.

    It hands each coroutine to the server's loop and waits, so async hooks,
    handlers and context processors reached from a sync view run where the
    resources opened at startup live, seeing the worker's context (copied by
    ``call_soon_threadsafe``).
    """

    __slots__ = ("loop", "private")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.private: asyncio.AbstractEventLoop | None = None

    def is_closed(self) -> bool:
        return self.loop.is_closed()

    def run_until_complete(self, coro: Coroutine[Any, Any, Any]) -> Any:
        loop = self.loop
        if not loop.is_running():
            # The server's loop is gone (work outliving a request): use a loop
            # of this thread, kept for its lifetime like under WSGI.
            private = self.private
            if private is None or private.is_closed():
                private = self.private = asyncio.new_event_loop()
            return private.run_until_complete(coro)
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        while True:
            try:
                return future.result(timeout=1.0)
            except TimeoutError:
                if not loop.is_running():
                    future.cancel()
                    raise RuntimeError(
                        "The event loop stopped while a worker thread waited for"
                        " a coroutine it had handed to it."
                    ) from None


def _bind_thread(loop: asyncio.AbstractEventLoop) -> None:
    # Runs once in each new worker thread (the executor's initializer).
    pipeline._loops.loop = _LoopPortal(loop)


_POOLS_LOCK = threading.Lock()


def _executor(
    app: Erlen, loop: asyncio.AbstractEventLoop | None = None
) -> ThreadPoolExecutor:
    """Return the app's worker threads for ``loop`` (the running one by default).

    One pool per app and event loop (a server runs one loop per worker), made
    on first use with ``ASGI_THREADS`` threads named ``erlen-sync_N``; pools of
    loops that have been closed meanwhile are shut down then.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    pools = app.__dict__.setdefault("_asgi_pools", {})
    pool = pools.get(loop)
    if pool is None:
        # Several loops (one per thread) may make their pools at once.
        with _POOLS_LOCK:
            pool = pools.get(loop)
            if pool is None:
                for old in [other for other in pools if other.is_closed()]:
                    pools.pop(old).shutdown(wait=False)
                workers = app.config.get("ASGI_THREADS") or 40
                pool = pools[loop] = ThreadPoolExecutor(
                    max_workers=workers,
                    thread_name_prefix="erlen-sync",
                    initializer=_bind_thread,
                    initargs=(loop,),
                )
                pool._erlen_loop = loop  # type: ignore[attr-defined]
    # The pool in_thread tries first: the last one used.
    app.__dict__["_asgi_executor"] = pool
    return pool


def shutdown_executor(app: Erlen, loop: asyncio.AbstractEventLoop) -> None:
    """Stop the app's worker threads of ``loop`` once they finish their work."""
    pools = app.__dict__.get("_asgi_pools") or {}
    pool = pools.pop(loop, None)
    if pool is not None:
        pool.shutdown(wait=False)
        if app.__dict__.get("_asgi_executor") is pool:
            del app.__dict__["_asgi_executor"]


async def in_thread(app: Erlen, func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args)`` in the app's worker threads with the current context."""
    loop = asyncio.get_running_loop()
    pool = app.__dict__.get("_asgi_executor")
    if pool is None or pool._erlen_loop is not loop:
        pool = _executor(app, loop)
    context = contextvars.copy_context()
    return await loop.run_in_executor(pool, context.run, func, *args)


def _handle_exception(app: Erlen, error: Exception) -> Any:
    # Called in a worker thread: raise the error again there so that
    # handle_exception's sys.exc_info() (logging, re-raising) sees it.
    try:
        raise error
    except Exception:
        return app.handle_exception(error)


def _is_async_view(view: Any) -> bool:
    """Return whether calling ``view`` gives a coroutine to await on the loop."""
    if inspect.iscoroutinefunction(view) or getattr(view, "_erlen_async", False):
        return True
    cls = getattr(view, "view_class", None)
    if cls is None or cls.decorators:
        # Decorators of a class-based view expect the value, not a coroutine.
        return False
    if inspect.iscoroutinefunction(cls.dispatch_request):
        return True
    from .views import MethodView, http_method_funcs

    if (
        isinstance(cls, type)
        and issubclass(cls, MethodView)
        and cls.dispatch_request is MethodView.dispatch_request
    ):
        # Only when every handler is async: a sync one must not run on the loop.
        handlers = [getattr(cls, m) for m in http_method_funcs if hasattr(cls, m)]
        return bool(handlers) and all(map(inspect.iscoroutinefunction, handlers))
    return False


def _view_mode(app: Erlen, endpoint: str) -> int:
    """Return 1 for an async view, 2 for a sync view run on the loop, 0 for a thread.

    3: an async view that streams its request body (``stream_request_body``).
    Cached in the plan per endpoint.
    """
    plan = app._plan
    cache = plan.async_views  # type: ignore[union-attr]
    flag = cache.get(endpoint)
    if flag is None:
        view = app.view_functions[endpoint]
        if _is_async_view(view):
            flag = 3 if getattr(view, "_erlen_stream_body", False) else 1
        elif getattr(view, "_erlen_inline", False) or app.config.get(
            "ASGI_SYNC_INLINE"
        ):
            flag = 2
        else:
            flag = 0
        cache[endpoint] = flag
    return flag


def _error_mode(app: Erlen) -> int:
    """Return 1 to handle a routing error (404/405) on the loop, 0 for a thread.

    On the loop unless a sync app-wide before-request function or URL value
    preprocessor exists (it might block). Cached in the plan under ``None``.
    """
    hooks = app._plan.chain_for(app, None)  # type: ignore[union-attr]
    funcs = (*hooks.url_value_preprocessors, *hooks.before)
    flag = int(all(inspect.iscoroutinefunction(f) for f in funcs))
    app._plan.async_views[None] = flag  # type: ignore[union-attr,index]
    return flag


async def asgi_app(self: Erlen, scope: Scope, receive: Receive, send: Send) -> None:
    """Handle one ASGI connection (the ``asgi_app`` method of the app).

    Wrap it with ASGI middleware by assignment:
    ``app.asgi_app = SomeMiddleware(app.asgi_app)``.
    """
    if scope["type"] != "http":
        await _other_scope(self, scope, receive, send)
        return
    app = self
    plan = app._plan or app._make_plan()
    environ = _environ(scope)
    ctx = RequestContext(app, environ)
    ctx._token = token = _cv_ctx.set(ctx)
    req = ctx.request
    error: BaseException | None = None
    result: Any = None
    method = scope["method"]
    sender = None
    spool = None
    started = False
    # One pass over the raw headers tells whether a body must be read and
    # whether cookies came, without building the environ's header keys.
    has_body = cookie = False
    for name, _ in scope["headers"]:
        if name == b"cookie":
            cookie = True
        elif name == b"content-length" or name == b"transfer-encoding":
            has_body = True
    ctx._cookie = cookie
    if (
        not has_body
        and method != "GET"
        and method != "HEAD"
        and scope.get("http_version") in _FRAMED_VERSIONS
    ):
        has_body = True  # HTTP/2 and 3 may send a body without either header
    try:
        try:
            # The body is read once the view is known (``has_body`` then drops):
            # a view marked stream_request_body (mode 3) reads it itself.
            if plan.inline and app.config["TRUSTED_HOSTS"] is None:
                # PERF: the inline pipeline, as in the WSGI driver (bench "hello").
                path = scope["path"]
                # No root path and no %-decoding: the scope's path is PATH_INFO.
                plain = dict.get(environ, "PATH_INFO") is path
                by_method = plan.static_decoded.get(path) if plain else None
                entry = None if by_method is None else by_method.get(method)
                hooks = None
                if entry is not None:
                    rule, defaults, hooks = entry
                    req.url_rule = rule
                    req.view_args = {} if defaults is None else dict(defaults)
                elif plan.dynamic and method != "OPTIONS":
                    try:
                        rule, req.view_args = app.url_map.match(
                            path if plain else req.path, method
                        )
                        req.url_rule = rule
                    except HTTPException as e:
                        req.routing_exception = e
                        rule = None
                    except RedirectRequired:
                        rule = None
                else:
                    rule = None
                if rule is not None:
                    endpoint = rule.endpoint
                    try:
                        # PERF: a subscript, not .get(): no call (bench "hello").
                        mode = plan.async_views[endpoint]
                    except KeyError:
                        mode = _view_mode(app, endpoint)
                    if has_body:
                        has_body = False
                        if mode == 3:
                            receive = ReceiveStream.install(environ, receive)
                        else:
                            spool = await _read_body(app, environ, receive)
                    if not mode:
                        result = await in_thread(
                            app, app._dispatch_inline, ctx, rule, hooks
                        )
                elif req.routing_exception is not None:
                    # 404/405: the app's hooks run, then the error is raised.
                    endpoint = None
                    try:
                        mode = plan.async_views[None]  # type: ignore[index]
                    except KeyError:
                        mode = _error_mode(app)
                    if has_body:
                        has_body = False
                        spool = await _read_body(app, environ, receive)
                    if not mode:
                        result = await in_thread(
                            app, app._dispatch_inline, ctx, None, hooks
                        )
                else:
                    mode = 0
                if mode and (rule is not None or req.routing_exception is not None):
                    # The async pipeline: the same steps as
                    # Pipeline._dispatch_inline, awaiting what is awaitable.
                    if hooks is None:
                        hooks = plan.chains.get(endpoint) or plan.chain_for(
                            app, endpoint
                        )
                    try:
                        if rule is not None and not hooks.runs_before:
                            # PERF: no hook to run first: call the view here,
                            # saving a coroutine frame (bench "hello").
                            rv = app.view_functions[endpoint](**req.view_args)
                            if type(rv) is CoroutineType:
                                rv = await rv
                        else:
                            rv = await run_before_and_view(
                                app, req, rule, endpoint, hooks
                            )
                    except ClientDisconnected:
                        raise  # from request_body(): nobody to answer
                    except Exception as e:
                        rv = app.handle_user_exception(e)
                        if type(rv) is CoroutineType:
                            rv = await rv
                    result = app._fast_body(ctx, rv, type(rv), hooks)
                    if result is None:
                        result = await _after_async(app, ctx, rv, hooks)
            if result is None:
                if has_body:
                    if _full_path_mode(app, req) == 3:
                        receive = ReceiveStream.install(environ, receive)
                    else:
                        spool = await _read_body(app, environ, receive)
                result = await in_thread(app, app.full_dispatch_request)
            if type(result) is tuple:
                # PERF: a 200 with a known body: two messages, no Response.
                body, ctype = result
                try:
                    ctype_raw = _CTYPE_BYTES[ctype]
                except KeyError:
                    ctype_raw = _ctype_bytes(ctype)
                started = True
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", ctype_raw),
                            (b"content-length", b"%d" % len(body)),
                        ],
                    }
                )
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"" if method == "HEAD" else body,
                    }
                )
            else:
                sender = _Sender(app, scope, receive, send, method)
                await sender(result)
        except ClientDisconnected as e:
            error = e
        except Exception as e:
            error = e
            if started or (sender is not None and sender.started):
                raise  # too late for an error page: the server closes the stream
            result = await in_thread(app, _handle_exception, app, e)
            sender = _Sender(app, scope, receive, send, method)
            await sender(result)
    except BaseException as e:
        error = e
        raise
    finally:
        if PRESERVE_CONTEXT_KEY in scope:
            # The test client keeps the context (``with client:``); the body
            # file stays readable until that context is dropped.
            _cv_ctx.reset(token)
            if spool is not None:
                weakref.finalize(ctx, spool.close)
            scope[PRESERVE_CONTEXT_KEY](ctx, error)
        elif spool is not None:
            await _finish_spooled(app, ctx, error, spool)
        elif not plan.teardown and _files_in_memory(req._files):
            # PERF: no teardown functions and only in-memory uploads: closing
            # them is quick, so no thread hop (bench "upload").
            try:
                req.close()
            finally:
                ctx._restore()
        elif plan.teardown or req._files:
            if isinstance(error, ClientDisconnected) or (
                error is not None and app.should_ignore_error(error)
            ):
                error = None
            try:
                await in_thread(app, ctx._teardown, error)
            finally:
                ctx._restore()
        else:
            _cv_ctx.reset(token)
            ctx._token = None


def _files_in_memory(files: Any) -> bool:
    """Whether a request has uploaded files and all are held in memory."""
    if not files:
        return False
    for storages in files.listvalues():
        for storage in storages:
            stream = storage.stream
            if type(stream) is io.BytesIO:
                continue
            if isinstance(stream, tempfile.SpooledTemporaryFile) and not getattr(
                stream, "_rolled", True
            ):
                continue
            return False
    return True


def _full_path_mode(app: Erlen, req: Any) -> int:
    """Match now (as Flask's context push does) and return the view's mode, or 0.

    full_dispatch_request, in its thread, keeps the match.
    """
    if req.url_rule is None and req.routing_exception is None:
        app.match_request(req)
    rule = req.url_rule
    if rule is None:
        return 0
    mode = app._plan.async_views.get(rule.endpoint)  # type: ignore[union-attr]
    return _view_mode(app, rule.endpoint) if mode is None else mode


async def _finish_spooled(
    app: Erlen, ctx: RequestContext, error: BaseException | None, spool: Any
) -> None:
    """Tear down a request whose body went to a temp file, then close the file."""
    if error is not None and app.should_ignore_error(error):
        error = None
    try:
        await in_thread(app, ctx._teardown, error)
    finally:
        ctx._restore()
        # Freeing a big unlinked temp file is disk work: off the loop.
        await asyncio.get_running_loop().run_in_executor(None, spool.close)


async def run_before_and_view(
    app: Erlen, req: Any, rule: Any, endpoint: str | None, hooks: Any
) -> Any:
    """Run URL value preprocessors, before hooks, then the view, awaiting results.

    The async twin of the first half of :meth:`Pipeline._dispatch_inline`,
    shared by HTTP requests and WebSocket connections. A before hook's non-None
    value is returned instead of calling the view; with no rule, the request's
    routing error is raised after the hooks (as Flask does).
    """
    if hooks.url_value_preprocessors:
        for func in hooks.url_value_preprocessors:
            func(endpoint, req.view_args)
    for func in hooks.before:
        rv = func()
        if rv is not None:
            if type(rv) is CoroutineType:
                rv = await rv
            if rv is not None:
                return rv
    if rule is None:
        raise req.routing_exception
    rv = app.view_functions[endpoint](**req.view_args)
    if type(rv) is CoroutineType:
        rv = await rv
    return rv


async def _after_async(app: Erlen, ctx: RequestContext, rv: Any, hooks: Any) -> Any:
    """Make the response and run the after-request work, awaiting async callables."""
    response = app.make_response(rv)
    funcs = ctx._after_request_functions
    if funcs:
        for func in funcs:
            response = func(response)
            if type(response) is CoroutineType:
                response = await response
    for func in hooks.after:
        response = func(response)
        if type(response) is CoroutineType:
            response = await response
    if ctx._session is not None or ctx._cookie:
        app._save_session(ctx, response)
    return response


async def _other_scope(app: Erlen, scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "websocket":
        from .websockets import handle_websocket

        await handle_websocket(app, scope, receive, send)
    elif kind == "lifespan":
        from .lifespan import run_lifespan

        try:
            await run_lifespan(app, scope, receive, send)
        finally:
            # The worker is stopping (or never started).
            shutdown_executor(app, asyncio.get_running_loop())
    else:
        raise RuntimeError(f"erlen cannot handle ASGI scope type {kind!r}.")


def _ctype_bytes(ctype: str) -> bytes:
    raw = _CTYPE_BYTES.get(ctype)
    if raw is None:
        raw = ctype.encode("latin-1")
        if len(_CTYPE_BYTES) < 64:
            _CTYPE_BYTES[ctype] = raw
    return raw


class _Sender:
    """Sends one Response; remembers whether the response has started."""

    __slots__ = ("app", "method", "receive", "scope", "send", "started")

    def __init__(
        self, app: Erlen, scope: Scope, receive: Receive, send: Send, method: str
    ) -> None:
        self.app = app
        self.scope = scope
        self.receive = receive
        self.send = send
        self.method = method
        self.started = False

    async def __call__(self, response: Any) -> None:
        send = self.send
        try:
            headers = response.asgi_headers()  # validates: may raise ValueError
            status = response.status_code
            self.started = True
            await send(
                {"type": "http.response.start", "status": status, "headers": headers}
            )
            body = response.response
            if self.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                await send({"type": "http.response.body", "body": b""})
            elif type(body) is list:
                data = b"".join(
                    chunk if type(chunk) is bytes else chunk.encode() for chunk in body
                )
                await send({"type": "http.response.body", "body": data})
            else:
                await self._stream(body)
        finally:
            body = response.response
            if type(body) is list and not response._on_close:
                response.close()
            else:
                aclose = getattr(body, "aclose", None)
                if aclose is not None:
                    # An async generator cut short (disconnect, error) runs
                    # its ``finally`` now, on the loop; after its end a no-op.
                    await aclose()
                # Closing a generator or file may block: do it off the loop.
                await in_thread(self.app, response.close)

    async def _stream(self, body: Any) -> None:
        from .sending import FileBody

        scope = self.scope
        if (
            type(body) is FileBody
            and body.path is not None
            and body.offset == 0
            and "http.response.pathsend" in (scope.get("extensions") or {})
        ):
            await self.send({"type": "http.response.pathsend", "path": body.path})
            return
        pump = asyncio.ensure_future(self._pump(body))
        watch = asyncio.ensure_future(self._watch_disconnect())
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not pump.done():
                # The client left: stop producing. A sync generator step running
                # in a thread finishes first, so closing it afterwards is safe.
                pump.cancel()
            try:
                await pump  # re-raises an error of the body
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this task itself is being cancelled

    async def _pump(self, body: Any) -> None:
        if hasattr(body, "__aiter__"):
            async for chunk in body:
                if not await self._chunk(chunk):
                    return
        else:
            iterator = iter(body)
            done = object()
            while True:
                step = asyncio.ensure_future(in_thread(self.app, next, iterator, done))
                try:
                    chunk = await asyncio.shield(step)
                except asyncio.CancelledError:
                    await step  # let the running step end before the body closes
                    raise
                if chunk is done:
                    break
                if not await self._chunk(chunk):
                    return
        try:
            await self.send({"type": "http.response.body", "body": b""})
        except OSError:
            pass  # the client left after the last chunk

    async def _chunk(self, chunk: Any) -> bool:
        """Send one chunk of a streamed body; return False when the client left."""
        if type(chunk) is str:
            chunk = chunk.encode()
        if chunk:
            try:
                await self.send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
            except OSError:
                # ASGI 2.4: send() on a closed connection raises OSError. The
                # body is closed by the caller.
                return False
        return True

    async def _watch_disconnect(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return
