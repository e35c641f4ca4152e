"""WebSockets over ASGI: the connection object, its errors, and the scope handler.

:func:`handle_websocket` serves one ASGI ``websocket`` scope (the ASGI adapter
hands it over). It builds a normal request from the handshake — so ``request``,
``session``, ``g``, ``current_app`` and ``url_for`` work in a WebSocket view —
and a :class:`Websocket` for the protocol (the ``websocket`` proxy), then runs
the handshake checks, the ``before_websocket`` hooks, the ``async def`` view and
the ``after_websocket`` hooks, and the request teardown.

Before the connection is accepted the exchange is still HTTP: an ``abort()``,
an error handler's value or a value returned by a hook or the view is sent as
the HTTP response refusing the handshake (through the ASGI
``websocket.http.response`` extension when the server offers it; otherwise the
connection is closed before acceptance, which the server answers with 403).

A plain HTTP request to a WebSocket-only URL answers :class:`UpgradeRequired`
(426): the router raises it (:mod:`erlen.routing`), so every driver agrees.

May import: erlen.asgi (worker threads), erlen.asgi_environ, erlen.ctx,
erlen.globals, erlen.routing, erlen.signals, erlen.typing.
"""

from __future__ import annotations

import binascii
import inspect
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    InternalServerError,
)

from . import signals
from .asgi import in_thread, run_before_and_view
from .asgi_environ import _environ
from .ctx import RequestContext
from .routing import UpgradeRequired as UpgradeRequired

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .pipeline import Plan
    from .typing import Receive, Scope, Send
    from .wrappers import Request, Response

#: Default of the ``WEBSOCKET_MAX_MESSAGE_SIZE`` config key: 1 MiB.
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20

# Connection states.
_CONNECTING, _ACCEPTED, _CLOSED = 0, 1, 2

# RFC 9110 §5.6.2: a token (subprotocol names and header names must be tokens).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN_BYTES = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CTL = re.compile(r"[\r\n\x00]")

# RFC 6455 §7.4: codes an endpoint may send in a Close frame (1004-1006 and
# 1015 are reserved and never sent; 3000-4999 are for libraries and apps).
_SENDABLE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class WebsocketDisconnect(Exception):
    """The WebSocket connection is closed: by the client, or by erlen.

    Raised by :meth:`Websocket.receive` and :meth:`Websocket.send` (and their
    typed variants) once the connection is gone. A view may let it propagate:
    erlen treats it as the normal end of the connection (no error is logged and
    teardown functions receive ``None``). The test client raises it too when the
    app closes the connection.

    Example::

        @app.websocket("/echo")
        async def echo():
            try:
                while True:
                    await websocket.send(await websocket.receive())
            except WebsocketDisconnect as e:
                app.logger.info("gone: %s %s", e.code, e.reason)

    :ivar code: the close code (RFC 6455 §7.4): ``1000`` normal, ``1001`` going
        away, ``1005`` no code given, ``1006`` connection lost, ``1009`` message
        too big (erlen closed it, see ``WEBSOCKET_MAX_MESSAGE_SIZE``), ...
    :ivar reason: the close reason, ``""`` when none was given.
    """

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        if self.reason:
            return f"WebSocket closed with code {self.code}: {self.reason}"
        return f"WebSocket closed with code {self.code}"


