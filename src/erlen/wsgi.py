"""The WSGI adapter (PEP 3333): environ in, status + headers + body out.

:func:`wsgi_app` becomes :meth:`erlen.Erlen.wsgi_app`. It pushes the request
context, drives the pipeline and writes the response. When the app's
:class:`~erlen.pipeline.Plan` allows it (no signal receivers, no overridden
pipeline method), the driver runs the pipeline inline — match, hooks, view,
after-hooks — and a str/bytes/dict/list value with no after-request work goes
straight to ``start_response`` without building a Response object. A body
that is an async iterator is advanced on the thread's persistent event loop
as the server iterates it.

May import: erlen.ctx, erlen.globals, erlen.pipeline, erlen.typing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException

from .ctx import RequestContext
from .globals import PRESERVE_CONTEXT_KEY, _cv_ctx
from .pipeline import run_coroutine
from .routing import RedirectRequired

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .typing import StartResponse, WSGIEnvironment


def wsgi_app(
    self: Erlen, environ: WSGIEnvironment, start_response: StartResponse
) -> Any:
    """Handle one WSGI request (the ``wsgi_app`` method of the app).

    Wrap it with middleware by assignment, as in Flask:
    ``app.wsgi_app = ProxyFix(app.wsgi_app)``.
    """
    plan = self._plan or self._make_plan()
    ctx = RequestContext(self, environ)
    ctx._token = token = _cv_ctx.set(ctx)
    req = ctx.request
    error = None
    try:
        try:
            # PERF: the inline pipeline (bench scenarios "hello", "json", "hooks",
            # "notfound"). It makes the same decisions, in the same order, as
            # Pipeline.full_dispatch_request + finalize_request, which run instead
            # whenever a subclass overrides one of them or a signal has receivers.
            if plan.inline and self.config["TRUSTED_HOSTS"] is None:
                method = environ["REQUEST_METHOD"]
                path = environ.get("PATH_INFO") or "/"
                by_method = plan.static.get(path)
                entry = None if by_method is None else by_method.get(method)
                hooks = None
                if entry is not None:
                    rule, defaults, hooks = entry
                    req.url_rule = rule
                    req.view_args = {} if defaults is None else dict(defaults)
                elif plan.dynamic and method != "OPTIONS":
                    try:
                        rule, req.view_args = self.url_map.match(
                            path.encode("latin-1").decode(), method
                        )
                        req.url_rule = rule
                    except HTTPException as e:
                        # 404/405: hooks still run, then the error is raised.
                        req.routing_exception = e
                        rule = None
                    except (RedirectRequired, UnicodeError):
                        rule = None  # the full path builds the 308 / 400
                else:
                    rule = None
                if rule is not None or req.routing_exception is not None:
                    result = self._dispatch_inline(ctx, rule, hooks)
                    if type(result) is tuple:
                        body, ctype = result
                        start_response(
                            "200 OK",
                            [
                                ("Content-Type", ctype),
                                ("Content-Length", str(len(body))),
                            ],
                        )
                        return [] if method == "HEAD" else [body]
                    if type(result.response) is not list:
                        _sync_body(result)
                    return result(environ, start_response)
            response = self.full_dispatch_request()
            if type(response.response) is not list:
                _sync_body(response)
            # Writing validates the headers; a bad one becomes a handled 500.
            return response(environ, start_response)
        except Exception as e:
            error = e
            response = self.handle_exception(e)
        except BaseException:
            error = sys.exc_info()[1]
            raise
        if type(response.response) is not list:
            _sync_body(response)
        return response(environ, start_response)
    finally:
        if PRESERVE_CONTEXT_KEY in environ:
            environ[PRESERVE_CONTEXT_KEY](ctx, error)
        elif plan.teardown or req._files:
            if error is not None and self.should_ignore_error(error):
                error = None
            ctx.pop(error)
        else:
            _cv_ctx.reset(token)
            ctx._token = None


# -- async bodies ------------------------------------------------------------------
_DONE: Any = object()


async def _next_chunk(iterator: Any) -> Any:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _DONE


class _AsyncBody:
    """A sync iterator over an async one, for a server that iterates the body.

    Each chunk is awaited on the thread's persistent loop (the one async views
    ran on); ``close()`` — the server calls it, also when the client left —
    closes an async generator with ``aclose()`` there, so its ``finally`` runs.
    """

    __slots__ = ("_iterator",)

    def __init__(self, iterable: Any) -> None:
        self._iterator = iterable.__aiter__()

    def __iter__(self) -> _AsyncBody:
        return self

    def __next__(self) -> Any:
        chunk = run_coroutine(_next_chunk(self._iterator))
        if chunk is _DONE:
            raise StopIteration
        return chunk

    def close(self) -> None:
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            run_coroutine(_call(aclose))


async def _call(func: Any) -> Any:
    return await func()


def _sync_body(response: Any) -> None:
    """Let a WSGI server iterate ``response``'s body if it is an async iterable."""
    body = response.response
    if hasattr(body, "__aiter__") and not hasattr(body, "__iter__"):
        response.response = _AsyncBody(body)
