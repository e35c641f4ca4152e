"""Drive an app through its ASGI interface from the test client.

``app.test_client(asgi=True)`` sends every request through
``await app(scope, receive, send)`` instead of the WSGI callable: the WSGI
environ the client built is turned into an HTTP scope, the body is fed through
``receive`` in 64 KiB chunks, and the messages the app sends are collected into
the client's response. One event loop per thread is kept for all requests.

May import: erlen.globals. The app is passed in.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.datastructures import Headers
from werkzeug.http import HTTP_STATUS_CODES

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