class Websocket:
    """One WebSocket connection: what the ``websocket`` proxy stands for.

    Available in WebSocket views and their ``before_websocket`` /
    ``after_websocket`` functions. The handshake request's attributes are
    available here too (``websocket.args``, ``websocket.headers``,
    ``websocket.path``, ``websocket.cookies``, ``websocket.view_args`` ...) —
    they are those of :data:`~erlen.request`.

    Receiving or sending accepts the connection first if the view has not
    called :meth:`accept`. Example::

        @app.websocket("/ws/<room>")
        async def chat(room):
            await websocket.accept(subprotocol="chat.v1")
            async for message in websocket:
                await websocket.send_json({"room": room, "echo": message})
    """

    __slots__ = (
        "_accepted",
        "_ctx",
        "_max_size",
        "_receive",
        "_scope",
        "_send",
        "_state",
        "accepted_subprotocol",
        "close_code",
        "close_reason",
        "request",
    )

    def __init__(
        self, ctx: RequestContext, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self._ctx = ctx
        self._scope = scope
        self._receive = receive
        self._send = send
        self._state = _CONNECTING
        self._accepted = False
        limit = ctx.app.config.get(
            "WEBSOCKET_MAX_MESSAGE_SIZE", DEFAULT_MAX_MESSAGE_SIZE
        )
        self._max_size: int | None = limit
        #: The handshake request (the same object as :data:`erlen.request`).
        self.request: Request = ctx.request
        #: The subprotocol chosen by :meth:`accept`, or None.
        self.accepted_subprotocol: str | None = None
        #: Set once the connection is closed: the close code, and the reason.
        self.close_code: int | None = None
        self.close_reason: str = ""

    def __getattr__(self, name: str) -> Any:
        # Reached only for names this class lacks: the handshake request's.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.request, name)

    def __repr__(self) -> str:
        state = ("connecting", "accepted", "closed")[self._state]
        return f"<Websocket {self._scope.get('path', '')!r} {state}>"

    # -- state -------------------------------------------------------------------
    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self._scope.get("subprotocols") or ())

    @property
    def accepted(self) -> bool:
        """Whether the connection has been accepted (it may be closed since)."""
        return self._accepted

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (by either side)."""
        return self._state == _CLOSED

    # -- handshake ---------------------------------------------------------------
    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Accept the connection (finish the handshake with ``101``).

        :param subprotocol: one of :attr:`subprotocols` to speak; None for none.
        :param headers: extra handshake response headers (a mapping or pairs).
        :raise ValueError: the subprotocol was not offered, or a header is
            invalid (CR, LF, NUL, a non-token name, ``Sec-WebSocket-Protocol``).
        :raise RuntimeError: the connection was already accepted or closed.
        """
        if self._state != _CONNECTING:
            raise RuntimeError(
                "The WebSocket connection was already accepted or closed: call"
                " accept() once, before sending or receiving anything."
            )
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(
                f"Subprotocol {subprotocol!r} was not offered by the client"
                f" (it offered {self.subprotocols!r})."
            )
        raw = _encode_headers(headers) if headers is not None else []
        ctx = self._ctx
        if ctx._session is not None:
            # The session was used before acceptance: its cookie rides on the
            # handshake response, the last HTTP message of the connection.
            app = ctx.app
            carrier = app.response_class()
            app._save_session(ctx, carrier)
            raw.extend(
                (b"set-cookie", value.encode("latin-1"))
                for value in carrier.headers.getlist("Set-Cookie")
            )
        message: dict[str, Any] = {"type": "websocket.accept", "headers": raw}
        if subprotocol is not None:
            message["subprotocol"] = subprotocol
        await self._send(message)
        self._state = _ACCEPTED
        self._accepted = True
        self.accepted_subprotocol = subprotocol

    # -- receiving ---------------------------------------------------------------
    async def receive(self) -> str | bytes:
        """Wait for the next message: ``str`` for a text frame, ``bytes`` for binary.

        :raise WebsocketDisconnect: the connection is closed — by the client,
            or by erlen because the message was larger than
            ``WEBSOCKET_MAX_MESSAGE_SIZE`` (code 1009).
        """
        if self._state != _ACCEPTED:
            if self._state == _CONNECTING:
                await self.accept()
            else:
                raise WebsocketDisconnect(self.close_code or 1006, self.close_reason)
        message = await self._receive()
        kind = message["type"]
        if kind == "websocket.receive":
            data = message.get("text")
            limit = self._max_size
            if data is not None:
                # PERF: a UTF-8 byte count is needed only near the limit.
                if (
                    limit is not None
                    and len(data) * 4 > limit
                    and (len(data) > limit or len(data.encode("utf-8")) > limit)
                ):
                    await self._too_big()
            else:
                data = message.get("bytes") or b""
                if limit is not None and len(data) > limit:
                    await self._too_big()
            return data  # type: ignore[no-any-return]
        if kind == "websocket.disconnect":
            self._state = _CLOSED
            self.close_code = message.get("code", 1005)
            self.close_reason = message.get("reason") or ""
            raise WebsocketDisconnect(self.close_code, self.close_reason)  # type: ignore[arg-type]
        raise RuntimeError(f"Unexpected ASGI message {kind!r} on a WebSocket.")

    async def _too_big(self) -> None:
        # BAD_INPUTS 56: the server has already reassembled the message, so the
        # best erlen can do is refuse it and close with 1009 (RFC 6455 §7.4.1).
        await self._close_quietly(1009, "Message too big")
        raise WebsocketDisconnect(1009, "Message too big")

    async def receive_text(self) -> str:
        """Receive a text message; a binary one closes the connection with 1003."""
        data = await self.receive()
        if type(data) is not str:
            await self._close_quietly(1003, "Text message expected")
            raise WebsocketDisconnect(1003, "Text message expected")
        return data

    async def receive_bytes(self) -> bytes:
        """Receive a binary message; a text one closes the connection with 1003."""
        data = await self.receive()
        if type(data) is str:
            await self._close_quietly(1003, "Binary message expected")
            raise WebsocketDisconnect(1003, "Binary message expected")
        return data

    async def receive_json(self) -> Any:
        """Receive a message (text or binary) and parse it with ``app.json``.

        Invalid JSON closes the connection with 1007 (RFC 6455: data
        inconsistent with the message type) and raises :exc:`WebsocketDisconnect`.
        """
        data = await self.receive()
        try:
            return self._ctx.app.json.loads(data)
        except (ValueError, RecursionError):
            await self._close_quietly(1007, "Invalid JSON")
            raise WebsocketDisconnect(1007, "Invalid JSON") from None

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self

    async def __anext__(self) -> str | bytes:
        """Return the next message; the iteration ends when the connection closes."""
        try:
            return await self.receive()
        except WebsocketDisconnect:
            raise StopAsyncIteration from None

    # -- sending -----------------------------------------------------------------
    async def send(self, data: str | bytes) -> None:
        """Send ``data``: a ``str`` as a text message, bytes as a binary one.

        :raise WebsocketDisconnect: the connection is closed.
        :raise TypeError: ``data`` is neither text nor bytes.
        """
        if type(data) is str:
            message = {"type": "websocket.send", "text": data}
        elif isinstance(data, bytes | bytearray | memoryview):
            message = {"type": "websocket.send", "bytes": bytes(data)}
        else:
            raise TypeError(
                f"WebSocket messages are str or bytes, not {type(data).__name__};"
                " use send_json() for other values."
            )
        if self._state != _ACCEPTED:
            if self._state == _CONNECTING:
                await self.accept()
            else:
                raise WebsocketDisconnect(self.close_code or 1006, self.close_reason)
        try:
            await self._send(message)
        except OSError:
            # ASGI 2.4: send() on a connection the client closed raises OSError.
            self._state = _CLOSED
            self.close_code = self.close_code or 1006
            raise WebsocketDisconnect(self.close_code, self.close_reason) from None

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        if type(data) is not str:
            raise TypeError(f"send_text() takes a str, not {type(data).__name__}.")
        await self.send(data)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"send_bytes() takes bytes, not {type(data).__name__}.")
        await self.send(data)

    async def send_json(self, obj: Any) -> None:
        """Send ``obj`` serialised with ``app.json`` as a text message."""
        await self.send(self._ctx.app.json.dumps(obj))

    # -- closing -----------------------------------------------------------------
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection; closing an already closed one does nothing.

        Before :meth:`accept` this refuses the handshake: the server answers
        403 whatever the code.

        :param code: a close code an endpoint may send: 1000-1003, 1007-1014,
            or 3000-4999 (RFC 6455 §7.4).
        :param reason: at most 123 bytes of UTF-8.
        :raise ValueError: for a reserved code or a reason too long.
        """
        if code not in _SENDABLE_CODES and not 3000 <= code <= 4999:
            raise ValueError(
                f"{code} is not a close code an endpoint may send: use 1000-1003,"
                " 1007-1014 or 3000-4999 (RFC 6455 §7.4)."
            )
        if len(reason.encode("utf-8")) > 123:
            raise ValueError("A close reason is limited to 123 bytes of UTF-8.")
        if self._state == _CLOSED:
            return
        await self._close_quietly(code, reason)

    async def _close_quietly(self, code: int, reason: str) -> None:
        """Send a close message (unless closed) and ignore a connection already gone."""
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        self.close_code = code
        self.close_reason = reason
        try:
            await self._send(
                {"type": "websocket.close", "code": code, "reason": reason}
            )
        except OSError:
            pass

    async def _reject(self, response: Response) -> None:
        """Refuse the handshake with ``response`` (an HTTP response)."""
        status = response.status_code
        try:
            if "websocket.http.response" not in (self._scope.get("extensions") or {}):
                # Without the extension the server answers 403 to a close sent
                # before acceptance; the code says which kind of refusal it was.
                await self._close_quietly(1008 if status < 500 else 1011, "")
                return
            headers = response.asgi_headers()  # validates (BAD_INPUTS 25)
            body = response.response
            if type(body) is list:
                data = b"".join(c if type(c) is bytes else c.encode() for c in body)
            else:
                data = await in_thread(self._ctx.app, response.get_data)
            self._state = _CLOSED
            self.close_code = 1008 if status < 500 else 1011
            try:
                await self._send(
                    {
                        "type": "websocket.http.response.start",
                        "status": status,
                        "headers": headers,
                    }
                )
                await self._send({"type": "websocket.http.response.body", "body": data})
            except OSError:
                pass
        finally:
            response.close()

    async def _fail(self) -> None:
        """End the connection after an error nothing handled: 500 or close 1011."""
        if self._state == _CONNECTING:
            self._state = _CLOSED
            self.close_code = 1011
            try:
                if "websocket.http.response" in (self._scope.get("extensions") or {}):
                    body = b"Internal Server Error"
                    await self._send(
                        {
                            "type": "websocket.http.response.start",
                            "status": 500,
                            "headers": [
                                (b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()),
                            ],
                        }
                    )
                    await self._send(
                        {"type": "websocket.http.response.body", "body": body}
                    )
                else:
                    await self._send({"type": "websocket.close", "code": 1011})
            except OSError:
                pass
        else:
            await self._close_quietly(1011, "Internal Server Error")


def _encode_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> list[tuple[bytes, bytes]]:
    """Turn handshake headers into ASGI pairs, refusing unsafe ones."""
    items = headers.items() if hasattr(headers, "items") else headers
    out: list[tuple[bytes, bytes]] = []
    for name, value in items:
        name, value = str(name), str(value)
        if _TOKEN.fullmatch(name) is None or _CTL.search(value) is not None:
            raise ValueError(f"Invalid handshake header {name!r}: {value!r}.")
        if name.lower() == "sec-websocket-protocol":
            raise ValueError(
                "Choose the subprotocol with accept(subprotocol=...), not a header."
            )
        try:
            out.append((name.lower().encode("ascii"), value.encode("latin-1")))
        except UnicodeEncodeError:
            raise ValueError(
                f"Header {name!r} has characters outside latin-1: {value!r}."
            ) from None
    return out


# -- the handshake checks (BAD_INPUTS 57) ------------------------------------------
def _valid_key(value: bytes) -> bool:
    # RFC 6455 §4.2.1: base64 of 16 bytes.
    try:
        return len(binascii.a2b_base64(value.strip(), strict_mode=True)) == 16
    except (binascii.Error, ValueError):
        return False


def _check_handshake(app: Erlen, ws: Websocket, req: Request) -> None:
    """Raise the HTTP error refusing a malformed or cross-site handshake."""
    origin = None
    cookie = False
    for name, value in ws._scope["headers"]:
        if name == b"sec-websocket-version":
            if value.strip() != b"13":
                raise UpgradeRequired(
                    "This server speaks WebSocket version 13 only (RFC 6455)."
                )
        elif name == b"sec-websocket-key":
            if not _valid_key(value):
                raise BadRequest("The Sec-WebSocket-Key header is invalid.")
        elif name == b"sec-websocket-protocol":
            for item in value.split(b","):
                if _TOKEN_BYTES.fullmatch(item.strip(b" \t")) is None:
                    raise BadRequest("The Sec-WebSocket-Protocol header is invalid.")
        elif name == b"origin":
            if origin is None:
                origin = value
        elif name == b"cookie":
            cookie = True
    for proto in ws._scope.get("subprotocols") or ():
        if type(proto) is not str or _TOKEN.fullmatch(proto) is None:
            raise BadRequest("The Sec-WebSocket-Protocol header is invalid.")
    allowed = app.config.get("WEBSOCKET_ALLOWED_ORIGINS")
    if origin is None or allowed == "*" or (allowed is None and not cookie):
        return
    if allowed is not None and (
        isinstance(allowed, str | bytes) or not isinstance(allowed, Iterable)
    ):
        raise RuntimeError(
            "WEBSOCKET_ALLOWED_ORIGINS must be None, '*', or a list of origins"
            f" such as ['https://example.com']; it is {allowed!r}."
        )
    if not _origin_allowed(origin, req, allowed):
        raise Forbidden(
            "Cross-origin WebSocket connection refused: the Origin header does not"
            " match this host (see WEBSOCKET_ALLOWED_ORIGINS)."
        )


def _origin_allowed(origin: bytes, req: Request, allowed: Any) -> bool:
    """Return whether ``origin`` is this host, or listed in ``allowed``."""
    try:
        text = origin.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return False
    if allowed and text.rstrip("/") in {str(o).lower().rstrip("/") for o in allowed}:
        return True
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if not host or parts.scheme not in _DEFAULT_PORTS:
        return False
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return host == req.host.lower()


# -- serving a connection -----------------------------------------------------------
async def handle_websocket(
    app: Erlen, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve one ASGI ``websocket`` scope with the app's WebSocket routes."""
    message = await receive()
    if message["type"] == "websocket.disconnect":
        return  # the client left before the handshake finished
    plan = app._plan or app._make_plan()
    ctx = RequestContext(app, _environ(scope))
    ws = ctx.websocket = Websocket(ctx, scope, receive, send)
    req = ctx.request
    app.match_request(req, websocket=True)
    ctx.push()
    error: BaseException | None = None
    try:
        error = await _serve(app, ctx, ws, plan)
    except BaseException as e:
        error = e
        raise
    finally:
        if plan.teardown or req._files:
            try:
                await in_thread(app, ctx._teardown, error)
            finally:
                ctx._restore()
        else:
            ctx._restore()


