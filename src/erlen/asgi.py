"""The ASGI 3 adapter: ``http`` and ``lifespan`` scopes (``websocket`` in erlen.websocket).

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
- teardown runs after the response is sent, or when the client disconnects.

May import: erlen.ctx, erlen.globals, erlen.pipeline, erlen.typing, erlen.sending
(FileBody), erlen.websocket.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import io
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote_to_bytes

from werkzeug.exceptions import HTTPException

from .ctx import RequestContext
from .globals import PRESERVE_CONTEXT_KEY, _cv_ctx
from .routing import RedirectRequired

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .typing import Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])

#: Request bodies up to this size stay in memory; larger ones go to a temp file.
SPOOL_THRESHOLD = 1 << 20

_NO_SERVER = ("localhost", 80)

# Header name -> environ key, for the names seen so far (bounded: names only,
# never values, so hostile requests cannot grow it past the cap).
_ENV_KEYS: dict[bytes, str | None] = {
    b"content-type": "CONTENT_TYPE",
    b"content-length": "CONTENT_LENGTH",
}
_ENV_KEYS_MAX = 512

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


class ClientDisconnected(Exception):
    """The client went away while the request body was being read."""


class _SpooledBody:
    """Collects a request body: in memory up to the threshold, then a temp file."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.file: Any = None

    async def write(self, chunk: bytes, loop: asyncio.AbstractEventLoop) -> None:
        self.size += len(chunk)
        if self.file is None:
            self.chunks.append(chunk)
            if self.size <= SPOOL_THRESHOLD:
                return
            # Disk work happens off the loop (BAD_INPUTS 49).
            self.file = await loop.run_in_executor(None, tempfile.TemporaryFile)
            data, self.chunks = b"".join(self.chunks), []
            await loop.run_in_executor(None, self.file.write, data)
        else:
            await loop.run_in_executor(None, self.file.write, chunk)

    async def stream(self, loop: asyncio.AbstractEventLoop) -> Any:
        if self.file is None:
            return io.BytesIO(b"".join(self.chunks))
        await loop.run_in_executor(None, self.file.seek, 0)
        return self.file


#: Keys an ASGIEnviron holds from the start; any other key fills it in.
_EAGER_KEYS = frozenset({"asgi.scope", "REQUEST_METHOD", "PATH_INFO", "SCRIPT_NAME"})

_dict_get = dict.get
_dict_contains = dict.__contains__
_dict_setdefault = dict.setdefault


