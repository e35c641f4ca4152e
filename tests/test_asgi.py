"""Tests for erlen.asgi, driven with hand-made ASGI scopes, receive and send.

No test client here: each test builds the scope a server would send and plays
the server's part (``Connection``), so the adapter's own decisions — environ
building, body reading, where views run, streaming, disconnects — are checked
message by message.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import threading
import time
from typing import Any

import pytest

from erlen import (
    Erlen,
    Response,
    after_this_request,
    g,
    render_template_string,
    request,
    send_file,
)
from erlen.asgi import (
    _ENV_KEYS,
    _ENV_KEYS_MAX,
    SPOOL_THRESHOLD,
    ASGIEnviron,
    _environ,
    run_inline,
)
from erlen.views import MethodView

MiB = 1 << 20


def http_scope(
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[str, str]] | tuple[()] = (),
    query_string: bytes = b"",
    raw_path: bytes | None = None,
    root_path: str = "",
    http_version: str = "1.1",
    extensions: dict[str, Any] | None = None,
    server: tuple[str, int | None] | None = ("testserver", 8000),
    client: tuple[str, int] | None = ("10.0.0.7", 50123),
) -> dict[str, Any]:
    """Return an HTTP scope shaped like uvicorn's."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": http_version,
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode() if raw_path is None else raw_path,
        "query_string": query_string,
        "root_path": root_path,
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
        "client": client,
        "server": server,
        "extensions": {} if extensions is None else extensions,
    }


class Connection:
    """The server's side of one HTTP connection.

    ``receive`` hands out ``chunks`` as ``http.request`` messages (or
    ``http.disconnect`` after ``leave_after_request_chunks`` of them); once the
    body is given, it waits until the response is complete — or until
    ``leave_after_body_chunks`` response chunks were sent — and then reports
    ``http.disconnect``, as uvicorn does.
    """

    def __init__(
        self,
        chunks: list[bytes] | tuple[()] = (),
        leave_after_request_chunks: int | None = None,
        leave_after_body_chunks: int | None = None,
        send_error: BaseException | None = None,
    ) -> None:
        self.chunks = list(chunks)
        self.leave_after_request_chunks = leave_after_request_chunks
        self.leave_after_body_chunks = leave_after_body_chunks
        self.send_error = send_error
        self.received = 0  # http.request messages handed out
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.received == self.leave_after_request_chunks:
            return {"type": "http.disconnect"}
        if self.received < max(len(self.chunks), 1):
            i = self.received
            self.received += 1
            chunk = self.chunks[i] if self.chunks else b""
            more = self.received < len(self.chunks)
            return {"type": "http.request", "body": chunk, "more_body": more}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self.send_error is not None:
            self.sent.append(message)
            raise self.send_error
        self.sent.append(message)
        kind = message["type"]
        finished = kind == "http.response.pathsend" or (
            kind == "http.response.body" and not message.get("more_body")
        )
        leaving = (
            kind == "http.response.body"
            and self.leave_after_body_chunks is not None
            and len(self.body_messages) >= self.leave_after_body_chunks
        )
        if finished or leaving:
            self.gone.set()

    # -- what was sent ---------------------------------------------------------------
    @property
    def starts(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == "http.response.start"]

    @property
    def status(self) -> int:
        (start,) = self.starts
        return start["status"]  # type: ignore[no-any-return]

    @property
    def headers(self) -> dict[str, str]:
        (start,) = self.starts
        return {k.decode(): v.decode("latin-1") for k, v in start["headers"]}

    @property
    def body_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.body_messages)


async def serve(app: Erlen, scope: dict[str, Any], conn: Connection) -> Connection:
    await app(scope, conn.receive, conn.send)
    return conn


def run(
    app: Erlen, scope: dict[str, Any], conn: Connection | None = None
) -> Connection:
    """Serve one request on a fresh event loop and return the connection."""
    conn = Connection() if conn is None else conn
    asyncio.run(serve(app, scope, conn))
    return conn


@pytest.fixture
def app() -> Erlen:
    app = Erlen("erlen_asgi_test")
    app.config["SECRET_KEY"] = "test key"
    return app


# -- environ ---------------------------------------------------------------------------
def test_environ_starts_with_method_and_paths_then_fills_on_first_other_key():
    env = _environ(
        http_scope("/a", headers=[("Host", "example.com")], query_string=b"x=1")
    )
    assert isinstance(env, ASGIEnviron)
    assert dict.__len__(env) == 4  # asgi.scope, method, PATH_INFO, SCRIPT_NAME
    assert env["PATH_INFO"] == "/a"
    assert env["REQUEST_METHOD"] == "GET"
    assert dict.__len__(env) == 4  # eager keys do not fill it
    assert env["HTTP_HOST"] == "example.com"
    assert env["QUERY_STRING"] == "x=1"
    assert env["SERVER_NAME"] == "testserver"
    assert env["SERVER_PORT"] == "8000"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REMOTE_ADDR"] == "10.0.0.7"
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.run_once"] is False


