"""The request pipeline, free of any protocol: match → hooks → view → response.

``Pipeline`` is a base class of :class:`erlen.Erlen`. Its methods carry Flask's
names and decisions (``full_dispatch_request``, ``preprocess_request``,
``make_response``, ``handle_exception``, …) so code that overrides them keeps
working. The adapters (:mod:`erlen.wsgi`, later :mod:`erlen.asgi`) drive it and do
the IO. The :class:`Plan` records, once per app state, which per-request work the
app actually needs, so a hello-world request skips everything else.

May import: erlen.ctx, erlen.globals, erlen.routing, erlen.signals, erlen.wrappers,
erlen.typing. Never imports an adapter.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from functools import wraps
from itertools import chain
from types import CoroutineType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin

from werkzeug.datastructures import Headers
from werkzeug.exceptions import (
    BadRequestKeyError,
    HTTPException,
    InternalServerError,
)
from werkzeug.routing import RequestRedirect, RoutingException

from . import signals
from .globals import _cv_ctx
from .routing import RedirectRequired

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .ctx import RequestContext
    from .wrappers import Request, Response

_HTML = "text/html; charset=utf-8"

#: Rendered default bodies of HTTPException classes (one entry per class).
_error_bodies: dict[type[HTTPException], str] = {}

#: Pipeline methods the fast path stands in for; overriding one disables it.
_FAST_PATH_METHODS = (
    "full_dispatch_request",
    "preprocess_request",
    "dispatch_request",
    "finalize_request",
    "process_response",
    "make_response",
)

_FAST_SIGNALS = (
    signals.request_started,
    signals.request_finished,
    signals.request_tearing_down,
    signals.got_request_exception,
    signals.appcontext_pushed,
    signals.appcontext_popped,
    signals.appcontext_tearing_down,
)


class Plan:
    """What the app must do per request, decided once from its current setup."""

    __slots__ = (
        "async_views",
        "chains",
        "dynamic",
        "inline",
        "json_bytes",
        "json_mimetype",
        "static",
        "static_decoded",
        "teardown",
        "ws_chains",
    )

    def __init__(self, app: Erlen) -> None:
        no_signals = not any(sig.receivers for sig in _FAST_SIGNALS)
        #: Teardown work exists (functions or signals): contexts pop the long way.
        self.teardown = bool(
            any(app.teardown_request_funcs.values())
            or app.teardown_appcontext_funcs
            or not no_signals
        )
        url_map = app.url_map
        url_map.refresh()
        overridden = any(
            getattr(type(app), name) is not getattr(Pipeline, name)
            for name in _FAST_PATH_METHODS
        )
        #: The driver may run the pipeline inline: no signal has receivers and
        #: no pipeline method is overridden (hooks and teardown are fine).
        self.inline = no_signals and not overridden
        #: ``{endpoint or None: HookChain}``, filled as endpoints are seen.
        self.chains: dict[str | None, HookChain] = {}
        #: The same for WebSocket connections (``before/after_websocket`` hooks).
        self.ws_chains: dict[str | None, HookChain] = {}
        #: ``{wsgi path: {method: (rule, defaults, hooks)}}`` for the inline path
        #: (keys in the WSGI form of the path: UTF-8 bytes read as latin-1).
        self.static: dict[str, dict[str, Any]] = {}
        #: The same table keyed by the decoded path (the ASGI scope's form).
        self.static_decoded: dict[str, dict[str, Any]] = {}
        #: ``{endpoint: how the ASGI adapter calls the view}``, filled on first use.
        self.async_views: dict[str, int] = {}
        if self.inline and url_map.fast_path_ok:
            for path, by_method in url_map.static_routes.items():
                table = {}
                for method, rule in by_method.items():
                    if method == "OPTIONS" or method == "*" or rule.websocket:
                        continue
                    table[method] = (
                        rule,
                        rule.defaults or None,
                        self.chain_for(app, rule.endpoint),
                    )
                if table:
                    self.static_decoded[path] = table
                    self.static[path.encode().decode("latin-1")] = table
        #: Dynamic rules may be matched on the fast path (no host/subdomain).
        self.dynamic = self.inline and url_map.fast_path_ok
        #: The provider's body function when its ``response`` is the default one.
        self.json_bytes: Callable[[Any], bytes] | None = None
        provider = app.json
        self.json_mimetype = provider.mimetype
        from .json.provider import DefaultJSONProvider

        if type(provider).response is DefaultJSONProvider.response:
            self.json_bytes = provider.response_bytes

    def chain_for(
        self, app: Erlen, endpoint: str | None, websocket: bool = False
    ) -> HookChain:
        """Return (and cache) the hooks for requests (or WebSockets) to ``endpoint``."""
        cache = self.ws_chains if websocket else self.chains
        hooks = cache.get(endpoint)
        if hooks is None:
            blueprint = None
            if endpoint is not None and "." in endpoint:
                blueprint = endpoint.rpartition(".")[0]
            hooks = cache[endpoint] = HookChain(app, blueprint, websocket)
        return hooks


class HookChain:
    """The hooks that apply to requests of one blueprint (or none), in call order.

    With ``websocket`` true, ``before``/``after`` are the ``before_websocket`` /
    ``after_websocket`` functions instead of the request ones.
    """

    __slots__ = ("after", "before", "runs_before", "url_value_preprocessors")

    def __init__(
        self, app: Erlen, blueprint: str | None, websocket: bool = False
    ) -> None:
        names: list[str | None] = [None]
        if blueprint is not None:
            parts = blueprint.split(".")
            names.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        # Flask order: app first, then outer to inner blueprint, for "before"
        # work; innermost blueprint first and each list reversed for "after".
        self.url_value_preprocessors = tuple(
            chain.from_iterable(app.url_value_preprocessors.get(n, ()) for n in names)
        )
        before = app.before_websocket_funcs if websocket else app.before_request_funcs
        after = app.after_websocket_funcs if websocket else app.after_request_funcs
        self.before = tuple(chain.from_iterable(before.get(n, ()) for n in names))
        self.after = tuple(
            chain.from_iterable(reversed(after.get(n, ())) for n in reversed(names))
        )
        #: Something runs before the view (preprocessors or before hooks).
        self.runs_before = bool(self.url_value_preprocessors or self.before)


# -- async support under a sync driver --------------------------------------------
_loops = threading.local()


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion on this thread's persistent event loop.

    A WSGI worker thread keeps one loop for its lifetime instead of creating a
    loop per call (what ``asyncio.run`` would do). On a thread whose loop is
    running (an ASGI server's), the coroutine is returned for the caller to await.
    """
    if asyncio._get_running_loop() is not None:
        # Called on the server's loop (ASGI): the async caller awaits it.
        return coro
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coro)


