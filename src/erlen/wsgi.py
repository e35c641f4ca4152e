"""The WSGI adapter (PEP 3333): environ in, status + headers + body out.

:func:`wsgi_app` becomes :meth:`erlen.Erlen.wsgi_app`. It pushes the request
context, drives the pipeline and writes the response. When the app's
:class:`~erlen.pipeline.Plan` says no hook, signal or teardown is registered, a
request for a static route that returns str/bytes/dict/list goes straight from
the view's value to ``start_response`` without building a Response object.

May import: erlen.ctx, erlen.globals, erlen.pipeline, erlen.typing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException

from .ctx import RequestContext
from .globals import PRESERVE_CONTEXT_KEY, _cv_ctx
from .pipeline import _resolve
from .routing import RedirectRequired

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .typing import StartResponse, WSGIEnvironment

_HTML = "text/html; charset=utf-8"


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
            # PERF: the fast path (bench scenarios "hello", "json_param"). What it
            # skips — hooks, signals, teardown — is absent when plan.bare is set.
            if plan.bare and self.config["TRUSTED_HOSTS"] is None:
                method = environ["REQUEST_METHOD"]
                path = environ.get("PATH_INFO") or "/"
                by_method = plan.static.get(path)
                entry = None if by_method is None else by_method.get(method)
                if entry is not None:
                    rule, args = entry
                elif plan.dynamic and method != "OPTIONS":
                    try:
                        rule, args = self.url_map.match(
                            path.encode("latin-1").decode(), method
                        )
                    except HTTPException as e:
                        # 404/405 need no second match in the full path.
                        req.routing_exception = e
                        rule = None
                    except (RedirectRequired, UnicodeError):
                        rule = None
                else:
                    rule = None
                if rule is not None:
                    req.url_rule = rule
                    try:
                        if args is None:
                            req.view_args = {}
                            rv = self.view_functions[rule.endpoint]()
                        else:
                            req.view_args = args
                            rv = self.view_functions[rule.endpoint](**args)
                    except Exception as e:
                        rv = self.handle_user_exception(e)
                    kind = type(rv)
                    if (
                        ctx._session is None
                        and ctx._after_request_functions is None
                        and "HTTP_COOKIE" not in environ
                    ):
                        if kind is str:
                            body = rv.encode()
                            ctype = _HTML
                        elif kind is bytes:
                            body = rv
                            ctype = _HTML
                        elif (kind is dict or kind is list) and plan.json_bytes:
                            body = plan.json_bytes(rv)
                            ctype = plan.json_mimetype
                        else:
                            body = None
                        if body is not None:
                            start_response(
                                "200 OK",
                                [
                                    ("Content-Type", ctype),
                                    ("Content-Length", str(len(body))),
                                ],
                            )
                            return [] if method == "HEAD" else [body]
                    response = self.finalize_request(_resolve(rv))
                    return response(environ, start_response)
                elif req.routing_exception is not None and "HTTP_COOKIE" not in environ:
                    # No hooks to run: a 404/405 goes straight to its handler.
                    response = self.make_response(
                        self.handle_user_exception(req.routing_exception)
                    )
                    return response(environ, start_response)
            response = self.full_dispatch_request()
            # Writing validates the headers; a bad one becomes a handled 500.
            return response(environ, start_response)
        except Exception as e:
            error = e
            response = self.handle_exception(e)
        except BaseException:
            error = sys.exc_info()[1]
            raise
        return response(environ, start_response)
    finally:
        if PRESERVE_CONTEXT_KEY in environ:
            environ[PRESERVE_CONTEXT_KEY](ctx, error)
        elif plan.teardown or ctx._appctx is not None or req._files:
            if error is not None and self.should_ignore_error(error):
                error = None
            ctx.pop(error)
        else:
            _cv_ctx.reset(token)
            ctx._token = None