@pytest.mark.parametrize(
    "probe",
    [
        lambda env: env.get("HTTP_HOST"),
        lambda env: "HTTP_HOST" in env,
        lambda env: len(env),
        lambda env: list(env),
        lambda env: env.items(),
        lambda env: env.copy(),
        lambda env: env == {},
    ],
)
def test_any_dict_access_fills_the_environ(probe):
    env = _environ(http_scope(headers=[("Host", "h")]))
    probe(env)
    assert dict.__contains__(env, "HTTP_HOST")


def test_environ_is_a_usable_dict():
    env = _environ(http_scope(headers=[("X-A", "1")]))
    copied = env.copy()
    assert type(copied) is dict and copied["HTTP_X_A"] == "1"
    assert env == copied
    env.update(EXTRA=1)
    assert env.pop("EXTRA") == 1
    assert env.setdefault("HTTP_X_A", "other") == "1"
    del env["HTTP_X_A"]
    assert "HTTP_X_A" not in env
    assert "REQUEST_METHOD" in repr(env)
    with pytest.raises(TypeError):
        hash(env)


def test_repeated_headers_are_joined_cookies_with_semicolons():
    env = _environ(
        http_scope(
            headers=[
                ("Accept", "text/html"),
                ("Cookie", "a=1"),
                ("Accept", "application/json"),
                ("Cookie", "b=2"),
            ]
        )
    )
    assert env["HTTP_ACCEPT"] == "text/html,application/json"
    assert env["HTTP_COOKIE"] == "a=1; b=2"


def test_header_names_with_underscores_are_dropped():
    # "X_Forwarded_For" must not pose as "X-Forwarded-For": both would map to
    # HTTP_X_FORWARDED_FOR (the rule gunicorn applies).
    env = _environ(
        http_scope(headers=[("X_Forwarded_For", "6.6.6.6"), ("X-Real", "1")])
    )
    assert "HTTP_X_FORWARDED_FOR" not in env
    assert env["HTTP_X_REAL"] == "1"
    env = _environ(
        http_scope(
            headers=[("X-Forwarded-For", "1.2.3.4"), ("X_Forwarded_For", "6.6.6.6")]
        )
    )
    assert env["HTTP_X_FORWARDED_FOR"] == "1.2.3.4"


