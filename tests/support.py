"""Helpers shared by several test modules (one copy, imported where used)."""

from __future__ import annotations

import io
from typing import Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WRequest

from erlen.wrappers.request import Request

# -- multipart bodies ------------------------------------------------------

B = b"bNd"


def part(
    name: str | bytes,
    data: bytes,
    filename: str | bytes | None = None,
    headers: tuple[bytes, ...] = (),
    lb: bytes = b"\r\n",
    boundary: bytes = B,
) -> bytes:
    """Encode one multipart part (delimiter line, headers, blank line, data, CRLF)."""
    if isinstance(name, str):
        name = name.encode()
    disp = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        if isinstance(filename, str):
            filename = filename.encode()
        disp += b'; filename="' + filename + b'"'
    out = b"--" + boundary + lb + disp + lb
    for h in headers:
        out += h + lb
    return out + lb + data + lb


def close(boundary: bytes = B, lb: bytes = b"\r\n") -> bytes:
    return b"--" + boundary + b"--" + lb


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + close()


class EmptyForever(io.RawIOBase):
    """A stream that returns its data, then ``b""`` on every read, counting reads."""

    def __init__(self, data: bytes = b"") -> None:
        self.data = data
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        self.reads += 1
        if self.reads > 10_000:  # pragma: no cover - only if the loop never ends
            raise AssertionError("read called forever")
        out, self.data = self.data, b""
        return out


# -- requests against Werkzeug's -------------------------------------------


def make_environ(*args: Any, **kwargs: Any) -> dict[str, Any]:
    builder = EnvironBuilder(*args, **kwargs)
    try:
        return builder.get_environ()
    finally:
        builder.close()


def twins(env: dict[str, Any]) -> tuple[Request, WRequest]:
    """Return an erlen and a Werkzeug request over copies of *env* and its body."""
    raw = env["wsgi.input"].read() if "wsgi.input" in env else b""
    env["wsgi.input"] = io.BytesIO(raw)  # so that *env* can be used again
    a = dict(env, **{"wsgi.input": io.BytesIO(raw)})
    b = dict(env, **{"wsgi.input": io.BytesIO(raw)})
    return Request(a), WRequest(b)


# -- responses as WSGI apps ------------------------------------------------


def response_environ(method: str = "GET", **headers: str) -> dict:
    return EnvironBuilder(method=method, headers=headers).get_environ()


def wsgi_run(resp, env=None):
    """Call ``resp`` as a WSGI app; return (status, headers, body)."""
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers
        return lambda data: None

    app_iter = resp(env or response_environ(), start_response)
    body = b"".join(app_iter)
    if hasattr(app_iter, "close"):
        app_iter.close()
    return seen["status"], seen["headers"], body


# -- servers started by tests -------------------------------------------------


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1 (tests bind servers there)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # type: ignore[no-any-return]


def wait_until_serving(
    proc: Any, port: int, path: str = "/", timeout: float = 30.0
) -> str | None:
    """Poll ``GET http://127.0.0.1:port/path`` until it answers 200.

    Ready means the app answers HTTP, not just that a socket listens. Returns
    None when it does, else why not ("exited early", "did not answer within …")
    for the caller to report with the server's output.
    """
    import http.client
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return "exited early"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", path)
                if conn.getresponse().status == 200:
                    return None
            finally:
                conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    return f"did not answer within {timeout:g} s"
