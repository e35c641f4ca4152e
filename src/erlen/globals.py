"""The context variable and the proxies ``current_app``, ``g``, ``request``, ``session``.

erlen keeps one context variable: it holds the innermost pushed context object
(see :mod:`erlen.ctx`). An app context has ``request`` set to ``None``; a request
context carries the request and shares ``g`` with the app context it belongs to.
The ``websocket`` proxy stands for the connection a request context serves over
ASGI (see :mod:`erlen.websockets`).

Imports only :mod:`erlen.typing`. The proxies resolve lazily, so every module may
import this one.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .ctx import AppContext, _AppCtxGlobals
    from .sessions import SessionMixin
    from .websockets import Websocket
    from .wrappers.request import Request

_cv_ctx: ContextVar[AppContext] = ContextVar("erlen.ctx")

#: The environ key through which the test client asks the app to keep a request's
#: context pushed after the request (for ``with client:``); its value is called
#: with ``(context, error)`` instead of popping the context.
PRESERVE_CONTEXT_KEY = "erlen.preserve_context"

_no_app_msg = """\
Working outside of application context.

This happens when code that needs the current application (current_app, g,
url_for, the JSON helpers, ...) runs where no application context is pushed.
Push one with `with app.app_context():`, or run the code during a request."""

_no_req_msg = """\
Working outside of request context.

This happens when code that needs an active HTTP request (request, session,
flash, ...) runs outside one. In tests, use `app.test_request_context()` or the
test client; in background work, pass the values you need explicitly."""


_no_ws_msg = """\
Working outside of WebSocket context.

`websocket` is only available while a WebSocket connection is served: in a view
registered with @app.websocket(...) and in its before/after_websocket functions.
In tests, connect with `client.websocket_connect(...)`."""


def _lookup_ctx() -> AppContext:
    try:
        return _cv_ctx.get()
    except LookupError:
        raise RuntimeError(_no_app_msg) from None


def _lookup_app() -> Erlen:
    try:
        return _cv_ctx.get().app
    except LookupError:
        raise RuntimeError(_no_app_msg) from None


def _lookup_g() -> _AppCtxGlobals:
    try:
        ctx = _cv_ctx.get()
    except LookupError:
        raise RuntimeError(_no_app_msg) from None
    g = ctx._g
    return ctx.g if g is None else g


def _lookup_request() -> Request:
    try:
        req = _cv_ctx.get().request
    except LookupError:
        req = None
    if req is None:
        raise RuntimeError(_no_req_msg)
    return req


def _lookup_session() -> SessionMixin:
    try:
        ctx = _cv_ctx.get()
    except LookupError:
        ctx = None
    if ctx is None or ctx.request is None:
        raise RuntimeError(_no_req_msg)
    return ctx.session


def _lookup_websocket() -> Websocket:
    try:
        ws = getattr(_cv_ctx.get(), "websocket", None)
    except LookupError:
        ws = None
    if ws is None:
        raise RuntimeError(_no_ws_msg)
    return ws  # type: ignore[no-any-return]


class ContextProxy:
    """Forward attribute access and operators to an object found at call time.

    Behaves like Werkzeug's ``LocalProxy`` for the cases Flask code relies on:
    attributes, ``bool``, ``repr``, comparisons, containers and
    ``_get_current_object()``.
    """

    __slots__ = ("_erlen_lookup", "_erlen_name")

    def __init__(self, lookup: Any, name: str) -> None:
        object.__setattr__(self, "_erlen_lookup", lookup)
        object.__setattr__(self, "_erlen_name", name)

    def _get_current_object(self) -> Any:
        """Return the object this proxy stands for right now."""
        return self._erlen_lookup()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._erlen_lookup(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._erlen_lookup(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._erlen_lookup(), name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        try:
            return type(self._erlen_lookup())
        except RuntimeError:
            return ContextProxy

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        try:
            return type(self._erlen_lookup()).__doc__
        except RuntimeError:
            return None

    def __repr__(self) -> str:
        try:
            obj = self._erlen_lookup()
        except RuntimeError:
            return f"<{type(self).__name__} {self._erlen_name} (unbound)>"
        return repr(obj)

    def __str__(self) -> str:
        return str(self._erlen_lookup())

    def __bool__(self) -> bool:
        try:
            return bool(self._erlen_lookup())
        except RuntimeError:
            return False

    def __dir__(self) -> list[str]:
        try:
            return dir(self._erlen_lookup())
        except RuntimeError:
            return []

    def __eq__(self, other: object) -> bool:
        return self._erlen_lookup() == other  # type: ignore[no-any-return]

    def __ne__(self, other: object) -> bool:
        return self._erlen_lookup() != other  # type: ignore[no-any-return]

    def __hash__(self) -> int:
        return hash(self._erlen_lookup())

    def __len__(self) -> int:
        return len(self._erlen_lookup())

    def __iter__(self) -> Any:
        return iter(self._erlen_lookup())

    def __contains__(self, item: object) -> bool:
        return item in self._erlen_lookup()

    def __getitem__(self, key: Any) -> Any:
        return self._erlen_lookup()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._erlen_lookup()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._erlen_lookup()[key]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._erlen_lookup()(*args, **kwargs)


class _RequestProxy(ContextProxy):
    __slots__ = ()

    # PERF: attribute access on `request` is the commonest proxy use in views;
    # resolving inline saves one Python call per access.
    def __getattr__(self, name: str) -> Any:
        try:
            req = _cv_ctx.get().request
        except LookupError:
            req = None
        if req is None:
            raise RuntimeError(_no_req_msg)
        return getattr(req, name)


class _GProxy(ContextProxy):
    __slots__ = ()

    # PERF: hooks and views read and write ``g`` often (bench scenario "hooks");
    # resolving inline saves two Python calls per access.
    def __getattr__(self, name: str) -> Any:
        try:
            ctx = _cv_ctx.get()
        except LookupError:
            raise RuntimeError(_no_app_msg) from None
        g = ctx._g
        if g is None:
            g = ctx.g
        try:
            # The instance dict first: what ``g.x = ...`` stored.
            return g.__dict__[name]
        except KeyError:
            return getattr(g, name)

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            ctx = _cv_ctx.get()
        except LookupError:
            raise RuntimeError(_no_app_msg) from None
        g = ctx._g
        if g is None:
            g = ctx.g
        if type(g).__setattr__ is object.__setattr__:
            g.__dict__[name] = value
        else:
            setattr(g, name, value)


class _WebsocketProxy(ContextProxy):
    __slots__ = ()

    # ``async for message in websocket`` looks __aiter__ up on the type.
    def __aiter__(self) -> Any:
        return self._erlen_lookup().__aiter__()


current_app: Erlen = ContextProxy(_lookup_app, "current_app")  # type: ignore[assignment]
g: _AppCtxGlobals = _GProxy(_lookup_g, "g")  # type: ignore[assignment]
request: Request = _RequestProxy(_lookup_request, "request")  # type: ignore[assignment]
session: SessionMixin = ContextProxy(_lookup_session, "session")  # type: ignore[assignment]
websocket: Websocket = _WebsocketProxy(_lookup_websocket, "websocket")  # type: ignore[assignment]

__all__ = ["ContextProxy", "current_app", "g", "request", "session", "websocket"]