def test_content_type_and_length_use_cgi_names():
    env = _environ(
        http_scope(headers=[("Content-Type", "text/plain"), ("Content-Length", "3")])
    )
    assert env["CONTENT_TYPE"] == "text/plain"
    assert env["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in env


def test_header_name_cache_is_bounded():
    names = [(f"X-Many-{i}", "v") for i in range(_ENV_KEYS_MAX + 50)]
    env = _environ(http_scope(headers=names))
    assert env[f"HTTP_X_MANY_{_ENV_KEYS_MAX + 49}"] == "v"
    assert len(_ENV_KEYS) <= _ENV_KEYS_MAX


def test_unix_socket_server_and_missing_client():
    env = _environ(http_scope(server=("/run/app.sock", None), client=None))
    assert env["SERVER_NAME"] == "/run/app.sock"
    assert env["SERVER_PORT"] == ""
    assert env["REMOTE_ADDR"] == ""
    scope = http_scope()
    del scope["server"]
    env = _environ(scope)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("localhost", "80")


def test_root_path_becomes_script_name(app):
    @app.route("/users/<int:uid>")
    async def user(uid):
        return {
            "path": request.path,
            "script_root": request.script_root,
            "url": request.url,
            "uid": uid,
        }

    conn = run(app, http_scope("/api/users/3", root_path="/api"))
    assert conn.status == 200
    assert conn.body == (
        b'{"path":"/users/3","script_root":"/api","uid":3,'
        b'"url":"http://testserver:8000/api/users/3"}\n'
    )


def test_query_string_and_percent_decoded_path(app):
    @app.route("/caf\u00e9/<name>")
    def cafe(name):
        return {
            "name": name,
            "args": request.args.to_dict(),
            "qs": request.query_string.decode(),
        }

    scope = http_scope(
        "/caf\u00e9/a b",
        raw_path=b"/caf%C3%A9/a%20b",
        query_string=b"q=%C3%A9&n=1",
    )
    conn = run(app, scope)
    assert conn.status == 200
    assert conn.body == (
        b'{"args":{"n":"1","q":"\\u00e9"},"name":"a b","qs":"q=%C3%A9&n=1"}\n'
    )


def test_non_ascii_path_without_percent_escapes(app):
    @app.route("/\u00e9t\u00e9")
    async def summer():
        return request.path

    conn = run(app, http_scope("/\u00e9t\u00e9", raw_path=b""))
    assert conn.status == 200
    assert conn.body == "/\u00e9t\u00e9".encode()


@pytest.mark.parametrize("raw", [b"/%ff%fe", b"/name/%ff"])
def test_invalid_utf8_in_raw_path_is_400_through_the_error_pipeline(app, raw):
    seen = []

    @app.route("/<path:name>")
    async def page(name):
        return name

    @app.before_request
    def before():
        seen.append("before")

    @app.after_request
    def after(response):
        response.headers["X-After"] = "ran"
        return response

    @app.errorhandler(400)
    def bad(e):
        return "bad path", 400

    # The server has already decoded the path with replacement characters.
    conn = run(app, http_scope("/\ufffd\ufffd", raw_path=raw))
    assert conn.status == 400
    assert conn.body == b"bad path"
    assert conn.headers["x-after"] == "ran"
    assert seen == ["before"]


# -- request bodies ----------------------------------------------------------------------
def _post(path="/", body_len=None, headers=(), **kw):
    hdrs = list(headers)
    if body_len is not None:
        hdrs.append(("Content-Length", str(body_len)))
    return http_scope(path, method="POST", headers=hdrs, **kw)


def test_body_chunks_are_joined(app):
    @app.post("/")
    async def echo():
        return request.get_data()

    conn = run(app, _post(body_len=6), Connection([b"ab", b"", b"cd", b"ef"]))
    assert conn.body == b"abcdef"


def test_form_post(app):
    @app.post("/")
    def form():
        return request.form.to_dict()

    data = b"a=1&b=%C3%A9"
    scope = _post(
        body_len=len(data),
        headers=[("Content-Type", "application/x-www-form-urlencoded")],
    )
    conn = run(app, scope, Connection([data]))
    assert conn.body == b'{"a":"1","b":"\\u00e9"}\n'


def test_declared_length_over_the_limit_is_413_when_used_and_never_read(app):
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/read")
    def read():
        return request.get_data()

    @app.post("/ignore")
    async def ignore():
        return "not read"

    conn = run(app, _post("/read", body_len=20), Connection([b"x" * 20]))
    assert conn.status == 413
    assert conn.received == 0  # not one body message was taken from the server

    conn = run(app, _post("/ignore", body_len=20), Connection([b"x" * 20]))
    assert (conn.status, conn.body) == (200, b"not read")
    assert conn.received == 0


def test_raising_the_limit_in_the_view_cannot_bring_an_unread_body_back(app):
    # Under ASGI the body is read (or refused) before the view runs; a larger
    # per-request limit gives a 413, never a silently empty body.
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/")
    def read():
        request.max_content_length = 100
        return request.get_data()

    conn = run(app, _post(body_len=20), Connection([b"x" * 20]))
    assert conn.status == 413


def test_chunked_body_over_the_limit_is_413_and_reading_stops(app):
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/")
    def read():
        return request.get_data()

    scope = _post(headers=[("Transfer-Encoding", "chunked")])
    conn = run(app, scope, Connection([b"x" * 8, b"x" * 8, b"x" * 8, b"x" * 8]))
    assert conn.status == 413
    assert conn.received == 2  # stopped at the chunk that passed the limit

    conn = run(app, scope, Connection([b"x" * 5, b"y" * 5]))
    assert (conn.status, conn.body) == (200, b"x" * 5 + b"y" * 5)


def test_http2_body_without_length_headers_is_read(app):
    @app.post("/")
    async def echo():
        return request.get_data()

    conn = run(app, _post(http_version="2"), Connection([b"h2 ", b"body"]))
    assert conn.body == b"h2 body"


def test_client_disconnect_while_reading_sends_nothing_and_tears_down(app):
    torn = []
    called = []

    @app.post("/")
    def view():
        called.append(True)
        return "never"

    @app.teardown_request
    def teardown(exc):
        torn.append(exc)

    conn = Connection([b"a" * 10, b"b" * 10, b"c" * 10], leave_after_request_chunks=2)
    run(app, _post(body_len=30), conn)
    assert conn.sent == []
    assert called == []
    assert torn == [None]  # a client leaving is not an app error


def test_disconnect_while_spooling_closes_the_temp_file(app, monkeypatch):
    import erlen.asgi as asgi_mod

    files = []
    real = asgi_mod.tempfile.TemporaryFile

    def tracked():
        f = real()
        files.append(f)
        return f

    monkeypatch.setattr(asgi_mod.tempfile, "TemporaryFile", tracked)

    @app.post("/")
    def view():
        return "never"

    chunk = b"z" * (512 * 1024)
    conn = Connection([chunk] * 6, leave_after_request_chunks=4)
    run(app, _post(body_len=6 * len(chunk)), conn)
    assert conn.sent == []
    assert len(files) == 1 and files[0].closed


def test_big_body_is_spooled_to_a_temp_file_closed_after_the_request(app):
    inputs = []

    @app.post("/")
    def upload():
        stream = request.environ["wsgi.input"]
        inputs.append(stream)
        digest = hashlib.sha256()
        while chunk := request.stream.read(65536):
            digest.update(chunk)
        return digest.hexdigest()

    chunks = [bytes([i]) * (256 * 1024) for i in range(12)]  # 3 MiB
    total = sum(map(len, chunks))
    assert total > SPOOL_THRESHOLD
    conn = run(app, _post(body_len=total), Connection(chunks))
    assert conn.body == hashlib.sha256(b"".join(chunks)).hexdigest().encode()
    (stream,) = inputs
    assert not isinstance(stream, io.BytesIO)
    assert stream.closed


def test_spooled_body_with_odd_chunk_sizes_is_intact(app):
    @app.post("/")
    def upload():
        return hashlib.sha256(request.get_data()).hexdigest()

    data = bytes(range(256)) * (6 * 1024 + 7)  # ~1.5 MiB, not a multiple of anything
    chunks = [data[i : i + 99_991] for i in range(0, len(data), 99_991)]
    conn = run(app, _post(body_len=len(data)), Connection(chunks))
    assert conn.body == hashlib.sha256(data).hexdigest().encode()


def test_small_body_stays_in_memory(app):
    inputs = []

    @app.post("/")
    def upload():
        inputs.append(request.environ["wsgi.input"])
        return str(len(request.get_data()))

    conn = run(app, _post(body_len=1000), Connection([b"a" * 1000]))
    assert conn.body == b"1000"
    assert isinstance(inputs[0], io.BytesIO)


class _GatedFile:
    """A temp file whose first write waits for a gate (a slow disk)."""

    def __init__(self, real: Any, gate: threading.Event, started: Any) -> None:
        self._real = real
        self._gate = gate
        self._started = started
        self.write_threads: list[str] = []
        self.released: bool | None = None

    def write(self, data: bytes) -> int:
        self.write_threads.append(threading.current_thread().name)
        if self.released is None:
            self._started()
            # Returns True when the concurrent GET opened the gate, False if it
            # could not run meanwhile (the write would be blocking the loop).
            self.released = self._gate.wait(timeout=5)
        return self._real.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_spooling_a_big_upload_never_blocks_a_concurrent_get(app, monkeypatch):
    # BAD_INPUTS 49: the disk rollover and writes happen off the event loop.
    import erlen.asgi as asgi_mod

    real = asgi_mod.tempfile.TemporaryFile
    gate = threading.Event()
    made: list[_GatedFile] = []

    @app.post("/upload")
    def upload():
        return str(len(request.get_data()))

    @app.get("/ping")
    async def ping_view():
        return "pong"

    async def scenario():
        loop = asyncio.get_running_loop()
        writing = asyncio.Event()

        def make():
            f = _GatedFile(real(), gate, lambda: loop.call_soon_threadsafe(writing.set))
            made.append(f)
            return f

        monkeypatch.setattr(asgi_mod.tempfile, "TemporaryFile", make)
        chunks = [b"u" * (512 * 1024)] * 5
        up = Connection(chunks)
        upload_task = asyncio.ensure_future(
            serve(app, _post("/upload", body_len=5 * 512 * 1024), up)
        )
        await asyncio.wait_for(writing.wait(), 10)
        ping = await serve(app, http_scope("/ping"), Connection())
        gate.set()
        await upload_task
        return ping, up

    ping, up = asyncio.run(scenario())
    assert (ping.status, ping.body) == (200, b"pong")
    assert up.body == str(5 * 512 * 1024).encode()
    (f,) = made
    assert f.released is True
    assert "MainThread" not in f.write_threads


# -- where views run ---------------------------------------------------------------------
def test_sync_view_runs_in_a_worker_thread_async_view_on_the_loop(app):
    @app.route("/sync")
    def sync_view():
        return threading.current_thread().name

    @app.route("/async")
    async def async_view():
        return threading.current_thread().name

    assert run(app, http_scope("/sync")).body.startswith(b"erlen-sync")
    assert run(app, http_scope("/async")).body == b"MainThread"


def test_a_blocking_sync_view_never_blocks_the_loop(app):
    other_answered = threading.Event()
    results = {}

    @app.route("/slow")
    def slow():
        # Waits (blocking) for the async view: possible only if the loop is free.
        results["other_ran_meanwhile"] = other_answered.wait(timeout=5)
        return "slow"

    @app.route("/fast")
    async def fast_view():
        other_answered.set()
        return "fast"

    async def scenario():
        slow_task = asyncio.ensure_future(serve(app, http_scope("/slow"), Connection()))
        await asyncio.sleep(0.05)
        fast = await serve(app, http_scope("/fast"), Connection())
        return fast, await slow_task

    fast, slow_conn = asyncio.run(scenario())
    assert fast.body == b"fast"
    assert slow_conn.body == b"slow"
    assert results["other_ran_meanwhile"] is True


def test_run_inline_calls_a_sync_view_on_the_loop(app):
    @app.route("/")
    @run_inline
    def quick():
        return threading.current_thread().name

    assert run(app, http_scope("/")).body == b"MainThread"


def test_asgi_sync_inline_config_calls_sync_views_on_the_loop(app):
    app.config["ASGI_SYNC_INLINE"] = True

    @app.route("/")
    def quick():
        return threading.current_thread().name

    assert run(app, http_scope("/")).body == b"MainThread"


def test_asgi_threads_sets_the_pool_size(app):
    app.config["ASGI_THREADS"] = 3

    @app.route("/")
    def view():
        return "ok"

    run(app, http_scope("/"))
    assert app._asgi_executor._max_workers == 3


def test_one_pool_per_event_loop_and_closed_loops_release_theirs(app):
    @app.route("/")
    def view():
        return threading.current_thread().name

    results: dict[int, list[bytes]] = {}
    # Every loop makes its pool before any loop closes (a closed loop's pool is
    # dropped when the next pool is made).
    all_started = threading.Barrier(3)

    def client(n: int) -> None:
        loop = asyncio.new_event_loop()
        try:
            first = loop.run_until_complete(serve(app, http_scope("/"), Connection()))
            all_started.wait(timeout=10)
            results[n] = [first.body] + [
                loop.run_until_complete(serve(app, http_scope("/"), Connection())).body
                for _ in range(19)
            ]
        finally:
            loop.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1, 2]
    assert all(b.startswith(b"erlen-sync") for r in results.values() for b in r)
    old_pools = list(app._asgi_pools.values())
    assert len(old_pools) == 3

    run(app, http_scope("/"))  # a new loop: the closed loops' pools are shut down
    assert all(pool._shutdown for pool in old_pools)
    assert len(app._asgi_pools) == 1


