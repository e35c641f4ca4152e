"""Tests for erlen.streaming: request bodies read as they arrive, Server-Sent Events,
async iterables returned from views, and async context processors in async views.

Behaviour tests run under every protocol through the ``client`` fixture; the
ASGI-only decisions (nothing pre-read, disconnects, keep-alives on the loop) are
checked with hand-made scopes and a scripted server (``Peer``).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import tempfile
import threading
import time
from typing import Any

import pytest
from werkzeug.exceptions import ClientDisconnected as WerkzeugClientDisconnected
from werkzeug.test import EnvironBuilder

import erlen.streaming
from erlen import (
    ClientDisconnected,
    Erlen,
    Event,
    Response,
    g,
    last_event_id,
    render_template_string,
    request,
    request_body,
    sse_response,
    stream_request_body,
    stream_template_string,
    stream_with_context,
)
from erlen.streaming import ReceiveStream

KiB = 1 << 10
MiB = 1 << 20


# -- a scripted ASGI server ------------------------------------------------------------
def http_scope(
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[str, str]] | tuple[()] = (),
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
        "client": ("10.0.0.7", 50123),
        "server": ("testserver", 8000),
        "extensions": {},
    }


def post_scope(path: str, size: int | None, **kw: Any) -> dict[str, Any]:
    """A POST scope; ``size`` None means a chunked body (no Content-Length)."""
    headers = [("Transfer-Encoding", "chunked")] if size is None else []
    if size is not None:
        headers.append(("Content-Length", str(size)))
    return http_scope(path, "POST", headers, **kw)


class Peer:
    """The server's side of one connection, scripted.

    ``receive`` hands out ``chunks`` (recording when each was taken), or
    ``http.disconnect`` after ``leave_after_request_chunks`` of them; once the
    body is given it waits until the response is complete, or until
    ``leave_after_body_chunks`` response chunks were sent, then reports a
    disconnect.
    """

    def __init__(
        self,
        chunks: list[bytes] | tuple[()] = (),
        leave_after_request_chunks: int | None = None,
        leave_after_body_chunks: int | None = None,
    ) -> None:
        self.chunks = list(chunks)
        self.leave_after_request_chunks = leave_after_request_chunks
        self.leave_after_body_chunks = leave_after_body_chunks
        self.received = 0
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.log: list[str] = []

    async def receive(self) -> dict[str, Any]:
        if self.received == self.leave_after_request_chunks:
            self.log.append("disconnect")
            return {"type": "http.disconnect"}
        if self.received < max(len(self.chunks), 1):
            i = self.received
            self.received += 1
            await asyncio.sleep(0)  # a real server hands chunks out over time
            chunk = self.chunks[i] if self.chunks else b""
            self.log.append(f"chunk {i}")
            more = self.received < len(self.chunks)
            return {"type": "http.request", "body": chunk, "more_body": more}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        kind = message["type"]
        finished = kind == "http.response.body" and not message.get("more_body")
        leaving = (
            kind == "http.response.body"
            and self.leave_after_body_chunks is not None
            and len(self.body_messages) >= self.leave_after_body_chunks
        )
        if finished or leaving:
            self.gone.set()

    @property
    def status(self) -> int:
        (start,) = [m for m in self.sent if m["type"] == "http.response.start"]
        return start["status"]  # type: ignore[no-any-return]

    @property
    def headers(self) -> dict[str, str]:
        (start,) = [m for m in self.sent if m["type"] == "http.response.start"]
        return {k.decode(): v.decode("latin-1") for k, v in start["headers"]}

    @property
    def body_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.body_messages)


def serve(app: Erlen, scope: dict[str, Any], peer: Peer | None = None) -> Peer:
    """Serve one request on a fresh event loop; return the peer."""
    peer = Peer() if peer is None else peer
    asyncio.run(app(scope, peer.receive, peer.send))
    return peer


@pytest.fixture
def asgi_app() -> Erlen:
    app = Erlen("erlen_streaming_test")
    app.config["SECRET_KEY"] = "test key"
    return app


def wsgi_environ(path: str = "/", **kw: Any) -> dict[str, Any]:
    builder = EnvironBuilder(path=path, **kw)
    try:
        return builder.get_environ()
    finally:
        builder.close()


def add_upload_view(app: Erlen) -> None:
    @app.post("/upload")
    @stream_request_body
    async def upload():
        digest = hashlib.sha256()
        size = 0
        async for chunk in request_body():
            digest.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}


# -- request bodies under every protocol ---------------------------------------------
def test_streamed_upload_arrives_whole(app, client):
    add_upload_view(app)
    data = bytes(range(256)) * 1200  # 300 KiB: several 64 KiB chunks
    rv = client.post("/upload", data=data)
    assert rv.status_code == 200
    assert rv.get_json() == {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_request_body_also_works_in_unmarked_views(app, client):
    @app.post("/async")
    async def async_view():
        return b"".join([chunk async for chunk in request_body(chunk_size=1000)])

    data = b"0123456789" * 5000
    assert client.post("/async", data=data).data == data


def test_empty_body_yields_nothing(app, client):
    add_upload_view(app)
    assert client.post("/upload").get_json()["size"] == 0


def test_announced_body_over_the_limit_is_413(app, client):
    add_upload_view(app)
    app.config["MAX_CONTENT_LENGTH"] = 100 * KiB
    assert client.post("/upload", data=b"x" * (100 * KiB + 1)).status_code == 413
    assert client.post("/upload", data=b"x" * (100 * KiB)).status_code == 200


def test_a_view_may_raise_the_limit_for_itself(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 10 * KiB

    @app.post("/big")
    @stream_request_body
    async def big():
        request.max_content_length = 1 * MiB
        return {"size": sum([len(c) async for c in request_body()])}

    assert client.post("/big", data=b"x" * (300 * KiB)).get_json() == {
        "size": 300 * KiB
    }


def test_stream_request_body_refuses_sync_views():
    with pytest.raises(TypeError, match="async def"):

        @stream_request_body
        def upload():
            return ""


def test_request_body_needs_a_request_and_a_positive_chunk_size(app):
    with pytest.raises(RuntimeError, match="call it in a view"):
        request_body()
    with app.test_request_context(), pytest.raises(ValueError, match="chunk_size"):
        request_body(chunk_size=0)


# -- request bodies under ASGI: nothing pre-read -----------------------------------------
def test_marked_view_starts_before_the_body_is_read(asgi_app):
    events: list[str] = []
    peer = Peer([b"a" * 10, b"b" * 10, b"c" * 10])

    @asgi_app.post("/upload")
    @stream_request_body
    async def upload():
        events.append(f"view started, {peer.received} chunks received")
        async for chunk in request_body():
            events.append(chunk.decode()[0])
        return "ok"

    serve(asgi_app, post_scope("/upload", 30), peer)
    assert peer.status == 200
    assert events == ["view started, 0 chunks received", "a", "b", "c"]


def test_unmarked_async_view_still_gets_a_pre_read_body(asgi_app):
    seen = []
    peer = Peer([b"a" * 10, b"b" * 10])

    @asgi_app.post("/")
    async def view():
        seen.append(peer.received)
        return request.get_data()

    peer = serve(asgi_app, post_scope("/", 20), peer)
    assert seen == [2]
    assert peer.body == b"a" * 10 + b"b" * 10


def test_chunked_body_over_the_limit_is_413_and_reading_stops(asgi_app):
    asgi_app.config["MAX_CONTENT_LENGTH"] = 25
    got = []
    add_upload_view(asgi_app)

    @asgi_app.errorhandler(413)
    def too_large(e):
        got.append("413")
        return "too large", 413

    peer = Peer([b"x" * 10] * 100)
    serve(asgi_app, post_scope("/upload", None), peer)
    assert peer.status == 413
    assert got == ["413"]
    assert peer.received == 3  # the third chunk passed the limit: no fourth read


def test_announced_body_over_the_limit_is_refused_before_any_read(asgi_app):
    asgi_app.config["MAX_CONTENT_LENGTH"] = 25
    add_upload_view(asgi_app)
    peer = serve(asgi_app, post_scope("/upload", 1000), Peer([b"x" * 1000]))
    assert peer.status == 413
    assert peer.received == 0


def test_a_server_sending_more_than_announced_is_cut(asgi_app):
    add_upload_view(asgi_app)
    peer = serve(asgi_app, post_scope("/upload", 15), Peer([b"x" * 10, b"y" * 10]))
    assert peer.status == 200
    assert b'"size":15' in peer.body.replace(b" ", b"")


@pytest.mark.parametrize("catch", [False, True])
def test_disconnect_mid_body(asgi_app, catch):
    torn = []
    seen = []

    @asgi_app.post("/upload")
    @stream_request_body
    async def upload():
        try:
            async for chunk in request_body():
                seen.append(chunk)
        except ClientDisconnected:
            seen.append("gone")
            if not catch:
                raise
        return "done"

    @asgi_app.teardown_request
    def teardown(exc):
        torn.append(exc)

    peer = Peer([b"a", b"b", b"c"], leave_after_request_chunks=2)
    serve(asgi_app, post_scope("/upload", 3), peer)
    assert seen == [b"a", b"b", "gone"]
    assert torn == [None]
    if catch:
        assert peer.status == 200  # the view chose to answer
    else:
        assert peer.sent == []  # nobody to answer


def test_a_body_ending_short_of_its_content_length_is_a_disconnect(asgi_app):
    seen = []

    @asgi_app.post("/upload")
    @stream_request_body
    async def upload():
        try:
            async for chunk in request_body():
                seen.append(chunk)
        except ClientDisconnected:
            seen.append("short")
        return "x"

    serve(asgi_app, post_scope("/upload", 5), Peer([b"ab"]))
    assert seen == [b"ab", "short"]


def test_disconnect_is_a_werkzeug_client_disconnected():
    assert issubclass(ClientDisconnected, WerkzeugClientDisconnected)
    assert ClientDisconnected.code == 400


def test_sync_reads_in_a_marked_view_raise_a_clear_error(asgi_app):
    @asgi_app.post("/upload")
    @stream_request_body
    async def upload():
        try:
            request.get_data()
        except RuntimeError as e:
            return str(e)
        return "read"

    peer = serve(asgi_app, post_scope("/upload", 3), Peer([b"abc"]))
    assert b"request_body()" in peer.body


def test_a_second_reader_continues_where_the_first_stopped(asgi_app):
    @asgi_app.post("/upload")
    @stream_request_body
    async def upload():
        first = []
        async for chunk in request_body():
            first.append(chunk)
            break
        rest = [chunk async for chunk in request_body()]
        return {"first": b"".join(first).decode(), "rest": b"".join(rest).decode()}

    peer = serve(asgi_app, post_scope("/upload", 3), Peer([b"a", b"b", b"c"]))
    assert peer.status == 200
    assert b'"first": "a"' in peer.body or b'"first":"a"' in peer.body
    assert b"bc" in peer.body


def test_marked_view_streams_its_body_on_the_full_pipeline_too(asgi_app):
    # TRUSTED_HOSTS turns the inline pipeline off: the adapter matches first.
    asgi_app.config["TRUSTED_HOSTS"] = ["testserver"]
    started = []
    peer = Peer([b"a" * 10, b"b" * 10])

    @asgi_app.post("/upload")
    @stream_request_body
    async def upload():
        started.append(peer.received)
        return {"size": sum([len(c) async for c in request_body()])}

    scope = post_scope("/upload", 20)
    scope["headers"].append((b"host", b"testserver"))
    serve(asgi_app, scope, peer)
    assert peer.status == 200
    assert started == [0]
    assert peer.body.replace(b" ", b"") == b'{"size":20}\n'


def test_a_spooled_body_is_read_off_the_loop(asgi_app, monkeypatch):
    threads: list[str] = []
    real_temporary_file = tempfile.TemporaryFile

    class Recording(io.RawIOBase):
        def __init__(self) -> None:
            self.file = real_temporary_file()

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            threads.append(threading.current_thread().name)
            return self.file.readinto(buffer)  # type: ignore[no-any-return]

        def write(self, data: Any) -> int:
            return self.file.write(data)  # type: ignore[no-any-return]

        def seek(self, *args: Any) -> int:
            return self.file.seek(*args)  # type: ignore[no-any-return]

        def close(self) -> None:
            self.file.close()
            super().close()

    monkeypatch.setattr(tempfile, "TemporaryFile", Recording)

    @asgi_app.post("/")
    async def view():
        return {"size": sum([len(c) async for c in request_body()])}

    size = 2 * MiB  # over the 1 MiB spool threshold: a temp file
    peer = serve(asgi_app, post_scope("/", size), Peer([b"x" * (256 * KiB)] * 8))
    assert peer.body.replace(b" ", b"") == b'{"size":%d}\n' % size
    assert threads
    assert threading.main_thread().name not in threads


# -- request bodies read while the response streams (ASGI) -------------------------------
def test_full_duplex_echo_never_loses_a_chunk(asgi_app):
    @asgi_app.post("/echo")
    @stream_request_body
    async def echo():
        async def upper():
            async for chunk in request_body():
                yield chunk.upper()

        return upper()

    chunks = [bytes([97 + i]) * 5 for i in range(20)]
    peer = serve(asgi_app, post_scope("/echo", 100), Peer(chunks))
    assert peer.status == 200
    assert peer.body == b"".join(chunks).upper()


def test_echo_under_every_protocol(app, client):
    @app.post("/echo")
    @stream_request_body
    async def echo():
        body = request_body()  # taken in the view: WSGI pops the context first

        async def upper():
            async for chunk in body:
                yield chunk.upper()

        return upper()

    data = b"abc" * 50_000
    assert client.post("/echo", data=data).data == data.upper()


def test_watcher_keeps_chunks_for_a_reader_that_starts_later(asgi_app):
    @asgi_app.post("/late")
    @stream_request_body
    async def late():
        async def gen():
            yield b"start;"
            await asyncio.sleep(0.01)  # the disconnect watcher runs meanwhile
            size = sum([len(c) async for c in request_body()])
            yield f"read {size}".encode()

        return gen()

    peer = serve(asgi_app, post_scope("/late", 30), Peer([b"x" * 10] * 3))
    assert peer.body == b"start;read 30"


def test_watcher_discards_a_body_nobody_reads_past_its_buffer(asgi_app, monkeypatch):
    monkeypatch.setattr(erlen.streaming, "WATCH_BUFFER", 100)
    errors = []
    streams = []

    @asgi_app.post("/ignore")
    @stream_request_body
    async def ignore():
        streams.append(request.environ["wsgi.input"])

        async def gen():
            yield b"start;"
            await asyncio.sleep(0.02)
            try:
                async for _ in request_body():
                    pass
            except RuntimeError as e:
                errors.append(str(e))
            yield b"end"

        return gen()

    peer = serve(asgi_app, post_scope("/ignore", 1000), Peer([b"x" * 50] * 20))
    assert peer.body == b"start;end"
    assert errors and "discarded" in errors[0]
    (stream,) = streams
    assert stream._buffered == 0
    assert peer.received == 20  # drained to watch for a disconnect


def test_disconnect_while_a_reader_streams_the_response(asgi_app):
    torn = []

    @asgi_app.post("/echo")
    @stream_request_body
    async def echo():
        async def gen():
            async for chunk in request_body():
                yield chunk

        return gen()

    @asgi_app.teardown_request
    def teardown(exc):
        torn.append(exc)

    peer = Peer([b"a", b"b", b"c", b"d"], leave_after_request_chunks=2)
    serve(asgi_app, post_scope("/echo", 4), peer)
    assert peer.status == 200
    assert peer.body == b"ab"
    assert torn == [None]


def test_receive_stream_refuses_sync_reads():
    stream = ReceiveStream(None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="request_body"):
        stream.read(10)


# -- request bodies under WSGI ------------------------------------------------------------
def test_wsgi_truncated_body_raises_erlen_client_disconnected():
    app = Erlen(__name__)
    seen = []

    @app.post("/")
    @stream_request_body
    async def view():
        try:
            async for _ in request_body():
                pass
        except ClientDisconnected:
            seen.append("gone")
        return "x"

    environ = wsgi_environ("/", method="POST", data=b"x" * 100)
    environ["wsgi.input"] = io.BytesIO(b"x" * 10)  # the client left early
    body = app.wsgi_app(environ, lambda status, headers: None)
    assert b"".join(body) == b"x"
    assert seen == ["gone"]


# -- async iterables returned from views ---------------------------------------------------
@pytest.mark.parametrize("view_kind", ["async", "sync"])
def test_view_returning_an_async_generator_streams(app, client, view_kind):
    async def gen():
        for i in range(3):
            await asyncio.sleep(0)
            yield f"part {i};"

    if view_kind == "async":

        @app.route("/")
        async def view():
            return gen(), 201, {"X-Kind": "agen"}

    else:

        @app.route("/")
        def view():  # type: ignore[misc]
            return gen(), 201, {"X-Kind": "agen"}

    rv = client.get("/")
    assert rv.status_code == 201
    assert rv.headers["X-Kind"] == "agen"
    assert rv.data == b"part 0;part 1;part 2;"


def test_response_of_an_async_generator_works_under_every_protocol(app, client):
    @app.route("/")
    async def view():
        async def gen():
            yield b"a"
            yield "b"

        return Response(gen(), mimetype="text/plain")

    assert client.get("/").data == b"ab"


def test_async_body_is_sent_chunk_by_chunk_over_asgi(asgi_app):
    @asgi_app.route("/")
    async def view():
        async def gen():
            for i in range(3):
                yield f"{i}"

        return gen()

    peer = serve(asgi_app, http_scope("/"))
    assert [m["body"] for m in peer.body_messages] == [b"0", b"1", b"2", b""]


def test_wsgi_advances_an_async_body_lazily_and_closes_it():
    app = Erlen(__name__)
    log: list[str] = []

    @app.route("/")
    async def view():
        async def gen():
            try:
                for i in range(100):
                    log.append(f"made {i}")
                    await asyncio.sleep(0)
                    yield f"{i};"
            finally:
                log.append("closed")

        return gen()

    body = app.wsgi_app(wsgi_environ("/"), lambda status, headers: None)
    it = iter(body)
    assert next(it) == b"0;"
    assert next(it) == b"1;"
    assert log == ["made 0", "made 1"]
    body.close()  # the server: the client left
    assert log[-1] == "closed"


def test_wsgi_head_closes_an_async_body_without_iterating_it():
    app = Erlen(__name__)
    log: list[str] = []

    @app.route("/")
    async def view():
        async def gen():
            log.append("started")
            yield b"x"

        return gen()

    body = app.wsgi_app(wsgi_environ("/", method="HEAD"), lambda s, h: None)
    assert list(body) == []
    body.close()
    assert log == []


def test_sync_stream_with_context_is_sent_chunk_by_chunk_over_asgi(asgi_app):
    @asgi_app.route("/")
    def view():
        @stream_with_context
        def gen():
            for i in range(3):
                yield f"{request.path}{i};"

        return gen()

    peer = serve(asgi_app, http_scope("/"))
    assert [m["body"] for m in peer.body_messages] == [b"/0;", b"/1;", b"/2;", b""]


def test_a_non_iterable_object_is_still_refused(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.route("/")
    async def view():
        return object()

    with pytest.raises(TypeError, match="async iterator"):
        client.get("/")


# -- Server-Sent Events --------------------------------------------------------------------
EXPECTED_WIRE = (
    b"data: plain\n\n"
    b"data: two\ndata: lines\n\n"
    b'data: {"n": 1}\n\n'
    b"data: [1, 2]\n\n"
    b"id: 7\nevent: tick\nretry: 3000\ndata: x\n\n"
    b"data: bytes\n\n"
    b"id: \ndata: \n\n"
)


def _events() -> list[Any]:
    return [
        "plain",
        "two\nlines",
        {"n": 1},
        [1, 2],
        Event("x", event="tick", id=7, retry=3000),
        b"bytes",
        Event("", id=""),
    ]


@pytest.mark.parametrize("source_kind", ["sync", "async"])
def test_sse_response_wire_form_and_headers(app, client, source_kind):
    @app.route("/events")
    def events():
        if source_kind == "sync":
            return sse_response(iter(_events()))

        async def gen():
            for item in _events():
                yield item

        return sse_response(gen())

    rv = client.get("/events")
    assert rv.status_code == 200
    assert rv.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert rv.headers["Cache-Control"] == "no-cache"
    assert rv.headers["X-Accel-Buffering"] == "no"
    assert "Content-Length" not in rv.headers
    assert rv.data == EXPECTED_WIRE


def test_sse_source_sees_the_request_and_last_event_id(app, client):
    @app.route("/events")
    def events():
        g.user = "ann"

        def gen():
            # Runs after the view returned: under WSGI, after teardown.
            yield {"path": request.path, "user": g.user, "last": last_event_id()}

        return sse_response(gen())

    rv = client.get("/events", headers={"Last-Event-ID": "41"})
    assert rv.data == b'data: {"last": "41", "path": "/events", "user": "ann"}\n\n'
    rv = client.get("/events")
    assert b'"last": null' in rv.data


def test_sse_response_options(app, client):
    @app.route("/events")
    def events():
        return sse_response(
            ["x"], status=201, headers={"Cache-Control": "no-store", "X-A": "b"}
        )

    rv = client.get("/events")
    assert rv.status_code == 201
    assert rv.headers["Cache-Control"] == "no-store"
    assert rv.headers["X-A"] == "b"


def test_sse_response_argument_errors(app):
    with app.test_request_context():
        with pytest.raises(TypeError, match="iterable"):
            sse_response(42)
        with pytest.raises(ValueError, match="keep_alive"):
            sse_response([], keep_alive=-1)
    with pytest.raises(RuntimeError, match="application context"):
        sse_response([])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"event": "a\nb"}, ValueError),
        ({"event": "a\rb"}, ValueError),
        ({"id": "1\n2"}, ValueError),
        ({"id": "1\x002"}, ValueError),
        ({"event": 5}, TypeError),
        ({"id": 1.5}, TypeError),
        ({"id": True}, TypeError),
        ({"retry": -1}, TypeError),
        ({"retry": "10"}, TypeError),
    ],
)
def test_event_fields_that_would_break_the_stream_are_refused(kwargs, error):
    with pytest.raises(error):
        Event("x", **kwargs)


def test_event_encoding():
    assert Event(retry=10).encode() == b"retry: 10\n\n"
    assert Event("a\r\nb\rc\n").encode() == b"data: a\ndata: b\ndata: c\ndata: \n\n"
    # Only CR and LF end lines in the event-stream format.
    assert Event("a\u2028b\x0bc").encode() == "data: a\u2028b\x0bc\n\n".encode()
    assert Event({"k": "é"}).encode(dumps=lambda v: "J") == b"data: J\n\n"
    assert Event({"k": 1}).encode() == b'data: {"k": 1}\n\n'


def test_an_item_of_the_wrong_type_fails_the_stream(app):
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.route("/events")
    def events():
        return sse_response([object()])

    with pytest.raises(TypeError, match=r"erlen\.Event"):
        app.test_client().get("/events")


def test_keep_alive_comments_while_an_async_source_waits(asgi_app):
    log: list[str] = []

    @asgi_app.route("/events")
    async def events():
        async def gen():
            try:
                yield "hello"
                await asyncio.Event().wait()  # no event ever comes
                yield "never"
            finally:
                log.append(f"source closed, request {request.path}")

        return sse_response(gen(), keep_alive=0.01)

    @asgi_app.teardown_request
    def teardown(exc):
        log.append(f"teardown {exc}")

    peer = serve(asgi_app, http_scope("/events"), Peer(leave_after_body_chunks=4))
    assert peer.headers["content-type"] == "text/event-stream; charset=utf-8"
    bodies = [m["body"] for m in peer.body_messages]
    assert bodies[0] == b"data: hello\n\n"
    assert set(bodies[1:4]) == {b": keep-alive\n\n"}
    assert all(m.get("more_body") for m in peer.body_messages)
    assert log == ["source closed, request /events", "teardown None"]


def test_keep_alive_with_a_sync_source_never_blocks_the_loop(asgi_app):
    release = threading.Event()
    log: list[str] = []

    @asgi_app.route("/events")
    def events():
        def gen():
            try:
                yield "first"
                release.wait(5)  # blocks its own thread, not the loop
                yield "second"
            finally:
                log.append("source closed")

        return sse_response(gen(), keep_alive=0.01)

    peer = Peer(leave_after_body_chunks=6)

    async def main():
        task = asyncio.ensure_future(
            asgi_app(http_scope("/events"), peer.receive, peer.send)
        )
        while len(peer.body_messages) < 3:  # the loop keeps turning
            await asyncio.sleep(0.005)
        release.set()
        await task

    asyncio.run(main())
    bodies = [m["body"] for m in peer.body_messages]
    assert bodies[0] == b"data: first\n\n"
    assert b": keep-alive\n\n" in bodies[1:3]
    assert b"data: second\n\n" in bodies
    deadline = time.monotonic() + 5
    while not log and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log == ["source closed"]


def test_disconnect_closes_a_busy_source_then_tears_down(asgi_app):
    log: list[str] = []

    @asgi_app.route("/events")
    async def events():
        async def gen():
            try:
                n = 0
                while True:
                    n += 1
                    yield Event(n, id=n)
                    await asyncio.sleep(0.001)
            finally:
                log.append("source closed")

        return sse_response(gen())

    @asgi_app.teardown_request
    def teardown(exc):
        log.append(f"teardown {exc}")

    peer = serve(asgi_app, http_scope("/events"), Peer(leave_after_body_chunks=3))
    assert log == ["source closed", "teardown None"]
    assert 3 <= len(peer.body_messages) < 50
    assert peer.body.startswith(b"id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n")


def test_wsgi_keep_alive_and_close():
    app = Erlen(__name__)
    release = threading.Event()
    log: list[str] = []

    @app.route("/events")
    def events():
        def gen():
            try:
                release.wait(5)
                yield "late"
                threading.Event().wait(0.2)  # still waiting when the client leaves
                yield "never seen"
            finally:
                log.append("source closed")

        return sse_response(gen(), keep_alive=0.01)

    statuses = []
    body = app.wsgi_app(wsgi_environ("/events"), lambda s, h: statuses.append(s))
    it = iter(body)
    assert next(it) == b": keep-alive\n\n"  # the source is still waiting
    release.set()
    frames = [next(it) for _ in range(3)]
    assert frames[-1] == b": keep-alive\n\n"
    assert b"data: late\n\n" in frames
    body.close()  # returns at once; the source closes when its step returns
    assert log == []
    deadline = time.monotonic() + 5
    while not log and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log == ["source closed"]
    assert statuses == ["200 OK"]


def test_keep_alive_can_be_turned_off(asgi_app):
    @asgi_app.route("/events")
    async def events():
        async def gen():
            await asyncio.sleep(0.05)
            yield "x"

        return sse_response(gen(), keep_alive=None)

    peer = serve(asgi_app, http_scope("/events"))
    assert peer.body == b"data: x\n\n"


# -- async context processors -------------------------------------------------------------
def test_async_context_processor_in_an_async_view(app, client):
    @app.context_processor
    async def inject():
        await asyncio.sleep(0)
        return {"who": g.get("who", "nobody"), "path": request.path}

    @app.route("/page")
    async def page():
        g.who = "ann"
        return render_template_string("{{ who }} at {{ path }}")

    @app.route("/sync")
    def sync_page():
        return render_template_string("{{ path }}")

    @app.route("/stream")
    async def stream():
        return stream_template_string("{{ path }}!")

    assert client.get("/page").data == b"ann at /page"
    assert client.get("/sync").data == b"/sync"
    assert client.get("/stream").data == b"/stream!"


def test_async_context_processor_runs_off_the_calling_loop(asgi_app):
    loops = []

    @asgi_app.context_processor
    async def inject():
        loops.append(asyncio.get_running_loop())
        return {}

    @asgi_app.route("/")
    async def view():
        loops.append(asyncio.get_running_loop())
        return render_template_string("ok")

    assert serve(asgi_app, http_scope("/")).body == b"ok"
    view_loop, processor_loop = loops[1], loops[0]
    assert processor_loop is not view_loop