async def _serve(
    app: Erlen, ctx: RequestContext, ws: Websocket, plan: Plan
) -> BaseException | None:
    """Run hooks and view; return the exception reported as a server error, if any."""
    req = ctx.request
    rule = req.url_rule
    endpoint = None if rule is None else rule.endpoint
    hooks = plan.ws_chains.get(endpoint) or plan.chain_for(
        app, endpoint, websocket=True
    )
    try:
        try:
            _check_handshake(app, ws, req)
            rv = await run_before_and_view(app, req, rule, endpoint, hooks)
        except WebsocketDisconnect:
            rv = None
        except Exception as e:
            rv = await _handle_error(app, ws, e)
        # A value after acceptance has no HTTP response left to become.
        response = None
        if rv is not None and ws._state == _CONNECTING:
            response = app.make_response(rv)
        for func in hooks.after:
            response = func(response)
            if inspect.isawaitable(response):
                response = await response
        if ws._state == _CONNECTING:
            if response is not None:
                app._save_session(ctx, response)
                await ws._reject(response)
            else:
                # Returned without accepting: the server answers 403.
                await ws._close_quietly(1000, "")
        elif ws._state == _ACCEPTED:
            await ws._close_quietly(1000, "")
    except WebsocketDisconnect:
        pass  # an after_websocket function met the closed connection
    except Exception as e:
        if isinstance(e, _Unhandled):
            e = e.error
        rv = await _server_error(app, ws, e)
        if rv is not None and ws._state == _CONNECTING:
            try:
                await ws._reject(app.make_response(rv))
            except Exception:
                app.logger.exception(
                    "Refusing a WebSocket handshake failed while handling an error"
                )
                await ws._fail()
        return e
    return None