def test_sync_view_sees_a_copy_of_the_context(app):
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    @app.before_request
    async def before():
        g.user = "ann"

    @app.route("/")
    def view():
        return f"{var.get()} {g.user} {request.path}"

    async def middleware(scope, receive, send):
        var.set("set by middleware")
        await app(scope, receive, send)

    conn = Connection()
    asyncio.run(middleware(http_scope("/"), conn.receive, conn.send))
    assert conn.body == b"set by middleware ann /"


def test_loop_portal_falls_back_to_a_thread_loop_when_the_server_loop_is_gone():
    from erlen.asgi import _LoopPortal

    stopped = asyncio.new_event_loop()
    portal = _LoopPortal(stopped)

    async def where():
        return asyncio.get_running_loop()

    first = portal.run_until_complete(where())
    assert first is not stopped
    assert portal.run_until_complete(where()) is first  # kept, not one per call
    first.close()
    stopped.close()
    assert portal.is_closed()


def test_loop_portal_gives_up_when_the_loop_stops_meanwhile():
    from erlen.asgi import _LoopPortal

    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever)
    runner.start()
    try:

        async def forever():
            await asyncio.sleep(3600)

        threading.Timer(0.2, loop.call_soon_threadsafe, (loop.stop,)).start()
        with pytest.raises(RuntimeError, match="event loop stopped"):
            _LoopPortal(loop).run_until_complete(forever())
    finally:
        runner.join()
        loop.run_until_complete(asyncio.sleep(0))  # let the cancellation land
        loop.close()