class ASGIEnviron(dict):  # type: ignore[type-arg]
    """The environ of a request served over ASGI: a ``dict``, filled in lazily.

    It starts with the method and paths (all routing needs); the headers
    (``HTTP_*``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``), query string, server and
    client addresses and ``wsgi.*`` keys are added from the scope the first time
    anything else is asked for — so a request whose view never reads the request
    never pays for them.
    """

    __slots__ = ()

    def _fill(self) -> None:
        scope = _dict_get(self, "asgi.scope")
        setdefault = _dict_setdefault
        server = scope.get("server") or _NO_SERVER
        client = scope.get("client")
        port = server[1]
        setdefault(self, "QUERY_STRING", scope["query_string"].decode("latin-1"))
        setdefault(self, "SERVER_NAME", server[0])
        setdefault(self, "SERVER_PORT", "" if port is None else str(port))
        setdefault(self, "SERVER_PROTOCOL", "HTTP/" + scope.get("http_version", "1.1"))
        setdefault(self, "REMOTE_ADDR", client[0] if client else "")
        setdefault(self, "wsgi.url_scheme", scope.get("scheme") or "http")
        setdefault(self, "wsgi.errors", sys.stderr)
        setdefault(self, "wsgi.multithread", True)
        setdefault(self, "wsgi.multiprocess", True)
        headers: dict[str, str] = {}
        keys = _ENV_KEYS
        for name, value in scope["headers"]:
            key = keys.get(name, False)
            if key is False:
                key = _env_key(name)
            if key is None:
                continue
            text = value.decode("latin-1")
            old = headers.get(key)
            if old is None:
                headers[key] = text
            else:
                headers[key] = f"{old}{'; ' if key == 'HTTP_COOKIE' else ','}{text}"
        for key, text in headers.items():
            setdefault(self, key, text)
        # Last: its presence marks the environ as filled.
        setdefault(self, "wsgi.run_once", False)

    def _ready(self) -> None:
        if not _dict_contains(self, "wsgi.run_once"):
            self._fill()

    def __getitem__(self, key: str) -> Any:
        if key not in _EAGER_KEYS:
            self._ready()
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        if key not in _EAGER_KEYS:
            self._ready()
        return _dict_get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if key not in _EAGER_KEYS:
            self._ready()
        return _dict_contains(self, key)

    def __iter__(self) -> Any:
        self._ready()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._ready()
        return dict.__len__(self)

    def __repr__(self) -> str:
        self._ready()
        return dict.__repr__(self)

    def __eq__(self, other: object) -> bool:
        self._ready()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def keys(self) -> Any:
        self._ready()
        return dict.keys(self)

    def items(self) -> Any:
        self._ready()
        return dict.items(self)

    def values(self) -> Any:
        self._ready()
        return dict.values(self)

    def copy(self) -> dict[str, Any]:
        self._ready()
        return dict(dict.items(self))

    def pop(self, key: str, *default: Any) -> Any:
        self._ready()
        return dict.pop(self, key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._ready()
        return _dict_setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._ready()
        dict.update(self, *args, **kwargs)

    def __delitem__(self, key: str) -> None:
        self._ready()
        dict.__delitem__(self, key)


def _environ(scope: Scope) -> ASGIEnviron:
    """Start the environ the Request reads, from an HTTP or WebSocket scope.

    ``wsgi.input`` is added only when a body is read (the Request treats its
    absence as an empty body).
    """
    path = scope["path"]
    raw = scope.get("raw_path")
    if raw and b"%" in raw:
        # Decode from the raw bytes so invalid UTF-8 stays detectable (400),
        # as under WSGI; the server's str has already replaced it.
        path_info = unquote_to_bytes(raw).decode("latin-1")
    elif path.isascii():
        path_info = path
    else:
        path_info = path.encode().decode("latin-1")
    root = scope.get("root_path")
    if root:
        root = root.encode().decode("latin-1")
        if path_info.startswith(root):
            path_info = path_info[len(root) :]
    else:
        root = ""
    return ASGIEnviron(
        {
            "asgi.scope": scope,
            "REQUEST_METHOD": scope.get("method", "GET"),
            "PATH_INFO": path_info,
            "SCRIPT_NAME": root,
        }
    )


def _env_key(name: bytes) -> str | None:
    # Names with "_" are dropped, as gunicorn does: "X_Forwarded_For" must not
    # pose as "X-Forwarded-For" once both map to HTTP_X_FORWARDED_FOR.
    text = name.decode("latin-1")
    key = None if "_" in text else "HTTP_" + text.upper().replace("-", "_")
    if len(_ENV_KEYS) < _ENV_KEYS_MAX:
        _ENV_KEYS[name] = key
    return key


async def _read_body(app: Erlen, environ: dict[str, Any], receive: Receive) -> None:
    """Read the request body into ``wsgi.input`` before dispatch.

    A declared Content-Length over MAX_CONTENT_LENGTH is not read at all (the
    Request answers 413 when the body is used); an undeclared body is read up
    to one byte past the limit, so the Request sees it is too large.
    """
    limit = app.config["MAX_CONTENT_LENGTH"]
    declared = environ.get("CONTENT_LENGTH")
    if declared is not None:
        if not declared.isdigit() or not declared.isascii():
            return  # the Request reports the bad header when the body is used
        length = int(declared)
        if length == 0 or (limit is not None and length > limit):
            return
        cap = length
    else:
        cap = None if limit is None else limit + 1
    loop = asyncio.get_running_loop()
    body = _SpooledBody()
    more = True
    while more:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        if chunk:
            if cap is not None and body.size + len(chunk) > cap:
                chunk = chunk[: cap - body.size]
                more = False
            await body.write(chunk, loop)
    environ["wsgi.input"] = await body.stream(loop)
    environ["wsgi.input_terminated"] = True
    if declared is not None and body.size < int(declared):
        # The client sent less than it announced: let the Request see it.
        environ["CONTENT_LENGTH"] = str(body.size)


def _executor(app: Erlen) -> ThreadPoolExecutor:
    pool = app.__dict__.get("_asgi_executor")
    if pool is None:
        workers = app.config.get("ASGI_THREADS") or 40
        pool = app.__dict__["_asgi_executor"] = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="erlen-sync"
        )
    return pool


async def in_thread(app: Erlen, func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args)`` in the app's worker threads with the current context."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(_executor(app), context.run, func, *args)