def _resolve(rv: Any) -> Any:
    # PERF: one type check instead of inspecting each callable up front.
    if type(rv) is CoroutineType:
        return run_coroutine(rv)
    return rv


class Pipeline:
    """The per-request methods of the app, in Flask's vocabulary."""

    _plan: Plan | None

    # -- plan -----------------------------------------------------------------------
    def _make_plan(self: Erlen) -> Plan:  # type: ignore[misc]
        self._got_first_request = True
        plan = self._plan = Plan(self)
        return plan

    def _hook_chain(self: Erlen, req: Request) -> HookChain:  # type: ignore[misc]
        """Return the hooks for ``req``'s blueprint, cached per endpoint."""
        plan = self._plan or self._make_plan()
        rule = req.url_rule
        return plan.chain_for(self, rule.endpoint if rule is not None else None)

    # -- calling user code ---------------------------------------------------------
    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Return a sync callable for ``func``; async functions run on a loop."""
        if inspect.iscoroutinefunction(func):
            return self.async_to_sync(func)
        return func

    def async_to_sync(
        self, func: Callable[..., Coroutine[Any, Any, Any]]
    ) -> Callable[..., Any]:
        """Wrap an async function to run on this thread's persistent loop."""

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return run_coroutine(func(*args, **kwargs))

        return wrapper

    # -- routing ------------------------------------------------------------------------
    def match_request(
        self: Erlen,  # type: ignore[misc]
        req: Request | None = None,
        websocket: bool = False,
    ) -> None:
        """Match the request's URL; store the rule and view args, or the error.

        ``websocket`` matches WebSocket rules (the handshake of a connection).
        """
        if req is None:
            req = _cv_ctx.get().request  # type: ignore[assignment]
        try:
            config = self.config
            if config["TRUSTED_HOSTS"] is not None:
                req.trusted_hosts = config["TRUSTED_HOSTS"]
                req.host  # noqa: B018 - validates the Host header now
            url_map = self.url_map
            if url_map.fast_path_ok:
                rule, args = url_map.match(req.path, req.method, websocket=websocket)
            else:
                host = req.host.lower()
                subdomain = None
                server_name = config["SERVER_NAME"]
                if not url_map.host_matching:
                    if self.subdomain_matching and server_name:
                        server = server_name.lower()
                        if host == server:
                            subdomain = ""
                        elif host.endswith("." + server):
                            subdomain = host[: -len(server) - 1]
                        else:
                            subdomain = "<invalid>"
                    else:
                        subdomain = url_map.default_subdomain or ""
                rule, args = url_map.match(
                    req.path,
                    req.method,
                    host=host,
                    subdomain=subdomain,
                    websocket=websocket,
                )
        except HTTPException as e:
            req.routing_exception = e
        except RedirectRequired as r:
            req.routing_exception = RequestRedirect(self._redirect_url(req, r))
        else:
            req.url_rule = rule
            req.view_args = args

    def _redirect_url(self: Erlen, req: Request, r: RedirectRequired) -> str:  # type: ignore[misc]
        host = req.host
        if r.domain is not None:
            if self.url_map.host_matching:
                host = r.domain
            else:
                server = self.config["SERVER_NAME"] or host
                host = f"{r.domain}.{server}" if r.domain else server
        base = f"{req.scheme}://{host}{req.script_root}"
        if r.from_rule:
            # A rule's redirect_to target: relative to the app root, no query.
            return urljoin(f"{base}/", r.path)
        url = base + quote(r.path, safe="/:@&=+$,;~!*'()%")
        qs = req.query_string
        if qs:
            url = f"{url}?{qs.decode('latin-1')}"
        return url

    def raise_routing_exception(self, request: Request) -> None:
        """Raise the routing error stored on ``request``."""
        raise request.routing_exception  # type: ignore[misc]

    # -- the inline pipeline (used by the adapters when the plan allows) -----------------
    def _dispatch_inline(
        self: Erlen,  # type: ignore[misc]
        ctx: RequestContext,
        rule: Any,
        hooks: HookChain | None,
    ) -> Response | tuple[bytes, str]:
        """Run hooks, view and after-hooks for a matched (or failed) request.

        The adapters call this when :attr:`Plan.inline` holds, after matching.
        It makes the same decisions, in the same order, as
        :meth:`full_dispatch_request` + :meth:`finalize_request`. Returns a
        Response, or ``(body, content_type)`` for a 200 with no after-request
        work, which the adapter writes without a Response object.
        """
        req = ctx.request
        endpoint = None if rule is None else rule.endpoint
        if hooks is None:
            plan: Plan = self._plan  # type: ignore[assignment]
            hooks = plan.chains.get(endpoint) or plan.chain_for(self, endpoint)
        try:
            if hooks.url_value_preprocessors:
                for func in hooks.url_value_preprocessors:
                    func(endpoint, req.view_args)
            rv = None
            for func in hooks.before:
                rv = func()
                if rv is not None:
                    if type(rv) is CoroutineType:
                        rv = run_coroutine(rv)
                    if rv is not None:
                        break
            if rv is None:
                if rule is None:
                    raise req.routing_exception  # type: ignore[misc]
                rv = self.view_functions[endpoint](**req.view_args)  # type: ignore[index]
                if type(rv) is CoroutineType:
                    # Inside the try: an async view's abort() or 413 is handled.
                    rv = run_coroutine(rv)
        except Exception as e:
            rv = self.handle_user_exception(e)
        kind = type(rv)
        if kind is CoroutineType:
            rv = run_coroutine(rv)
            kind = type(rv)
        fast = self._fast_body(ctx, rv, kind, hooks)
        if fast is not None:
            return fast
        return self._after_inline(ctx, rv, hooks)

    def _fast_body(
        self: Erlen,  # type: ignore[misc]
        ctx: RequestContext,
        rv: Any,
        kind: type,
        hooks: HookChain,
    ) -> tuple[bytes, str] | None:
        """Return ``(body, content_type)`` when ``rv`` needs no Response object."""
        # PERF: no after-request work — str/bytes/JSON go straight to the wire.
        if (
            hooks.after
            or ctx._session is not None
            or ctx._after_request_functions is not None
        ):
            return None
        cookie = ctx._cookie
        if cookie is None:
            cookie = "HTTP_COOKIE" in ctx.request.environ
        if cookie:
            return None
        if kind is str:
            return rv.encode(), _HTML
        if kind is bytes:
            return rv, _HTML
        if kind is dict or kind is list:
            plan: Plan = self._plan  # type: ignore[assignment]
            if plan.json_bytes is not None:
                return plan.json_bytes(rv), plan.json_mimetype
        return None

    def _after_inline(
        self: Erlen,  # type: ignore[misc]
        ctx: RequestContext,
        rv: Any,
        hooks: HookChain,
    ) -> Response:
        """Make the response and run the after-request work (sync callables)."""
        response = self.make_response(rv)
        funcs = ctx._after_request_functions
        if funcs:
            for func in funcs:
                response = _resolve(func(response))
        for func in hooks.after:
            response = func(response)
            if type(response) is CoroutineType:
                response = run_coroutine(response)
        if ctx._session is not None or "HTTP_COOKIE" in ctx.request.environ:
            self._save_session(ctx, response)
        return response

    # -- dispatch -------------------------------------------------------------------------
    def full_dispatch_request(self: Erlen) -> Response:  # type: ignore[misc]
        """Run before hooks and the view, handle user errors, finalize the response."""
        ctx: RequestContext = _cv_ctx.get()  # type: ignore[assignment]
        req = ctx.request
        if req.url_rule is None and req.routing_exception is None:
            self.match_request(req)
        try:
            if signals.request_started.receivers:
                signals.request_started.send(self, _async_wrapper=self.ensure_sync)
            rv = self.preprocess_request()
            if rv is None:
                rv = self.dispatch_request()
        except Exception as e:
            rv = self.handle_user_exception(e)
        return self.finalize_request(rv)

    def preprocess_request(self: Erlen) -> Any:  # type: ignore[misc]
        """Run URL value preprocessors, then before-request functions.

        A non-None value from a before-request function stops the request and
        becomes its response.
        """
        req: Request = _cv_ctx.get().request  # type: ignore[assignment]
        hooks = self._hook_chain(req)
        if hooks.url_value_preprocessors:
            for func in hooks.url_value_preprocessors:
                func(req.endpoint, req.view_args)
        for before_func in hooks.before:
            rv = before_func()
            if rv is not None:
                if type(rv) is CoroutineType:
                    rv = run_coroutine(rv)
                    if rv is None:
                        continue
                return rv
        return None

    def dispatch_request(self: Erlen) -> Any:  # type: ignore[misc]
        """Call the view matched for the request and return its value."""
        req: Request = _cv_ctx.get().request  # type: ignore[assignment]
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = req.url_rule
        if rule.provide_automatic_options and req.method == "OPTIONS":  # type: ignore[union-attr]
            return self.make_default_options_response()
        view_args = req.view_args or {}
        return _resolve(self.view_functions[rule.endpoint](**view_args))  # type: ignore[union-attr]

    def make_default_options_response(self: Erlen) -> Response:  # type: ignore[misc]
        """Return an empty 200 response whose Allow header lists the URL's methods."""
        from werkzeug.exceptions import MethodNotAllowed

        req: Request = _cv_ctx.get().request  # type: ignore[assignment]
        try:
            self.url_map.match(req.path, "\x00erlen-any")
            methods: list[str] = []
        except MethodNotAllowed as e:
            methods = list(e.valid_methods or ())
        except HTTPException:  # pragma: no cover - the path matched before
            methods = []
        rv = self.response_class()
        rv.allow.update(methods)
        return rv

    def finalize_request(
        self: Erlen,  # type: ignore[misc]
        rv: Any,
        from_error_handler: bool = False,
    ) -> Response:
        """Turn ``rv`` into a response and run the after-request processing."""
        response = self.make_response(rv)
        try:
            response = self.process_response(response)
            if signals.request_finished.receivers:
                signals.request_finished.send(
                    self, _async_wrapper=self.ensure_sync, response=response
                )
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception(
                "Request finalizing failed with an error while handling an error"
            )
        return response

    def process_response(self: Erlen, response: Response) -> Response:  # type: ignore[misc]
        """Run after-this-request and after-request functions; save the session."""
        ctx: RequestContext = _cv_ctx.get()  # type: ignore[assignment]
        funcs = ctx._after_request_functions
        if funcs:
            for func in funcs:
                response = _resolve(func(response))
        for func in self._hook_chain(ctx.request).after:
            response = func(response)
            if type(response) is CoroutineType:
                response = run_coroutine(response)
        self._save_session(ctx, response)
        return response

    def _save_session(self: Erlen, ctx: RequestContext, response: Response) -> None:  # type: ignore[misc]
        sess = ctx._session
        iface = self.session_interface
        if sess is None:
            # The session was never opened. Flask opens it on every request, so
            # a permanent session's cookie is refreshed even when unused; do the
            # same, but only when the request carries a session cookie.
            if not self.config["SESSION_REFRESH_EACH_REQUEST"]:
                return
            cookie = ctx.request.environ.get("HTTP_COOKIE")
            if not cookie or iface.get_cookie_name(self) not in cookie:
                return
            sess = ctx.session
        if not iface.is_null_session(sess):
            iface.save_session(self, sess, response)

    # -- errors -----------------------------------------------------------------------------
    def trap_http_exception(self: Erlen, e: Exception) -> bool:  # type: ignore[misc]
        """Return whether an HTTP exception should propagate like a normal one."""
        config = self.config
        if config["TRAP_HTTP_EXCEPTIONS"]:
            return True
        trap_bad_request = config["TRAP_BAD_REQUEST_ERRORS"]
        if (
            trap_bad_request is None
            and self.debug
            and isinstance(e, BadRequestKeyError)
        ):
            return True
        if trap_bad_request:
            from werkzeug.exceptions import BadRequest

            return isinstance(e, BadRequest)
        return False

    def _find_error_handler(
        self: Erlen,  # type: ignore[misc]
        e: Exception,
        blueprints: list[str],
    ) -> Callable[[Any], Any] | None:
        exc_class, code = self._get_exc_class_and_code(type(e))
        names = (*blueprints, None)
        spec = self.error_handler_spec
        for c in (code, None) if code is not None else (None,):
            for name in names:
                handler_map = spec.get(name, {}).get(c)
                if not handler_map:
                    continue
                for cls in exc_class.__mro__:
                    handler = handler_map.get(cls)
                    if handler is not None:
                        return handler
        return None

    def handle_http_exception(self: Erlen, e: HTTPException) -> Any:  # type: ignore[misc]
        """Return the registered handler's value for ``e``, or ``e`` itself."""
        if e.code is None:
            return e
        if isinstance(e, RoutingException) or not self.error_handler_spec:
            return e
        req: Request = _cv_ctx.get().request  # type: ignore[assignment]
        handler = self._find_error_handler(e, req.blueprints)
        if handler is None:
            return e
        return _resolve(handler(e))

    def handle_user_exception(self: Erlen, e: Exception) -> Any:  # type: ignore[misc]
        """Handle an exception raised by a hook or view; re-raise if unhandled."""
        # -- erlen addition: debug-mode explanations (docs/debugging.md), folded
        # into Flask's show_exception check so that a 404 makes no extra call.
        if isinstance(e, BadRequestKeyError | RequestRedirect):
            debug = self.debug
            if isinstance(e, BadRequestKeyError) and (
                debug or self.config["TRAP_BAD_REQUEST_ERRORS"]
            ):
                e.show_exception = True
            if debug:
                from .debug import explain_exception

                explain_exception(self, e, _cv_ctx.get().request)  # type: ignore[arg-type]
        # -- end erlen addition --------------------------------------------------
        if isinstance(e, HTTPException) and not self.trap_http_exception(e):
            return self.handle_http_exception(e)
        req: Request = _cv_ctx.get().request  # type: ignore[assignment]
        handler = self._find_error_handler(e, req.blueprints)
        if handler is None:
            raise e
        return _resolve(handler(e))

    def handle_exception(self: Erlen, e: Exception) -> Response:  # type: ignore[misc]
        """Handle an exception nothing else handled: a 500, or re-raise in testing."""
        exc_info = sys.exc_info()
        if signals.got_request_exception.receivers:
            signals.got_request_exception.send(
                self, _async_wrapper=self.ensure_sync, exception=e
            )
        propagate = self.config["PROPAGATE_EXCEPTIONS"]
        if propagate is None:
            propagate = self.testing or self.debug
            # -- erlen addition: the debug page (docs/debugging.md) ---------------
            # Flask lets the exception reach Werkzeug's debugger; erlen renders
            # its own page here, so it works under any server. Not in tests
            # (TESTING wants the exception) nor with PROPAGATE_EXCEPTIONS set.
            if propagate and not self.testing and self.config["DEBUG_PAGE"]:
                from .debug import debug_response

                page = debug_response(self, e)
                if page is not None:
                    return page
                propagate = False  # Host not trusted: the production 500
            # -- end erlen addition ----------------------------------------------
        if propagate:
            if exc_info[1] is e:
                raise
            raise e
        self.log_exception(exc_info)
        server_error: Any = InternalServerError(original_exception=e)
        req: Request = _cv_ctx.get().request  # type: ignore[assignment]
        handler = self._find_error_handler(server_error, req.blueprints)
        if handler is not None:
            server_error = _resolve(handler(server_error))
        return self.finalize_request(server_error, from_error_handler=True)

    def log_exception(self: Erlen, exc_info: Any) -> None:  # type: ignore[misc]
        """Log an unhandled exception with the request's method and path."""
        req = _cv_ctx.get().request
        # The path is logged as a repr so control characters cannot forge log
        # lines or terminal escapes (BAD_INPUTS 58).
        self.logger.error(
            f"Exception on {req.path!r} [{req.method}]",  # type: ignore[union-attr]
            exc_info=exc_info,
        )

    def should_ignore_error(self, error: BaseException | None) -> bool:
        """Return True to hide ``error`` from teardown functions (never, by default)."""
        return False

    # -- teardown ---------------------------------------------------------------------------
    def do_teardown_request(self: Erlen, exc: BaseException | None = None) -> None:  # type: ignore[misc]
        """Call teardown_request functions (innermost blueprint first, reversed)."""
        ctx = _cv_ctx.get()
        req = ctx.request
        funcs = self.teardown_request_funcs
        if funcs:
            for name in chain(req.blueprints if req is not None else (), (None,)):
                for func in reversed(funcs.get(name, ())):
                    _resolve(func(exc))
        if signals.request_tearing_down.receivers:
            signals.request_tearing_down.send(
                self, _async_wrapper=self.ensure_sync, exc=exc
            )

    def do_teardown_appcontext(self: Erlen, exc: BaseException | None = None) -> None:  # type: ignore[misc]
        """Call teardown_appcontext functions in reverse registration order."""
        for func in reversed(self.teardown_appcontext_funcs):
            _resolve(func(exc))
        if signals.appcontext_tearing_down.receivers:
            signals.appcontext_tearing_down.send(
                self, _async_wrapper=self.ensure_sync, exc=exc
            )

    # -- return value -> response -------------------------------------------------------
    def make_response(self: Erlen, rv: Any) -> Response:  # type: ignore[misc]
        """Convert a view's return value into a :attr:`response_class` instance.

        Accepts what Flask accepts: str, bytes, dict/list (JSON), a response,
        an iterator/generator (streamed), a WSGI callable, or a tuple
        ``(body, status)``, ``(body, headers)`` or ``(body, status, headers)``;
        and an async iterator/generator (streamed under both protocols).
        """
        status = headers = None
        if isinstance(rv, tuple):
            len_rv = len(rv)
            if len_rv == 3:
                rv, status, headers = rv
            elif len_rv == 2:
                if isinstance(rv[1], Headers | dict | tuple | list):
                    rv, headers = rv
                else:
                    rv, status = rv
            else:
                raise TypeError(
                    "The view function did not return a valid response tuple. The"
                    " tuple must have the form (body, status, headers), (body,"
                    " status), or (body, headers)."
                )
        if rv is None:
            req = _cv_ctx.get().request
            raise TypeError(
                f"The view function for {req.endpoint!r} did not return a valid"  # type: ignore[union-attr]
                " response. The function either returned None or ended without a"
                " return statement."
            )
        response_class = self.response_class
        if not isinstance(rv, response_class):
            if isinstance(rv, str | bytes | bytearray | Iterator):
                rv = response_class(rv, status=status, headers=headers)
                status = headers = None
            elif isinstance(rv, dict | list):
                rv = self.json.response(rv)
            elif isinstance(rv, HTTPException):
                rv = self._response_from_http_exception(rv)
            elif callable(rv):
                rv = self._response_from_foreign(rv)
            elif isinstance(rv, AsyncIterator):
                # -- erlen addition: an async generator streams (the ASGI
                # adapter awaits it; the WSGI one advances it on its loop).
                rv = response_class(rv, status=status, headers=headers)
                status = headers = None
            else:
                raise TypeError(
                    "The view function did not return a valid response. The return"
                    " type must be a string, dict, list, tuple with headers or"
                    " status, Response instance, async iterator, or WSGI callable,"
                    f" but it was a {type(rv).__name__}."
                )
        if status is not None:
            if isinstance(status, str | bytes | bytearray):
                rv.status = status if isinstance(status, str) else status.decode()
            else:
                rv.status_code = status
        if headers:
            rv.headers.update(headers)
        return rv

    def _response_from_http_exception(self: Erlen, e: HTTPException) -> Response:  # type: ignore[misc]
        if e.response is not None:
            return self.make_response(e.response)
        if isinstance(e, RequestRedirect):
            return self.redirect(e.new_url, e.code)
        cls = type(e)
        # PERF: the default error page of a class never changes; render it once
        # (bench scenario "not_found"). Custom descriptions render each time.
        if (
            e.description is cls.description
            and cls.get_body is HTTPException.get_body
            and cls.get_description is HTTPException.get_description
        ):
            body = _error_bodies.get(cls)
            if body is None:
                body = _error_bodies[cls] = e.get_body()
        else:
            req = _cv_ctx.get().request
            body = e.get_body(req.environ if req is not None else None)
        rv = self.response_class(body, status=e.code, content_type=_HTML)
        if cls.get_headers is not HTTPException.get_headers:
            req = _cv_ctx.get().request
            rv.headers = Headers(
                e.get_headers(req.environ if req is not None else None)
            )
        return rv

    def _response_from_foreign(self: Erlen, rv: Any) -> Response:  # type: ignore[misc]
        """Run a WSGI callable (a Werkzeug response, say) into a response_class."""
        req = _cv_ctx.get().request
        try:
            return self.response_class.force_type(rv, req.environ)  # type: ignore[union-attr]
        except TypeError as e:
            raise TypeError(
                f"{e}\nThe view function did not return a valid response. The return"
                " type must be a string, dict, list, tuple with headers or status,"
                " Response instance, or WSGI callable, but it was a"
                f" {type(rv).__name__}."
            ).with_traceback(sys.exc_info()[2]) from None