# -- async callables under ASGI ----------------------------------------------------------
def _record_loop(log: list[Any], name: str) -> None:
    log.append((name, asyncio.get_running_loop(), threading.current_thread().name))


@pytest.mark.parametrize("view_kind", ["async", "sync"])
def test_async_hooks_run_on_the_server_loop(app, view_kind):
    log: list[Any] = []

    @app.before_request
    async def before():
        _record_loop(log, "before")
        g.seen = [request.path]

    @app.after_request
    async def after(response):
        _record_loop(log, "after")
        response.headers["X-After"] = "1"
        return response

    @app.teardown_request
    async def teardown(exc):
        _record_loop(log, "teardown")

    @app.teardown_appcontext
    async def teardown_app(exc):
        _record_loop(log, "teardown_app")

    if view_kind == "async":

        @app.route("/")
        async def view():
            @after_this_request
            async def later(response):
                _record_loop(log, "after_this_request")
                return response

            return {"seen": g.seen}

    else:

        @app.route("/")
        def view():
            @after_this_request
            async def later(response):
                _record_loop(log, "after_this_request")
                return response

            return {"seen": g.seen}

    async def scenario():
        conn = await serve(app, http_scope("/"), Connection())
        return conn, asyncio.get_running_loop()

    conn, loop = asyncio.run(scenario())
    assert conn.status == 200
    assert conn.headers["x-after"] == "1"
    assert conn.body == b'{"seen":["/"]}\n'
    assert [name for name, _, _ in log] == [
        "before",
        "after_this_request",
        "after",
        "teardown",
        "teardown_app",
    ]
    assert all(running is loop for _, running, _ in log)


@pytest.mark.parametrize("view_kind", ["async", "sync"])
def test_async_error_handlers(app, view_kind):
    log: list[Any] = []

    @app.errorhandler(KeyError)
    async def on_key_error(e):
        _record_loop(log, "handler")
        return f"handled {e.args[0]} at {request.path}", 418

    if view_kind == "async":

        @app.route("/")
        async def view():
            raise KeyError("k")

    else:

        @app.route("/")
        def view():
            raise KeyError("k")

    async def scenario():
        conn = await serve(app, http_scope("/"), Connection())
        return conn, asyncio.get_running_loop()

    conn, loop = asyncio.run(scenario())
    assert (conn.status, conn.body) == (418, b"handled k at /")
    assert log[0][1] is loop