async def _handle_error(app: Erlen, ws: Websocket, e: Exception) -> Any:
    """Handle an exception from a hook or the view; return the response value."""
    if ws._state == _CONNECTING:
        try:
            rv = app.handle_user_exception(e)
            if inspect.isawaitable(rv):
                rv = await rv
            return rv
        except Exception as unhandled:
            # Raised again by handle_user_exception (or by a handler).
            raise _Unhandled(unhandled) from None
    if isinstance(e, HTTPException):
        # abort() after acceptance: close with policy violation (4xx) or
        # internal error (5xx); the reason is the status name.
        code = 1011 if (e.code or 500) >= 500 else 1008
        await ws._close_quietly(code, (e.name or "")[:100])
        return None
    raise _Unhandled(e)


class _Unhandled(Exception):
    """Carry an exception no handler took to :func:`_serve`'s server-error path."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


async def _server_error(app: Erlen, ws: Websocket, e: Exception) -> Any:
    """Report an unhandled exception as Flask's ``handle_exception`` does.

    Sends ``got_request_exception``; re-raises when exceptions propagate
    (testing or debug), after ending the connection; otherwise logs it and
    returns the 500 response value to refuse the handshake with, or closes an
    accepted connection with 1011.
    """
    if signals.got_request_exception.receivers:
        signals.got_request_exception.send(
            app, _async_wrapper=app.ensure_sync, exception=e
        )
    propagate = app.config["PROPAGATE_EXCEPTIONS"]
    if propagate is None:
        propagate = app.testing or app.debug
    if propagate:
        await ws._fail()
        raise e
    app.log_exception((type(e), e, e.__traceback__))
    if ws._state != _CONNECTING:
        await ws._fail()
        return None
    server_error: Any = InternalServerError(original_exception=e)
    handler = app._find_error_handler(server_error, ws.request.blueprints)
    if handler is not None:
        server_error = handler(server_error)
        if inspect.isawaitable(server_error):
            server_error = await server_error
    return server_error


__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "UpgradeRequired",
    "Websocket",
    "WebsocketDisconnect",
    "handle_websocket",
]
