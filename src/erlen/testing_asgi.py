"""Drive an app through its ASGI interface from the test client.

``app.test_client(asgi=True)`` sends every request through
``await app(scope, receive, send)`` instead of the WSGI callable: the WSGI
environ the client built is turned into an HTTP scope, the body is fed through
``receive`` in 64 KiB chunks, and the messages the app sends are collected into
the client's response. One event loop per thread is kept for all requests.

``client.websocket_connect(...)`` opens a :class:`WebsocketTestSession`: the
app's WebSocket handler runs as a task on the same loop, fed through queues.

May import: erlen.globals; erlen.websockets lazily (its WebsocketDisconnect). The
app is passed in.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from werkzeug.datastructures import Headers
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_current_url

from .globals import PRESERVE_CONTEXT_KEY, _cv_ctx

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen

_CHUNK = 1 << 16
_loops = threading.local()


def test_loop() -> asyncio.AbstractEventLoop:
    """Return this thread's event loop for test requests (created once)."""
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    return loop


def scope_from_environ(environ: dict[str, Any], kind: str = "http") -> dict[str, Any]:
    """Build an ASGI scope equivalent to a WSGI environ (as a server would)."""
    script = environ.get("SCRIPT_NAME", "")
    path_bytes = (script + environ.get("PATH_INFO", "")).encode("latin-1")
    headers: list[tuple[bytes, bytes]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if not value:
                continue
            name = key.replace("_", "-").lower()
        else:
            continue
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            raw = value.encode("utf-8")  # what a client would put on the wire
        headers.append((name.encode("latin-1"), raw))
    scheme = environ.get("wsgi.url_scheme", "http")
    if kind == "websocket":
        scheme = "wss" if scheme == "https" else "ws"
    port = environ.get("SERVER_PORT") or ("443" if scheme in ("https", "wss") else "80")
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1")[5:] or "1.1",
        "method": environ.get("REQUEST_METHOD", "GET"),
        "scheme": scheme,
        "path": path_bytes.decode("utf-8", "replace"),
        "raw_path": quote(path_bytes, safe="/:@!$&'()*+,;=-._~").encode("ascii"),
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "root_path": script,
        "headers": headers,
        "client": (environ.get("REMOTE_ADDR", "127.0.0.1"), 50000),
        "server": (environ.get("SERVER_NAME", "localhost"), int(port)),
        "extensions": {},
    }
    keep = environ.get(PRESERVE_CONTEXT_KEY)
    if keep is not None:
        scope[PRESERVE_CONTEXT_KEY] = keep
    return scope