def test_async_500_handler_for_an_unhandled_error(app):
    log: list[Any] = []

    @app.errorhandler(500)
    async def on_500(e):
        _record_loop(log, "500")
        return f"sorry: {type(e.original_exception).__name__}", 500

    @app.route("/")
    async def view():
        raise ValueError("boom")

    async def scenario():
        conn = await serve(app, http_scope("/"), Connection())
        return conn, asyncio.get_running_loop()

    conn, loop = asyncio.run(scenario())
    assert (conn.status, conn.body) == (500, b"sorry: ValueError")
    assert log[0][1] is loop


def test_unhandled_error_is_logged_with_its_traceback(app, caplog):
    @app.route("/")
    async def view():
        raise ValueError("logged boom")

    conn = run(app, http_scope("/"))
    assert conn.status == 500
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.exc_info is not None and record.exc_info[1].args == ("logged boom",)


def test_async_context_processor_with_a_sync_view(app):
    log: list[Any] = []

    @app.context_processor
    async def extra():
        _record_loop(log, "context")
        return {"who": request.args["who"]}

    @app.route("/")
    def page():
        return render_template_string("hi {{ who }}")

    async def scenario():
        conn = await serve(app, http_scope("/", query_string=b"who=ann"), Connection())
        return conn, asyncio.get_running_loop()

    conn, loop = asyncio.run(scenario())
    assert conn.body == b"hi ann"
    assert log[0][1] is loop


def test_async_method_view_runs_on_the_loop(app):
    class Items(MethodView):
        async def get(self, item_id):
            return {"id": item_id, "thread": threading.current_thread().name}

        async def post(self, item_id):
            await asyncio.sleep(0)
            return {"posted": item_id}

    app.add_url_rule("/items/<int:item_id>", view_func=Items.as_view("items"))
    conn = run(app, http_scope("/items/4"))
    assert conn.body == b'{"id":4,"thread":"MainThread"}\n'
    conn = run(app, _post("/items/5", body_len=0))
    assert conn.body == b'{"posted":5}\n'


def test_mixed_method_view_runs_sync_methods_in_a_thread(app):
    log: list[Any] = []

    class Items(MethodView):
        async def get(self):
            _record_loop(log, "get")
            return "got"

        def post(self):
            return threading.current_thread().name

    app.add_url_rule("/items", view_func=Items.as_view("items"))

    async def scenario():
        got = await serve(app, http_scope("/items"), Connection())
        posted = await serve(app, _post("/items", body_len=0), Connection())
        return got, posted, asyncio.get_running_loop()

    got, posted, loop = asyncio.run(scenario())
    assert got.body == b"got"
    assert log[0][1] is loop  # the async method still runs on the server's loop
    assert posted.body.startswith(b"erlen-sync")


# -- the async pipeline and its fallbacks -----------------------------------------------
def test_async_pipeline_runs_url_value_preprocessors_and_stops_at_a_before_hook(app):
    @app.url_value_preprocessor
    def pull(endpoint, values):
        g.lang = values.pop("lang")

    @app.before_request
    async def gate():
        if request.args.get("stop"):
            return "stopped early", 403
        return None

    @app.route("/<lang>/page")
    async def page():
        return g.lang

    assert run(app, http_scope("/de/page")).body == b"de"
    conn = run(app, http_scope("/de/page", query_string=b"stop=1"))
    assert (conn.status, conn.body) == (403, b"stopped early")


def test_session_in_an_async_view_sets_the_cookie(app):
    from erlen import session

    @app.route("/")
    async def count():
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    conn = run(app, http_scope("/"))
    cookie = conn.headers["set-cookie"].split(";")[0]
    conn = run(app, http_scope("/", headers=[("Cookie", cookie)]))
    assert conn.body == b"2"


