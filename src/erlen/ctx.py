"""Application and request contexts, ``g``, and the helpers built on them.

One context variable (:data:`erlen.globals._cv_ctx`) holds the innermost context.
A :class:`RequestContext` is also an application context: it shares ``g`` and the
app-context teardown with an enclosing :class:`AppContext` of the same app, or owns
them itself when pushed alone — so a request costs one ``ContextVar.set`` and one
``reset``, not two stacks of objects.

May import: erlen.globals, erlen.signals, erlen.typing. The app is passed in.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable, Iterator
from functools import update_wrapper
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from . import signals
from .globals import _cv_ctx, _no_req_msg

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .sessions import SessionMixin
    from .websockets import Websocket
    from .wrappers.request import Request
    from .wrappers.response import Response

F = TypeVar("F", bound=Callable[..., Any])

_sentinel = object()
#: RequestContext._appctx when the request context owns its app context.
_OWN: Any = object()


class _AppCtxGlobals:
    """A plain namespace for data kept during one application context (``g``).

    Example::

        g.user = load_user()
        if "user" in g: ...
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        """Return attribute ``name``, or ``default`` when it is not set."""
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: Any = _sentinel) -> Any:
        """Remove and return attribute ``name``; ``default`` if given and missing."""
        if default is _sentinel:
            return self.__dict__.pop(name)
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        """Return attribute ``name``, setting it to ``default`` first if missing."""
        return self.__dict__.setdefault(name, default)

    def __contains__(self, item: str) -> bool:
        return item in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __repr__(self) -> str:
        ctx = _cv_ctx.get(None)
        if ctx is not None:
            return f"<erlen.g of '{ctx.app.name}'>"
        return object.__repr__(self)