async def _run(app: Erlen, scope: dict[str, Any], body: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if body is not None:
            chunk = body.read(_CHUNK)
            more = len(chunk) == _CHUNK
            if more or chunk or not receive.done:  # type: ignore[attr-defined]
                receive.done = not more  # type: ignore[attr-defined]
                return {"type": "http.request", "body": chunk, "more_body": more}
        elif not receive.done:  # type: ignore[attr-defined]
            receive.done = True  # type: ignore[attr-defined]
            return {"type": "http.request", "body": b"", "more_body": False}
        # The request is complete: the client stays connected until the
        # response ends, then disconnects.
        await finished.wait()
        return {"type": "http.disconnect"}

    receive.done = False  # type: ignore[attr-defined]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    return sent


def run_asgi(
    app: Erlen, environ: dict[str, Any]
) -> tuple[list[bytes], str, Headers, Any]:
    """Run one HTTP request through ``app``'s ASGI interface.

    Returns the body chunks, the status line, the headers, and the context the
    app kept when ``with client:`` asked it to (else None).
    """
    scope = scope_from_environ(environ)
    kept: list[Any] = []
    keep = scope.get(PRESERVE_CONTEXT_KEY)
    if keep is not None:
        scope[PRESERVE_CONTEXT_KEY] = lambda ctx, error: kept.append((ctx, error))
    body = environ.get("wsgi.input")
    # The client may resend this body (307/308): read it, then rewind.
    start_pos = body.tell() if body is not None and body.seekable() else None
    try:
        sent = test_loop().run_until_complete(_run(app, scope, body))
    finally:
        if start_pos is not None:
            body.seek(start_pos)
        if kept and keep is not None:
            # Re-push the kept context in the caller's context, where the test
            # inspects it, then hand it to the client to pop later.
            ctx, error = kept[0]
            ctx._token = _cv_ctx.set(ctx)
            keep(ctx, error)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:
        raise RuntimeError("The app finished without sending a response.")
    status = start["status"]
    headers = Headers(
        [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
    )
    chunks: list[bytes] = []
    for message in sent:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
        elif message["type"] == "http.response.pathsend":
            with open(message["path"], "rb") as f:
                chunks.append(f.read())
    status_line = f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"
    return chunks, status_line, headers, None


# -- WebSockets --------------------------------------------------------------------
class WebsocketRejected(Exception):
    """The app refused a test WebSocket connection before accepting it.

    Raised by ``client.websocket_connect(...)`` on entering the ``with`` block.

    :ivar status: the HTTP status of the refusal: the app's response status when
        the server offers the ``websocket.http.response`` extension (the test
        client does, unless ``http_response=False``), else 403 — what servers
        answer to a close before acceptance.
    :ivar headers: the response headers (empty without the extension).
    :ivar body: the response body (``b""`` without the extension).
    """

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        super().__init__(f"The app refused the WebSocket connection with {status}.")
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        """The response body decoded as UTF-8."""
        return self.body.decode("utf-8", "replace")


class WebsocketTestSession:
    """One WebSocket connection from the test client to the app, over ASGI.

    Made by :meth:`erlen.testing.ErlenClient.websocket_connect`; use it as a
    context manager. Entering runs the handshake (:exc:`WebsocketRejected` if
    the app refuses); leaving closes the connection from the client side and
    waits for the app to finish, re-raising an exception the app let escape.

    The app runs as a task on this thread's test event loop: it advances while
    the session waits for a message (``receive*``, entering, closing), each
    wait bounded by ``timeout`` seconds.

    :ivar accepted_subprotocol: the subprotocol the app accepted, or None.
    :ivar accept_headers: the headers the app added to its handshake response.
    :ivar close_code: the code the app closed the connection with, once it has
        (None while open); ``close_reason`` holds its reason.
    """

    __test__ = False

    def __init__(
        self,
        client: Any,
        environ: dict[str, Any],
        subprotocols: Any,
        timeout: float,
        http_response: bool,
    ) -> None:
        self._client = client
        self._timeout = timeout
        protocols = [str(p) for p in subprotocols or ()]
        environ.pop(PRESERVE_CONTEXT_KEY, None)
        environ.setdefault("HTTP_UPGRADE", "websocket")
        environ.setdefault("HTTP_CONNECTION", "Upgrade")
        environ.setdefault(
            "HTTP_SEC_WEBSOCKET_KEY", base64.b64encode(os.urandom(16)).decode()
        )
        environ.setdefault("HTTP_SEC_WEBSOCKET_VERSION", "13")
        if protocols:
            environ["HTTP_SEC_WEBSOCKET_PROTOCOL"] = ", ".join(protocols)
        client._add_cookies_to_wsgi(environ)
        self._url = urlsplit(get_current_url(environ))
        scope = scope_from_environ(environ, kind="websocket")
        scope.pop("method", None)  # not part of a websocket scope
        offered = environ.get("HTTP_SEC_WEBSOCKET_PROTOCOL")
        # As a server does: the header's comma-separated items, in order.
        scope["subprotocols"] = (
            [p.strip() for p in offered.split(",") if p.strip()] if offered else []
        )
        scope["extensions"] = {"websocket.http.response": {}} if http_response else {}
        #: The ASGI scope sent to the app.
        self.scope = scope
        self.accepted_subprotocol: str | None = None
        self.accept_headers = Headers()
        self.close_code: int | None = None
        self.close_reason = ""
        self._task: asyncio.Task[None] | None = None
        self._client_closed = False
        self._error_reported = False

    # -- the app's side of the connection ------------------------------------------
    async def _app_receive(self) -> dict[str, Any]:
        return await self._to_app.get()  # type: ignore[no-any-return]

    async def _app_send(self, message: dict[str, Any]) -> None:
        if self._client_closed and message["type"] == "websocket.send":
            # ASGI 2.4: sending on a connection the client closed raises OSError.
            raise OSError("The test client closed the WebSocket connection.")
        self._from_app.put_nowait(message)

    # -- running the loop ------------------------------------------------------------
    def __enter__(self) -> WebsocketTestSession:
        if self._task is not None:
            raise RuntimeError("This WebSocket session was already opened.")
        self._loop = loop = test_loop()
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._to_app.put_nowait({"type": "websocket.connect"})
        app = self._client.application
        self._task = loop.create_task(
            app(self.scope, self._app_receive, self._app_send)
        )
        message = self._next()
        kind = None if message is None else message["type"]
        if kind == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")  # type: ignore[union-attr]
            self.accept_headers = _headers(message.get("headers") or ())  # type: ignore[union-attr]
            self._store_cookies(self.accept_headers)
            return self
        if kind == "websocket.close":
            self._finish()
            raise WebsocketRejected(403, Headers(), b"")
        if kind == "websocket.http.response.start":
            headers = _headers(message.get("headers") or ())  # type: ignore[union-attr]
            chunks = []
            while True:
                part = self._next()
                if part is None or part["type"] != "websocket.http.response.body":
                    break
                chunks.append(part.get("body", b""))
                if not part.get("more_body", False):
                    break
            self._finish()
            self._store_cookies(headers)
            raise WebsocketRejected(message["status"], headers, b"".join(chunks))  # type: ignore[index]
        self._finish()
        raise RuntimeError(
            "The app ended the WebSocket connection without accepting or refusing"
            f" it (first message: {kind!r})."
        )

    def _next(self) -> dict[str, Any] | None:
        """Return the app's next message, or None once the app has finished."""
        if not self._from_app.empty():
            return self._from_app.get_nowait()
        if self._task.done():  # type: ignore[union-attr]
            self._raise_app_error()
            return None
        message = self._loop.run_until_complete(self._wait())
        if message is None:
            self._raise_app_error()
        return message

    async def _wait(self) -> dict[str, Any] | None:
        getter = asyncio.ensure_future(self._from_app.get())
        task = self._task
        await asyncio.wait(
            {getter, task},  # type: ignore[arg-type]
            timeout=self._timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if getter.done():
            return getter.result()
        getter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await getter
        if not self._from_app.empty():
            return self._from_app.get_nowait()
        if task.done():  # type: ignore[union-attr]
            return None
        raise TimeoutError(
            f"The app sent no WebSocket message within {self._timeout} s."
        )

    def _raise_app_error(self) -> None:
        task = self._task
        if task is None or not task.done() or self._error_reported:
            return
        self._error_reported = True
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            raise error

    def _finish(self) -> None:
        """Wait for the app's task to end (cancelling it after the timeout)."""
        task = self._task
        if task is None:
            return
        if not task.done():
            self._loop.run_until_complete(asyncio.wait({task}, timeout=self._timeout))
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                self._loop.run_until_complete(task)
            raise TimeoutError(
                f"The app's WebSocket view did not finish within {self._timeout} s"
                " after the connection closed; it was cancelled."
            )
        self._raise_app_error()

    def _store_cookies(self, headers: Headers) -> None:
        self._client._update_cookies_from_response(
            self._url.hostname or "localhost",
            self._url.path,
            headers.getlist("Set-Cookie"),
        )

    # -- the client's API -----------------------------------------------------------
    def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (bytes) message to the app."""
        if self._client_closed:
            raise RuntimeError("The WebSocket session is closed.")
        if isinstance(data, str):
            message = {"type": "websocket.receive", "text": data}
        elif isinstance(data, bytes | bytearray | memoryview):
            message = {"type": "websocket.receive", "bytes": bytes(data)}
        else:
            raise TypeError(f"Send str or bytes, not {type(data).__name__}.")
        self._to_app.put_nowait(message)

    def send_text(self, data: str) -> None:
        """Send a text message."""
        self.send(str(data))

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        self.send(bytes(data))

    def send_json(self, obj: Any) -> None:
        """Send ``obj`` as JSON text, serialised with the app's JSON provider."""
        self.send(self._client.application.json.dumps(obj))

    def receive(self) -> str | bytes:
        """Wait for the app's next message: ``str`` (text) or ``bytes`` (binary).

        :raise WebsocketDisconnect: the app closed the connection (its code and
            reason are also in :attr:`close_code` / ``close_reason``).
        :raise TimeoutError: the app sent nothing within the timeout.
        """
        from .websockets import WebsocketDisconnect

        if self.close_code is not None:
            raise WebsocketDisconnect(self.close_code, self.close_reason)
        message = self._next()
        if message is None:
            # The app finished without a close message: the server drops it.
            self.close_code = 1006
            raise WebsocketDisconnect(1006, "")
        kind = message["type"]
        if kind == "websocket.send":
            text = message.get("text")
            return text if text is not None else message.get("bytes") or b""
        if kind == "websocket.close":
            self.close_code = message.get("code", 1000)
            self.close_reason = message.get("reason") or ""
            if self.close_code == 1011:
                # erlen's close after an unhandled error: let the app finish so
                # the exception it let escape (TESTING) is raised here.
                self._finish()
            raise WebsocketDisconnect(self.close_code, self.close_reason)  # type: ignore[arg-type]
        raise RuntimeError(f"Unexpected ASGI message from the app: {kind!r}.")

    def receive_text(self) -> str:
        """Receive a message and check that it is text."""
        data = self.receive()
        if not isinstance(data, str):
            raise TypeError(f"Expected a text message, got binary: {data[:40]!r}")
        return data

    def receive_bytes(self) -> bytes:
        """Receive a message and check that it is binary."""
        data = self.receive()
        if not isinstance(data, bytes):
            raise TypeError(f"Expected a binary message, got text: {data[:40]!r}")
        return data

    def receive_json(self) -> Any:
        """Receive a message and parse it with the app's JSON provider."""
        return self._client.application.json.loads(self.receive())

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection from the client side and wait for the app to end."""
        if self._task is None:
            return
        if not self._client_closed:
            self._client_closed = True
            self._to_app.put_nowait(
                {"type": "websocket.disconnect", "code": code, "reason": reason}
            )
        self._finish()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: Any,
    ) -> None:
        from .websockets import WebsocketDisconnect

        try:
            self.close()
        except Exception:
            # The app's own error wins over the disconnect it caused; any other
            # exception of the with block goes on.
            if exc_type is None or issubclass(exc_type, WebsocketDisconnect):
                raise


def _headers(raw: Any) -> Headers:
    return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw])