def test_slash_redirect_options_and_404(app):
    @app.route("/dir/<name>/")
    async def folder(name):
        return name

    conn = run(app, http_scope("/dir/x", headers=[("Host", "example.com")]))
    assert conn.status == 308
    assert conn.headers["location"] == "http://example.com/dir/x/"
    conn = run(app, http_scope("/dir/x/", method="OPTIONS"))
    assert conn.status == 200
    assert set(conn.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert run(app, http_scope("/nowhere")).status == 404
    assert run(app, _post("/dir/x/", body_len=0)).status == 405


@pytest.mark.parametrize("hook", ["none", "async", "sync"])
def test_not_found_runs_sync_app_hooks_in_a_thread(app, hook):
    threads = []

    if hook == "async":

        @app.before_request
        async def before_async():
            threads.append(threading.current_thread().name)

    elif hook == "sync":

        @app.before_request
        def before_sync():
            threads.append(threading.current_thread().name)

    @app.errorhandler(404)
    def missing(e):
        return threading.current_thread().name, 404

    @app.route("/known")
    async def known():
        return "known"

    conn = run(app, http_scope("/unknown"))
    assert conn.status == 404
    where = "erlen-sync" if hook == "sync" else "MainThread"
    assert conn.body.decode().startswith(where)
    assert all(name.startswith(where) for name in threads)


@pytest.mark.parametrize("setup", ["trusted_hosts", "signal", "subclass"])
def test_full_pipeline_in_a_thread_when_the_inline_one_cannot_run(setup):
    from erlen.signals import request_started

    class Sub(Erlen):
        def preprocess_request(self):
            g.pre = "sub"
            return super().preprocess_request()

    app = (Sub if setup == "subclass" else Erlen)("erlen_asgi_full")
    app.config["TRUSTED_HOSTS"] = ["good.example"] if setup == "trusted_hosts" else None
    seen = []

    def on_start(sender, **kw):
        seen.append(threading.current_thread().name)

    @app.route("/")
    async def index():
        return f"{threading.current_thread().name} {g.get('pre')}"

    if setup == "signal":
        request_started.connect(on_start, app)
    try:
        conn = run(app, http_scope("/", headers=[("Host", "good.example")]))
    finally:
        request_started.disconnect(on_start, app)
    assert conn.status == 200
    # The pipeline runs in a worker thread; the async view in it is still
    # awaited on the server's loop (here the main thread).
    assert conn.body.startswith(b"MainThread")
    if setup == "signal":
        assert seen[0].startswith("erlen-sync")
    if setup == "subclass":
        assert conn.body.endswith(b" sub")
    if setup == "trusted_hosts":
        conn = run(app, http_scope("/", headers=[("Host", "evil.example")]))
        assert conn.status == 400


def test_preserved_context_keeps_the_spooled_body_open(app):
    @app.post("/")
    def upload():
        return "ok"

    data = b"p" * (SPOOL_THRESHOLD + 10)
    with app.test_client(asgi=True) as client:
        client.post("/", data=data)
        assert request.get_data() == data
        stream = request.environ["wsgi.input"]
        assert not stream.closed
    gc.collect()  # the popped context may sit in a reference cycle
    assert stream.closed


def test_server_cancelling_the_task_mid_stream_closes_the_body(app):
    state = {"closed": False}

    @app.route("/")
    def stream():
        def gen():
            try:
                while True:
                    time.sleep(0.002)
                    yield b"x"
            finally:
                state["closed"] = True

        return Response(gen())

    async def scenario():
        conn = Connection()
        task = asyncio.ensure_future(serve(app, http_scope("/"), conn))
        while len(conn.body_messages) < 3:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert state["closed"] is True


# -- responses and streaming -------------------------------------------------------------
def test_fast_path_response_is_two_messages(app):
    @app.route("/")
    async def hello():
        return "Hello"

    conn = run(app, http_scope("/"))
    assert conn.sent == [
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", b"5"),
            ],
        },
        {"type": "http.response.body", "body": b"Hello"},
    ]


def test_async_generator_body_is_sent_chunk_by_chunk(app):
    @app.route("/")
    async def stream():
        async def gen():
            for i in range(3):
                await asyncio.sleep(0)
                yield f"part {i};"

        return Response(gen(), mimetype="text/plain")

    conn = run(app, http_scope("/"))
    assert conn.status == 200
    assert "content-length" not in conn.headers
    assert [m["body"] for m in conn.body_messages] == [
        b"part 0;",
        b"part 1;",
        b"part 2;",
        b"",
    ]
    assert [m.get("more_body", False) for m in conn.body_messages] == [
        True,
        True,
        True,
        False,
    ]


def test_sync_generator_body_is_sent_chunk_by_chunk_from_a_thread(app):
    threads = []

    @app.route("/")
    def stream():
        def gen():
            for i in range(3):
                threads.append(threading.current_thread().name)
                yield f"part {i};"

        return gen()

    conn = run(app, http_scope("/"))
    assert [m["body"] for m in conn.body_messages] == [
        b"part 0;",
        b"part 1;",
        b"part 2;",
        b"",
    ]
    assert threads and all(name.startswith("erlen-sync") for name in threads)


class SlowSend(Connection):
    """A connection whose send() takes a moment (a socket applying backpressure)."""

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("conn_class", [Connection, SlowSend])
@pytest.mark.parametrize("kind", ["async", "sync"])
def test_disconnect_mid_stream_closes_the_generator_and_tears_down(
    app, kind, conn_class
):
    state: dict[str, Any] = {"closed": False, "produced": 0}
    torn = []

    if kind == "async":

        async def gen():
            try:
                while True:
                    state["produced"] += 1
                    yield b"tick "
                    await asyncio.sleep(0.005)
            finally:
                state["closed"] = True

    else:

        def gen():  # type: ignore[misc]
            try:
                while True:
                    state["produced"] += 1
                    yield b"tick "
                    time.sleep(0.005)
            finally:
                state["closed"] = True

    @app.route("/")
    def stream():
        return Response(gen())

    @app.teardown_request
    def teardown(exc):
        torn.append((exc, state["closed"]))

    conn = run(app, http_scope("/"), conn_class(leave_after_body_chunks=3))
    assert torn == [(None, True)]  # closed before teardown, not at loop exit
    sent_chunks = len(conn.body_messages)
    assert 3 <= sent_chunks < 50  # production stopped soon after the client left
    assert all(m.get("more_body") for m in conn.body_messages)