class AppContext:
    """The application context: makes ``current_app`` and ``g`` available.

    Created by :meth:`Erlen.app_context`; use it as a context manager::

        with app.app_context():
            init_db()
    """

    #: An app context carries no request; the ``request`` proxy checks this.
    request: Request | None = None

    def __init__(self, app: Erlen) -> None:
        self.app = app
        self._g: _AppCtxGlobals | None = None
        self._tokens: list[contextvars.Token[AppContext]] = []

    @property
    def g(self) -> _AppCtxGlobals:
        g = self._g
        if g is None:
            g = self._g = self.app.app_ctx_globals_class()
        return g

    @g.setter
    def g(self, value: _AppCtxGlobals) -> None:
        self._g = value

    @property
    def session(self) -> SessionMixin:
        raise RuntimeError(_no_req_msg)

    def push(self) -> None:
        """Make this context the current one."""
        self._tokens.append(_cv_ctx.set(self))
        if signals.appcontext_pushed.receivers:
            signals.appcontext_pushed.send(
                self.app, _async_wrapper=self.app.ensure_sync
            )

    def pop(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """Run app-context teardown and make the previous context current."""
        try:
            if len(self._tokens) == 1:
                if exc is _sentinel:
                    exc = sys.exc_info()[1]
                self.app.do_teardown_appcontext(exc)
        finally:
            ctx = _cv_ctx.get(None)
            if ctx is not self:
                raise AssertionError(
                    f"Popped the wrong app context ({ctx!r} instead of {self!r})."
                )
            _cv_ctx.reset(self._tokens.pop())
        if signals.appcontext_popped.receivers:
            signals.appcontext_popped.send(
                self.app, _async_wrapper=self.app.ensure_sync
            )

    def __enter__(self) -> AppContext:
        self.push()
        return self

    def __exit__(
        self,
        exc_type: type | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.pop(exc_value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.app.name!r}>"


class RequestContext(AppContext):
    """The request context: the request, its session and per-request state.

    The app pushes one for each request; tests create one with
    :meth:`Erlen.test_request_context`. It also serves as the application
    context unless one for the same app is already current when it is pushed.
    """

    #: The WebSocket connection this context serves (:mod:`erlen.websockets`),
    #: else None. PERF: a class default, so an HTTP request never stores it.
    websocket: Websocket | None = None

    def __init__(
        self,
        app: Erlen,
        environ: dict[str, Any] | None,
        request: Request | None = None,
        session: SessionMixin | None = None,
    ) -> None:
        self.app = app
        if request is None:
            # No populate_request: a request stored in its own environ is a
            # reference cycle per request, left for the cyclic GC.
            request = app.request_class(environ, populate_request=False)  # type: ignore[arg-type]
        self.request = request  # type: ignore[assignment]
        self._session = session
        self._g = None
        self._token: contextvars.Token[AppContext] | None = None
        #: Functions registered with :func:`after_this_request`; None until used.
        self._after_request_functions: list[Callable[[Response], Response]] | None = (
            None
        )
        #: Whether the request carries cookies, when the adapter knows it
        #: without building the environ (ASGI); None means "look in the environ".
        self._cookie: bool | None = None
        #: Messages flashed during this request, once read.
        self.flashes: list[tuple[str, str]] | None = None
        #: The context that owns ``g`` and the app-context teardown (self or outer).
        self._appctx: AppContext | None = None

    # -- app-context sharing ------------------------------------------------------
    def _owner(self) -> AppContext:
        owner = self._appctx
        if owner is _OWN:
            return self
        if owner is None:
            owner = self
            token = self._token
            if token is not None:
                outer = token.old_value
                if isinstance(outer, AppContext) and outer.app is self.app:
                    owner = (
                        outer._owner() if isinstance(outer, RequestContext) else outer
                    )
            # A marker, not ``self``: a reference to itself would make every
            # request context a cycle left for the garbage collector.
            self._appctx = _OWN if owner is self else owner
        return owner

    @property
    def g(self) -> _AppCtxGlobals:
        g = self._g
        if g is None:
            owner = self._owner()
            # Keep a reference to the shared ``g`` so the proxy finds it at once.
            g = owner.g if owner is not self else self.app.app_ctx_globals_class()
            self._g = g
        return g

    @g.setter
    def g(self, value: _AppCtxGlobals) -> None:
        owner = self._owner()
        if owner is not self:
            owner.g = value
        self._g = value

    # -- session, opened on first use ---------------------------------------------
    @property
    def session(self) -> SessionMixin:
        sess = self._session
        if sess is None:
            sess = self._session = self.app.open_session(self.request)
        return sess

    @session.setter
    def session(self, value: SessionMixin) -> None:
        self._session = value

    # -- push / pop -----------------------------------------------------------------
    def push(self) -> None:
        """Make this context current and match the request's URL."""
        self._token = _cv_ctx.set(self)
        self._appctx = None
        if self._owner() is self and signals.appcontext_pushed.receivers:
            signals.appcontext_pushed.send(
                self.app, _async_wrapper=self.app.ensure_sync
            )
        req = self.request
        if req.url_rule is None and req.routing_exception is None:
            self.app.match_request(req)

    def pop(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """Run teardown functions, close the request, restore the previous context."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        try:
            self._teardown(exc)
        finally:
            self._restore()

    def _teardown(self, exc: BaseException | None) -> None:
        """Run the teardown functions and close the request; the context stays.

        Separate from :meth:`_restore` so the ASGI adapter can run user code in
        a worker thread and restore the context variable on the event loop.
        """
        app = self.app
        try:
            app.do_teardown_request(exc)
            self.request.close()
        finally:
            if self._owner() is self:
                app.do_teardown_appcontext(exc)

    def _restore(self) -> None:
        """Make the context that was current before :meth:`push` current again."""
        token = self._token
        ctx = _cv_ctx.get(None)
        if ctx is not self or token is None:
            raise AssertionError(
                f"Popped the wrong request context ({ctx!r} instead of {self!r})."
            )
        _cv_ctx.reset(token)
        self._token = None
        if self._appctx is _OWN and signals.appcontext_popped.receivers:
            app = self.app
            signals.appcontext_popped.send(app, _async_wrapper=app.ensure_sync)

    def __enter__(self) -> RequestContext:
        self.push()
        return self

    def copy(self) -> RequestContext:
        """Return a new context for the same request and session (not pushed)."""
        return type(self)(self.app, None, request=self.request, session=self._session)

    def __repr__(self) -> str:
        req = self.request
        return f"<RequestContext {req.method} {req.path!r} of {self.app.name!r}>"


def _current_request_ctx() -> RequestContext | None:
    ctx = _cv_ctx.get(None)
    if ctx is None or ctx.request is None:
        return None
    return ctx  # type: ignore[return-value]


def has_app_context() -> bool:
    """Return whether an application context is active."""
    return _cv_ctx.get(None) is not None


def has_request_context() -> bool:
    """Return whether a request context is active."""
    return _current_request_ctx() is not None


def after_this_request(f: F) -> F:
    """Run ``f(response)`` after the current request, before the app's after hooks.

    Example::

        @app.route("/")
        def index():
            @after_this_request
            def add_header(response):
                response.headers["X-Foo"] = "bar"
                return response
            return "hello"
    """
    ctx = _current_request_ctx()
    if ctx is None:
        raise RuntimeError(
            "'after_this_request' can only be used while a request is handled;"
            " call it from a view or a before_request function."
        )
    funcs = ctx._after_request_functions
    if funcs is None:
        funcs = ctx._after_request_functions = []
    funcs.append(f)
    return f


def copy_current_request_context(f: F) -> F:
    """Wrap ``f`` so that it runs inside a copy of the current request context.

    Useful for work handed to another thread or greenlet::

        @copy_current_request_context
        def work():
            print(request.path)
        threading.Thread(target=work).start()
    """
    ctx = _current_request_ctx()
    if ctx is None:
        raise RuntimeError(
            "'copy_current_request_context' can only be used while a request is"
            " handled; call it from a view or a before_request function."
        )
    copied = ctx.copy()
    copied.request.url_rule = ctx.request.url_rule

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with copied:
            return ctx.app.ensure_sync(f)(*args, **kwargs)

    return update_wrapper(wrapper, f)  # type: ignore[return-value]


__all__ = [
    "AppContext",
    "RequestContext",
    "after_this_request",
    "copy_current_request_context",
    "has_app_context",
    "has_request_context",
]