def _view_mode(app: Erlen, endpoint: str) -> int:
    """Return 1 for an async view, 2 for a sync view run on the loop, 0 for a thread.

    Cached in the plan per endpoint.
    """
    plan = app._plan
    cache = plan.async_views  # type: ignore[union-attr]
    flag = cache.get(endpoint)
    if flag is None:
        view = app.view_functions[endpoint]
        if inspect.iscoroutinefunction(view) or getattr(view, "_erlen_async", False):
            flag = 1
        elif getattr(view, "_erlen_inline", False) or app.config.get(
            "ASGI_SYNC_INLINE"
        ):
            flag = 2
        else:
            flag = 0
        cache[endpoint] = flag
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
    # One pass over the raw headers tells whether a body must be read and
    # whether cookies came, without building the environ's header keys.
    has_body = cookie = False
    for name, _ in scope["headers"]:
        if name == b"cookie":
            cookie = True
        elif name == b"content-length" or name == b"transfer-encoding":
            has_body = True
    ctx._cookie = cookie
    try:
        try:
            if has_body:
                await _read_body(app, environ, receive)
            if plan.inline and app.config["TRUSTED_HOSTS"] is None:
                # PERF: the inline pipeline, as in the WSGI driver (bench "hello").
                path = scope["path"]
                # No root path and no %-decoding: the scope's path is PATH_INFO.
                plain = _dict_get(environ, "PATH_INFO") is path
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
                    mode = plan.async_views.get(endpoint)
                    if mode is None:
                        mode = _view_mode(app, endpoint)
                    if not mode:
                        result = await in_thread(
                            app, app._dispatch_inline, ctx, rule, hooks
                        )
                elif req.routing_exception is not None:
                    endpoint = None
                    mode = 1
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
                        if hooks.url_value_preprocessors:
                            for func in hooks.url_value_preprocessors:
                                func(endpoint, req.view_args)
                        rv = None
                        for func in hooks.before:
                            rv = func()
                            if rv is not None:
                                if type(rv) is CoroutineType:
                                    rv = await rv
                                if rv is not None:
                                    break
                        if rv is None:
                            if rule is None:
                                raise req.routing_exception  # type: ignore[misc]
                            rv = app.view_functions[endpoint](**req.view_args)  # type: ignore[index]
                            if type(rv) is CoroutineType:
                                rv = await rv
                    except Exception as e:
                        rv = app.handle_user_exception(e)
                        if type(rv) is CoroutineType:
                            rv = await rv
                    result = app._fast_body(ctx, rv, type(rv), hooks)
                    if result is None:
                        result = await _after_async(app, ctx, rv, hooks)
            if result is None:
                result = await in_thread(app, app.full_dispatch_request)
            if type(result) is tuple:
                # PERF: a 200 with a known body: two messages, no Response.
                body, ctype = result
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", _ctype_bytes(ctype)),
                            (b"content-length", str(len(body)).encode()),
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
            if sender is not None and sender.started:
                raise  # too late for an error page: the server closes the stream
            result = await in_thread(app, app.handle_exception, e)
            sender = _Sender(app, scope, receive, send, method)
            await sender(result)
    except BaseException as e:
        error = e
        raise
    finally:
        if PRESERVE_CONTEXT_KEY in scope:
            # The test client keeps the context (``with client:``).
            _cv_ctx.reset(token)
            scope[PRESERVE_CONTEXT_KEY](ctx, error)
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
        from .websocket import handle_websocket

        await handle_websocket(app, scope, receive, send)
    elif kind == "lifespan":
        from .lifespan import run_lifespan

        await run_lifespan(app, scope, receive, send)
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
    """Sends one response; remembers whether the response has started."""

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

    async def __call__(self, result: Any) -> None:
        send = self.send
        if type(result) is tuple:
            body, ctype = result
            self.started = True
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", _ctype_bytes(ctype)),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send(
                {
                    "type": "http.response.body",
                    "body": b"" if self.method == "HEAD" else body,
                }
            )
            return
        response = result
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
            if type(response.response) is list and not response._on_close:
                response.close()
            else:
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
                await pump
            except (asyncio.CancelledError, OSError):
                pass

    async def _pump(self, body: Any) -> None:
        send = self.send
        if hasattr(body, "__aiter__"):
            async for chunk in body:
                if type(chunk) is str:
                    chunk = chunk.encode()
                if chunk:
                    await send(
                        {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
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
                if type(chunk) is str:
                    chunk = chunk.encode()
                if chunk:
                    await send(
                        {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
        await send({"type": "http.response.body", "body": b""})

    async def _watch_disconnect(self) -> None:
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return