def test_send_raising_oserror_mid_stream_ends_quietly(app):
    closed = []

    @app.route("/")
    async def stream():
        async def gen():
            try:
                yield b"a"
                yield b"b"
            finally:
                closed.append(True)

        return Response(gen())

    class Flaky(Connection):
        async def send(self, message):
            if message["type"] == "http.response.body":
                raise OSError("connection closed")
            await super().send(message)

    conn = run(app, http_scope("/"), Flaky())
    assert conn.status == 200
    assert closed == [True]


def test_pathsend_is_used_when_the_server_offers_it(app, tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"0123456789" * 1000)

    @app.route("/file")
    def file():
        return send_file(target)

    conn = run(app, http_scope("/file", extensions={"http.response.pathsend": {}}))
    assert conn.status == 200
    assert conn.headers["content-length"] == "10000"
    assert conn.sent[1:] == [{"type": "http.response.pathsend", "path": str(target)}]

    conn = run(app, http_scope("/file"))
    assert conn.body == target.read_bytes()
    assert not any(m["type"] == "http.response.pathsend" for m in conn.sent)


def test_invalid_response_header_is_a_500_before_anything_is_sent(app):
    @app.route("/")
    async def bad():
        return "x", {"X-Name": "\u20ac"}  # not latin-1: fails when written

    conn = run(app, http_scope("/"))
    assert len(conn.starts) == 1
    assert conn.status == 500
    assert "\u20ac".encode() not in conn.body


def test_error_after_the_response_started_is_raised_to_the_server(app):
    torn = []

    @app.route("/")
    async def stream():
        async def gen():
            yield b"first"
            raise RuntimeError("mid-stream")

        return Response(gen())

    @app.teardown_request
    def teardown(exc):
        torn.append(exc)

    conn = Connection()
    with pytest.raises(RuntimeError, match="mid-stream"):
        run(app, http_scope("/"), conn)
    assert [m["status"] for m in conn.starts] == [200]  # no second start (500)
    assert conn.body_messages[0]["body"] == b"first"
    assert isinstance(torn[0], RuntimeError)


def test_send_failing_on_the_fast_path_is_not_followed_by_an_error_page(app):
    @app.route("/")
    async def hello():
        return "hi"

    conn = Connection(send_error=OSError("gone"))
    with pytest.raises(OSError):
        run(app, http_scope("/"), conn)
    assert len(conn.sent) == 1  # no attempt to send a 500 after the start


@pytest.mark.parametrize("body", ["fast", "response", "stream"])
def test_head_sends_headers_and_no_body(app, body):
    import inspect

    made = []

    @app.route("/")
    def page():
        if body == "fast":
            return "hello"
        if body == "response":
            return Response("hello", headers={"X-Kind": "response"})

        def gen():
            yield "hello"

        made.append(gen())
        return Response(made[-1])

    conn = run(app, http_scope("/", method="HEAD"))
    assert conn.status == 200
    assert conn.body == b""
    if body != "stream":
        assert conn.headers["content-length"] == "5"
    else:
        assert inspect.getgeneratorstate(made[0]) == inspect.GEN_CLOSED


def test_unknown_scope_type_is_refused(app):
    conn = Connection()

    async def scenario():
        await app({"type": "telepathy"}, conn.receive, conn.send)

    with pytest.raises(RuntimeError, match="telepathy"):
        asyncio.run(scenario())


def test_environ_becomes_a_plain_dict_subclass_once_filled():
    from erlen.asgi_environ import FilledEnviron

    environ = _environ(
        http_scope(headers=[("x-a", "1"), ("x-a", "2"), ("cookie", "a=1")])
    )
    get = environ.get  # bound before filling, as a caller may cache it
    assert type(environ) is ASGIEnviron
    assert environ["PATH_INFO"] == "/"  # eager keys do not fill
    assert type(environ) is ASGIEnviron
    assert get("HTTP_X_A") == "1,2"
    assert type(environ) is FilledEnviron
    assert get("HTTP_COOKIE") == "a=1"  # the old bound method still works
    assert isinstance(environ, dict)


def test_keys_set_before_filling_win():
    environ = _environ(http_scope(headers=[("content-length", "10")]))
    dict.__setitem__(environ, "CONTENT_LENGTH", "4")
    assert environ["CONTENT_LENGTH"] == "4"


def test_files_in_memory_decides_the_thread_hop():
    import tempfile

    from werkzeug.datastructures import FileStorage, MultiDict

    from erlen.asgi import _files_in_memory

    with (
        tempfile.SpooledTemporaryFile(max_size=1024) as small,
        tempfile.SpooledTemporaryFile(max_size=1) as rolled,
    ):
        small.write(b"x")
        rolled.write(b"xyz")
        assert not _files_in_memory(None)
        one = FileStorage(io.BytesIO(b"1"), filename="a")
        assert _files_in_memory(MultiDict([("a", one)]))
        assert _files_in_memory(MultiDict([("a", FileStorage(small, filename="s"))]))
        both = [
            ("a", FileStorage(small, filename="s")),
            ("a", FileStorage(rolled, filename="r")),
        ]
        assert not _files_in_memory(MultiDict(both))
