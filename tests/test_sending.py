"""Tests for send_file, send_from_directory and static files (erlen.sending).

Flask 3.1 is the oracle for headers; BAD_INPUTS 27, 52, 54 and 55 have their own
sections. Fixture files live in ``tests/static/`` (the conftest app's static
folder); tests that need symlinks, big or odd files build an app in ``tmp_path``.
"""

from __future__ import annotations

import io
import os
import time
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.exceptions import NotFound
from werkzeug.http import http_date, parse_options_header
from werkzeug.routing import BuildError
from werkzeug.test import EnvironBuilder

import erlen
from erlen import (
    Blueprint,
    Erlen,
    request,
    send_file,
    send_from_directory,
    sending,
    url_for,
)
from erlen.sending import (
    CHUNK_SIZE,
    FileBody,
    FileNotFound,
    content_disposition,
    is_inside,
    safe_join,
)
from erlen.testing import ErlenClient

HERE = os.path.dirname(__file__)
STATIC = os.path.join(HERE, "static")
STYLE = os.path.join(STATIC, "style.css")
STYLE_BYTES = Path(STYLE).read_bytes()


def make_app(root, **kwargs) -> Erlen:
    app = Erlen("erlen_sending_test", root_path=str(root), **kwargs)
    app.config.update(TESTING=True)
    return app


def run_wsgi(app, path="/", **builder_kwargs):
    """Call ``app`` as a WSGI server would; return (status, headers, app_iter)."""
    environ = EnvironBuilder(path=path, **builder_kwargs).get_environ()
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)
        return lambda data: None

    app_iter = app(environ, start_response)
    return seen["status"], seen["headers"], app_iter


class Recorder:
    """A file-like spy: records read sizes and whether it was closed."""

    def __init__(self, file):
        self.file = file
        self.reads: list[int] = []
        self.closed = False

    def read(self, n=-1):
        self.reads.append(n)
        return self.file.read(n)

    def seek(self, pos, whence=0):
        return self.file.seek(pos, whence)

    def seekable(self):
        return True

    def tell(self):
        return self.file.tell()

    def fileno(self):
        return self.file.fileno()

    def close(self):
        self.closed = True
        self.file.close()


@pytest.fixture(autouse=True)
def _close_responses(monkeypatch):
    """Close every test-client response at the end, as a WSGI server would."""
    responses = []
    real_open = ErlenClient.open

    def open_and_remember(self, *args, **kwargs):
        resp = real_open(self, *args, **kwargs)
        responses.append(resp)
        return resp

    monkeypatch.setattr(ErlenClient, "open", open_and_remember)
    yield
    for resp in responses:
        resp.close()


@pytest.fixture
def spy_open(monkeypatch):
    """Make send_file open files through a Recorder; yields the recorders."""
    opened: list[Recorder] = []

    def fake_open(path, mode="r", *args, **kwargs):
        rec = Recorder(open(path, mode, *args, **kwargs))  # noqa: SIM115
        opened.append(rec)
        return rec

    monkeypatch.setattr(sending, "open", fake_open, raising=False)
    return opened


# -- The static route ------------------------------------------------------------------
def test_static_route_serves_a_file_like_flask(client):
    resp = client.get("/static/style.css")
    assert resp.status_code == 200
    assert resp.data == STYLE_BYTES
    st_ = os.stat(STYLE)
    h = resp.headers
    assert h["Content-Type"] == "text/css; charset=utf-8"
    assert h["Content-Disposition"] == "inline; filename=style.css"
    assert h["Content-Length"] == str(st_.st_size)
    assert h["Last-Modified"] == http_date(st_.st_mtime)
    assert h["Cache-Control"] == "no-cache"
    assert h["Accept-Ranges"] == "bytes"
    assert "Date" in h and "Expires" not in h
    # Flask's ETag form: "<mtime>-<size>-<adler32 of the path>".
    path = f"{STATIC}/style.css"
    check = zlib.adler32(path.encode()) & 0xFFFFFFFF
    assert h["ETag"] == f'"{st_.st_mtime}-{st_.st_size}-{check}"'


def test_static_headers_equal_flasks(app, client):
    flask = pytest.importorskip("flask")
    fapp = flask.Flask("flask_oracle", root_path=HERE)
    with fapp.test_client().get("/static/sub/data.json") as expected:
        expected_data = expected.data
    got = client.get("/static/sub/data.json")
    assert got.data == expected_data
    for name in (
        "Content-Type",
        "Content-Disposition",
        "Content-Length",
        "Last-Modified",
        "Cache-Control",
        "ETag",
        "Accept-Ranges",
    ):
        assert got.headers.get(name) == expected.headers.get(name), name


def test_url_for_static(app):
    with app.test_request_context():
        assert url_for("static", filename="style.css") == "/static/style.css"
        assert url_for("static", filename="sub/data.json") == "/static/sub/data.json"


def test_static_head_sends_no_body(client):
    resp = client.head("/static/hello.txt")
    assert resp.status_code == 200
    assert resp.data == b""
    assert resp.headers["Content-Length"] == str(os.path.getsize(STATIC + "/hello.txt"))


def test_static_missing_file_is_404(client):
    assert client.get("/static/nope.css").status_code == 404
    assert client.get("/static/sub").status_code == 404  # a directory
    assert client.get("/static/sub/").status_code == 404


def test_static_url_path_and_folder_combinations(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "a.js").write_text("x()")
    app = make_app(tmp_path, static_folder="assets")
    assert app.static_url_path == "/assets"
    assert app.test_client().get("/assets/a.js").data == b"x()"

    app = make_app(tmp_path, static_folder="assets", static_url_path="/s")
    assert app.test_client().get("/s/a.js").data == b"x()"
    assert app.test_client().get("/assets/a.js").status_code == 404
    with app.test_request_context():
        assert url_for("static", filename="a.js") == "/s/a.js"

    app = make_app(tmp_path, static_folder="assets", static_url_path="")
    assert app.test_client().get("/a.js").data == b"x()"

    app = make_app(tmp_path, static_folder=str(tmp_path / "assets"))  # absolute
    assert app.test_client().get("/assets/a.js").status_code == 200


def test_no_static_folder_means_no_static_endpoint(tmp_path):
    app = make_app(tmp_path, static_folder=None)
    with app.test_request_context(), pytest.raises(BuildError):
        url_for("static", filename="x")
    with pytest.raises(RuntimeError, match="static_folder"):
        app.send_static_file("x")


def test_static_host_with_host_matching():
    app = Erlen(
        "erlen_sending_test",
        root_path=HERE,
        host_matching=True,
        static_host="cdn.example.com",
    )

    @app.route("/", host="www.example.com")
    def index():
        return url_for("static", filename="style.css")

    client = app.test_client()
    page = client.get("/", base_url="http://www.example.com")
    assert page.text == "http://cdn.example.com/static/style.css"
    assert client.get("/static/style.css", base_url="http://cdn.example.com").data == (
        STYLE_BYTES
    )
    other = client.get("/static/style.css", base_url="http://www.example.com")
    assert other.status_code == 404


def test_blueprint_static_folder(app):
    bp = Blueprint(
        "admin",
        __name__,
        static_folder="static/sub",
        static_url_path="/files",
        url_prefix="/admin",
    )
    app.register_blueprint(bp)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(minutes=2)
    with app.test_request_context():
        assert url_for("admin.static", filename="data.json") == "/admin/files/data.json"
    resp = app.test_client().get("/admin/files/data.json")
    assert resp.status_code == 200
    assert resp.json == {"ok": True}
    assert resp.headers["Cache-Control"] == "public, max-age=120"
    assert app.test_client().get("/admin/files/../style.css").status_code == 404


def test_blueprint_subclass_get_send_file_max_age_is_used(app):
    class MyBlueprint(Blueprint):
        def get_send_file_max_age(self, filename):
            return 42

    app.register_blueprint(
        MyBlueprint("b", __name__, static_folder="static", url_prefix="/b")
    )
    resp = app.test_client().get("/b/static/style.css")
    assert resp.headers["Cache-Control"] == "public, max-age=42"


@pytest.mark.parametrize(
    ("value", "cache_control"),
    [
        (None, "no-cache"),
        (60, "public, max-age=60"),
        (timedelta(hours=1), "public, max-age=3600"),
        (0, "no-cache, max-age=0"),
    ],
)
def test_send_file_max_age_default(app, client, value, cache_control):
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = value
    resp = client.get("/static/style.css")
    assert resp.headers["Cache-Control"] == cache_control
    if value is None:
        assert "Expires" not in resp.headers
    else:
        seconds = int(value.total_seconds()) if isinstance(value, timedelta) else value
        expires = resp.expires.timestamp()
        assert abs(expires - (time.time() + seconds)) < 5


def test_app_get_send_file_max_age_override_applies_to_static():
    class App(Erlen):
        def get_send_file_max_age(self, filename):
            return 3600 if filename and filename.endswith(".css") else None

    app = App("erlen_sending_test", root_path=HERE)
    client = app.test_client()
    assert client.get("/static/style.css").headers["Cache-Control"] == (
        "public, max-age=3600"
    )
    assert client.get("/static/hello.txt").headers["Cache-Control"] == "no-cache"


# -- send_file ---------------------------------------------------------------------------
def test_send_file_path_relative_to_root_path(app, client):
    app.add_url_rule("/f", "f", lambda: send_file("static/hello.txt"))
    resp = client.get("/f")
    assert resp.data == b"Hello, static world!\n"
    assert resp.mimetype == "text/plain"
    assert resp.headers["Content-Disposition"] == "inline; filename=hello.txt"


def test_send_file_pathlike_and_absolute(app, client, tmp_path):
    import pathlib

    target = tmp_path / "x.bin"
    target.write_bytes(b"\x00\x01")
    app.add_url_rule("/f", "f", lambda: send_file(pathlib.Path(target)))
    resp = client.get("/f")
    assert resp.data == b"\x00\x01"
    assert resp.mimetype == "application/octet-stream"


def test_send_file_mimetype_and_attachment(app, client):
    @app.route("/a")
    def a():
        return send_file(
            "static/hello.txt",
            mimetype="text/x-custom",
            as_attachment=True,
            download_name="greeting.txt",
        )

    resp = client.get("/a")
    assert resp.headers["Content-Type"] == "text/x-custom; charset=utf-8"
    assert resp.headers["Content-Disposition"] == "attachment; filename=greeting.txt"


def test_compressed_names_announce_encoding_only_inline(app, client):
    app.add_url_rule(
        "/inline", "i", lambda: send_file("static/hello.txt", download_name="a.tar.gz")
    )
    app.add_url_rule(
        "/att",
        "a",
        lambda: send_file(
            "static/hello.txt", download_name="a.tar.gz", as_attachment=True
        ),
    )
    inline = client.get("/inline")
    assert inline.headers["Content-Encoding"] == "gzip"
    assert inline.mimetype == "application/x-tar"
    assert "Content-Encoding" not in client.get("/att").headers


def test_send_file_bytesio(app, client):
    @app.route("/b")
    def b():
        data = io.BytesIO(b"0123456789")
        data.seek(2)  # the body starts where the file object is
        return send_file(data, mimetype="application/x-test")

    resp = client.get("/b")
    assert resp.data == b"23456789"
    assert resp.headers["Content-Length"] == "8"
    assert "ETag" not in resp.headers and "Last-Modified" not in resp.headers
    assert "Content-Disposition" not in resp.headers
    ranged = client.get("/b", headers={"Range": "bytes=1-3"})
    assert ranged.status_code == 206
    assert ranged.data == b"345"
    assert ranged.headers["Content-Range"] == "bytes 1-3/8"


def test_send_file_open_binary_file(app, client, spy_open):
    @app.route("/o")
    def o():
        return send_file(open(STYLE, "rb"), download_name="s.css")

    resp = client.get("/o")
    assert resp.data == STYLE_BYTES
    assert resp.headers["Content-Length"] == str(len(STYLE_BYTES))
    assert resp.mimetype == "text/css"
    assert "ETag" not in resp.headers
    assert client.get("/o", headers={"Range": "bytes=0-3"}).data == STYLE_BYTES[:4]


def test_send_file_unsized_stream(app, client):
    class Stream:
        def __init__(self):
            self.parts = [b"ab", b"cd", b""]

        def read(self, n=-1):
            return self.parts.pop(0)

    app.add_url_rule(
        "/s", "s", lambda: send_file(Stream(), mimetype="application/octet-stream")
    )
    resp = client.get("/s", headers={"Range": "bytes=0-0"})
    assert resp.status_code == 200  # size unknown: no ranges
    assert resp.data == b"abcd"
    assert "Content-Length" not in resp.headers


def test_send_file_needs_a_mimetype_or_name(app):
    with app.test_request_context():
        with pytest.raises(TypeError, match="MIME type"):
            send_file(io.BytesIO(b"x"))
        with pytest.raises(TypeError, match="attachment"):
            send_file(io.BytesIO(b"x"), mimetype="text/plain", as_attachment=True)
        with pytest.raises(ValueError, match="binary mode"):
            send_file(io.StringIO("x"), mimetype="text/plain")
        with pytest.raises(TypeError, match="binary mode"):
            send_file(42, mimetype="text/plain")  # type: ignore[arg-type]


def test_send_file_outside_a_request_is_an_error(app):
    with pytest.raises(RuntimeError, match="request context"):
        send_file(STYLE)
    with app.app_context(), pytest.raises(RuntimeError, match="request context"):
        send_from_directory(STATIC, "style.css")


def test_send_file_missing_is_404_and_a_file_not_found_error(app, client, tmp_path):
    app.add_url_rule("/m", "m", lambda: send_file("static/missing.txt"))
    app.add_url_rule("/d", "d", lambda: send_file("static"))

    @app.route("/caught")
    def caught():
        try:
            return send_file("static/missing.txt")
        except FileNotFoundError:  # code written for Flask keeps working
            return "fallback"

    assert client.get("/m").status_code == 404
    assert client.get("/d").status_code == 404
    assert client.get("/caught").text == "fallback"
    assert issubclass(FileNotFound, FileNotFoundError)
    assert FileNotFound().code == 404


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_send_file_refuses_a_fifo_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    app = make_app(tmp_path)
    app.add_url_rule("/p", "p", lambda: send_file("pipe"))
    started = time.monotonic()
    assert app.test_client().get("/p").status_code == 404
    assert time.monotonic() - started < 2


def test_etag_and_last_modified_overrides(app, client):
    when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    app.add_url_rule(
        "/custom",
        "c",
        lambda: send_file("static/hello.txt", etag="v1", last_modified=when),
    )
    app.add_url_rule("/none", "n", lambda: send_file("static/hello.txt", etag=False))
    app.add_url_rule(
        "/ts", "t", lambda: send_file("static/hello.txt", last_modified=1_600_000_000)
    )
    resp = client.get("/custom")
    assert resp.headers["ETag"] == '"v1"'
    assert resp.headers["Last-Modified"] == "Thu, 02 Jan 2020 03:04:05 GMT"
    assert client.get("/custom", headers={"If-None-Match": '"v1"'}).status_code == 304
    assert "ETag" not in client.get("/none").headers
    assert client.get("/ts").headers["Last-Modified"] == http_date(1_600_000_000)


def test_max_age_argument_and_callable(app, client):
    seen = []

    def per_file(path):
        seen.append(path)
        return None

    app.add_url_rule("/int", "i", lambda: send_file("static/hello.txt", max_age=30))
    app.add_url_rule(
        "/call", "c", lambda: send_file("static/hello.txt", max_age=per_file)
    )
    assert client.get("/int").headers["Cache-Control"] == "public, max-age=30"
    assert client.get("/call").headers["Cache-Control"] == "no-cache"
    assert seen == [os.path.join(HERE, "static/hello.txt")]


# -- Conditional and range requests ----------------------------------------------------
def test_if_none_match_gives_304_and_closes_the_file(client, spy_open):
    etag = client.get("/static/style.css").headers["ETag"]
    resp = client.get("/static/style.css", headers={"If-None-Match": etag})
    assert resp.status_code == 304
    assert resp.data == b""
    assert "Content-Length" not in resp.headers
    assert spy_open[-1].closed


def test_if_modified_since_gives_304(client):
    lm = client.get("/static/style.css").headers["Last-Modified"]
    resp = client.get("/static/style.css", headers={"If-Modified-Since": lm})
    assert resp.status_code == 304
    older = http_date(os.stat(STYLE).st_mtime - 3600)
    assert (
        client.get(
            "/static/style.css", headers={"If-Modified-Since": older}
        ).status_code
        == 200
    )


def test_failed_if_match_is_412_without_the_file(client, spy_open):
    resp = client.get("/static/style.css", headers={"If-Match": '"other"'})
    assert resp.status_code == 412
    assert resp.data == b""
    assert resp.headers["Content-Length"] == "0"
    assert spy_open[-1].closed


@pytest.mark.parametrize(
    ("header", "body", "content_range"),
    [
        ("bytes=0-3", STYLE_BYTES[:4], f"bytes 0-3/{len(STYLE_BYTES)}"),
        ("bytes=5-", STYLE_BYTES[5:], f"bytes 5-{len(STYLE_BYTES) - 1}/{len(STYLE_BYTES)}"),
        ("bytes=-4", STYLE_BYTES[-4:], f"bytes {len(STYLE_BYTES) - 4}-{len(STYLE_BYTES) - 1}/{len(STYLE_BYTES)}"),
        ("bytes=3-1000", STYLE_BYTES[3:], f"bytes 3-{len(STYLE_BYTES) - 1}/{len(STYLE_BYTES)}"),
    ],
)  # fmt: skip
def test_range_gives_206(client, header, body, content_range):
    resp = client.get("/static/style.css", headers={"Range": header})
    assert resp.status_code == 206
    assert resp.data == body
    assert resp.headers["Content-Range"] == content_range
    assert resp.headers["Content-Length"] == str(len(body))


def test_unsatisfiable_range_is_416_and_closes_the_file(client, spy_open):
    resp = client.get("/static/style.css", headers={"Range": "bytes=1000-2000"})
    assert resp.status_code == 416
    assert resp.headers["Content-Range"] == f"bytes */{len(STYLE_BYTES)}"
    assert spy_open[-1].closed


def test_if_range_mismatch_sends_everything(client):
    resp = client.get(
        "/static/style.css", headers={"Range": "bytes=0-1", "If-Range": '"stale"'}
    )
    assert resp.status_code == 200
    assert resp.data == STYLE_BYTES


def test_head_with_range_sends_no_body(client):
    resp = client.head("/static/style.css", headers={"Range": "bytes=0-1"})
    assert resp.status_code == 200
    assert resp.data == b""


def test_many_ranges_are_ignored_quickly(client):
    # BAD_INPUTS 52: 10 000 ranges, and 100 KB of digits -> 200, linear time.
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 20_000, 2))
    digits = "bytes=" + "1" * 100_000 + "-"
    started = time.monotonic()
    for header in (many, digits, "bytes=\u0660-\u0663"):
        resp = client.get("/static/style.css", headers={"Range": header})
        assert resp.status_code in (200, 416)
        if resp.status_code == 200:
            assert resp.data == STYLE_BYTES
    assert time.monotonic() - started < 2


def test_conditional_false_ignores_request_headers(app, client):
    app.add_url_rule(
        "/nc", "nc", lambda: send_file("static/style.css", conditional=False)
    )
    resp = client.get("/nc", headers={"Range": "bytes=0-1", "If-None-Match": "*"})
    assert resp.status_code == 200
    assert resp.data == STYLE_BYTES
    assert "Accept-Ranges" not in resp.headers


# -- X-Sendfile and the server's file wrapper ---------------------------------------------
def test_x_sendfile(app, client, spy_open):
    app.config["USE_X_SENDFILE"] = True
    resp = client.get("/static/style.css")
    assert resp.status_code == 200
    assert resp.headers["X-Sendfile"] == f"{STATIC}/style.css"
    assert resp.headers["Content-Length"] == str(len(STYLE_BYTES))
    assert resp.data == b""
    assert spy_open == []  # the front server reads the file, not erlen
    etag = resp.headers["ETag"]
    not_modified = client.get("/static/style.css", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert "X-Sendfile" not in not_modified.headers
    failed = client.get("/static/style.css", headers={"If-Match": '"other"'})
    assert failed.status_code == 412
    assert "X-Sendfile" not in failed.headers
    # The front server cuts ranges from the file it sends.
    ranged = client.get("/static/style.css", headers={"Range": "bytes=0-1"})
    assert ranged.status_code == 200
    assert "X-Sendfile" in ranged.headers


def test_wsgi_file_wrapper_is_used_for_whole_files(app):
    made = []

    class ServerWrapper:
        def __init__(self, file, block_size):
            made.append((file, block_size))
            self.file = file

        def __iter__(self):
            return iter(lambda: self.file.read(1024), b"")

        def close(self):
            self.file.close()

    base = {"wsgi.file_wrapper": ServerWrapper}
    status, _, body = run_wsgi(app, "/static/style.css", environ_base=base)
    assert status == "200 OK"
    assert isinstance(body, ServerWrapper)  # handed to the server unchanged
    assert b"".join(body) == STYLE_BYTES
    body.close()
    assert made[0][1] == CHUNK_SIZE and made[0][0].closed

    for kwargs in ({"method": "HEAD"}, {"headers": {"Range": "bytes=0-1"}}):
        made.clear()
        status, _, body = run_wsgi(
            app, "/static/style.css", environ_base=base, **kwargs
        )
        assert made == []
        b"".join(body)
        body.close()


# -- Streaming: never the whole file in memory ---------------------------------------
BIG = 100 * 1024 * 1024


@pytest.fixture
def big_app(tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    with open(static / "big.bin", "wb") as f:
        f.truncate(BIG)  # sparse: 100 MB on paper, nothing on disk
    return make_app(tmp_path)


def test_big_file_streams_through_the_test_client(big_app, spy_open):
    resp = big_app.test_client().get("/static/big.bin", buffered=False)
    assert resp.headers["Content-Length"] == str(BIG)
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        total = biggest = 0
        for chunk in resp.response:
            total += len(chunk)
            biggest = max(biggest, len(chunk))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()
        resp.close()
    assert total == BIG
    assert biggest <= CHUNK_SIZE
    assert max(spy_open[0].reads) <= CHUNK_SIZE
    assert peak < 8 * CHUNK_SIZE
    assert spy_open[0].closed


def test_big_file_streams_through_a_wsgi_call(big_app, spy_open):
    status, headers, app_iter = run_wsgi(big_app, "/static/big.bin")
    assert status == "200 OK"
    assert headers["Content-Length"] == str(BIG)
    total = biggest = 0
    for chunk in app_iter:
        total += len(chunk)
        biggest = max(biggest, len(chunk))
    app_iter.close()
    assert (total, biggest) == (BIG, CHUNK_SIZE)
    assert spy_open[0].closed


def test_range_of_a_big_file_reads_only_near_the_range(big_app, spy_open):
    start = 50_000_000
    status, headers, app_iter = run_wsgi(
        big_app,
        "/static/big.bin",
        headers={"Range": f"bytes={start}-{start + 99}"},
    )
    assert status.startswith("206")
    assert headers["Content-Range"] == f"bytes {start}-{start + 99}/{BIG}"
    assert b"".join(app_iter) == b"\0" * 100
    app_iter.close()
    assert sum(spy_open[0].reads) <= CHUNK_SIZE
    assert spy_open[0].closed


def test_head_of_a_big_file_does_not_open_it(big_app, spy_open):
    resp = big_app.test_client().head("/static/big.bin")
    assert resp.status_code == 200
    assert resp.headers["Content-Length"] == str(BIG)
    assert "ETag" in resp.headers
    assert spy_open == []


# -- Download names (BAD_INPUTS 27) -----------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        'evil";.bat',
        "a;b=c.txt",
        "x\r\nSet-Cookie: a=b",
        "../../etc/passwd",
        "résumé.pdf",
        "文件.txt",
        "back\\slash.txt",
        "nul\x00byte.txt",
        "tab\there.txt",
    ],
)
def test_user_download_name_cannot_inject(app, client, name):
    @app.route("/dl")
    def dl():
        return send_file(
            io.BytesIO(b"data"),
            download_name=request.args["name"],
            as_attachment=True,
        )

    resp = client.get("/dl", query_string={"name": name})
    assert resp.status_code == 200
    assert "Set-Cookie" not in resp.headers
    values = resp.headers.getlist("Content-Disposition")
    assert len(values) == 1
    value = values[0]
    assert not any(c in value for c in "\r\n\x00")
    kind, params = parse_options_header(value)
    assert kind == "attachment"
    assert params["filename"] == name  # filename* wins when present
    if not name.isascii() or any(ord(c) < 32 for c in name):
        assert "filename*=UTF-8''" in value


def test_content_disposition_forms():
    assert content_disposition("a.txt") == "inline; filename=a.txt"
    assert content_disposition("a b.txt", True) == 'attachment; filename="a b.txt"'
    assert content_disposition('a"b\\c') == 'inline; filename="a\\"b\\\\c"'
    assert content_disposition("Ünï.txt", True) == (
        "attachment; filename=Uni.txt; filename*=UTF-8''%C3%9Cn%C3%AF.txt"
    )
    assert content_disposition("文件.txt") == (
        "inline; filename=.txt; filename*=UTF-8''%E6%96%87%E4%BB%B6.txt"
    )
    assert content_disposition("a\r\nb") == (
        "inline; filename=ab; filename*=UTF-8''a%0D%0Ab"
    )


@given(st.text(min_size=1, max_size=40))
def test_content_disposition_round_trips_any_name(name):
    value = content_disposition(name, as_attachment=True)
    value.encode("latin-1")  # sendable
    assert not any(c in value for c in "\r\n\x00")
    assert parse_options_header(value) == ("attachment", {"filename": name})


# -- Paths (BAD_INPUTS 54) -------------------------------------------------------------
LITERAL_TRAPS = [
    "..\\secret",
    "C:/x",
    "c:\\windows\\win.ini",
    "..%2fsecret",
    "%2f..%2fsecret",
    "%2F..%2Fsecret",
    "sub\\x",
]


@pytest.fixture
def jail(tmp_path):
    """An app whose static folder has escape routes next to it."""
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "ok.txt").write_text("ok")
    (tmp_path / "secret").write_text("secret")
    (tmp_path / "static-private").mkdir()
    (tmp_path / "static-private" / "secret").write_text("sibling secret")
    if os.name != "nt":
        # Names that are plain files on POSIX but paths on Windows, or that a
        # later decoding step could turn into paths: refused even when they exist.
        for name in LITERAL_TRAPS:
            target = tmp_path / "static" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("secret")
    if hasattr(os, "symlink"):
        os.symlink(tmp_path / "secret", tmp_path / "static" / "link")
        os.symlink(tmp_path / "static-private", tmp_path / "static" / "dirlink")
        os.symlink(tmp_path / "static" / "ok.txt", tmp_path / "static" / "inner")
    return make_app(tmp_path)


ESCAPES = [
    "/static/../secret",
    "/static/..%2fsecret",
    "/static/%2e%2e/secret",
    "/static/%2E%2E%2Fsecret",
    "/static/..\\secret",
    "/static/..%5csecret",
    "/static//etc/passwd",
    "/static///etc/passwd",
    "/static/C:/x",
    "/static/c:%5cwindows%5cwin.ini",
    "/static//srv/share/x",
    "/static/../static-private/secret",
    "/static/./ok.txt/../../secret",
    "/static/ok.txt%00.png",
    "/static/%252e%252e/secret",
    "/static/%252f..%252fsecret",
]


@pytest.mark.parametrize("url", ESCAPES)
def test_escapes_from_the_static_folder_are_404(jail, url):
    resp = jail.test_client().get(url, follow_redirects=True)
    assert resp.status_code == 404
    assert b"secret" not in resp.data


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_leading_out_are_404_and_inside_ones_work(jail):
    client = jail.test_client()
    assert client.get("/static/link").status_code == 404
    assert client.get("/static/dirlink/secret").status_code == 404
    assert client.get("/static/inner").data == b"ok"


@pytest.mark.parametrize(
    "name",
    [
        "../secret",
        "..",
        ".",
        "/etc/passwd",
        "//srv/share/x",
        "C:/x",
        "C:\\x",
        "..\\secret",
        "ok.txt\x00",
        "..%2fsecret",
        "%2F..%2Fsecret",
        "sub//x",
        "./ok.txt",
        "ok.txt/",
        "",
        "...",
        " ",
    ],
)
def test_send_from_directory_refuses_unsafe_names(jail, name):
    with jail.test_request_context():
        with pytest.raises(NotFound):
            send_from_directory("static", name)
        # The same answer whether or not the target exists.
        with pytest.raises(NotFound):
            send_from_directory("static", name + "-missing")


@pytest.mark.skipif(os.name == "nt", reason="these names are paths on Windows")
@pytest.mark.parametrize("name", LITERAL_TRAPS)
def test_risky_names_are_refused_even_when_they_exist(jail, name):
    assert os.path.isfile(os.path.join(jail.root_path, "static", name))
    with jail.test_request_context(), pytest.raises(NotFound):
        send_from_directory("static", name)


def test_send_from_directory_serves_and_passes_arguments(jail):
    @jail.route("/dl/<path:name>")
    def dl(name):
        return send_from_directory("static", name, as_attachment=True, max_age=9)

    resp = jail.test_client().get("/dl/ok.txt")
    assert resp.data == b"ok"
    assert resp.headers["Content-Disposition"] == "attachment; filename=ok.txt"
    assert resp.headers["Cache-Control"] == "public, max-age=9"


def test_safe_join():
    assert safe_join("/srv", "a/b.css") == "/srv/a/b.css"
    assert safe_join("/srv", "a", "b") == "/srv/a/b"
    assert safe_join("", "a") == "./a"
    assert safe_join("/srv/", "a") == "/srv/a"
    assert (
        safe_join("/srv", "a..b/c.d") == "/srv/a..b/c.d"
    )  # dots inside names are fine
    assert safe_join("/srv", "a", "../b") is None
    assert safe_join("/srv", "a/./b") is None
    assert safe_join("/srv", b"a") is None  # type: ignore[arg-type]


def test_is_inside():
    base = os.path.realpath(STATIC)
    assert is_inside(base, os.path.join(base, "style.css"))
    assert not is_inside(base, base + "-private/x")  # sibling with the same prefix
    assert not is_inside(base, os.path.dirname(base))
    assert not is_inside(base, base)  # the folder itself is no file in it


# -- Windows device names (BAD_INPUTS 55) ----------------------------------------------
DEVICES = [
    "CON",
    "sub/NUL",
    "CON.txt.html",
    "AUX  ",
    "COM¹",
    "CONIN$",
    "con",
    "lpt3.log",
    "prn.tar.gz",
    "nul:",
    "ok.txt.",
    "ok.txt ",
]


@pytest.fixture
def windows_jail(tmp_path, monkeypatch):
    """An app with device-named files; ``get(url)`` runs with os.name == "nt".

    os.name is patched only around the request: pytest itself must not see "nt"
    when it reports a failure.
    """
    static = tmp_path / "static"
    (static / "sub").mkdir(parents=True)
    for name in DEVICES:
        try:  # real files, so only the name check can give the 404
            (static / name).write_text("device")
        except OSError:  # pragma: no cover - a name this filesystem refuses
            pass
    (static / "console.txt").write_text("fine")
    client = make_app(tmp_path).test_client()

    def get(url):
        with monkeypatch.context() as m:
            m.setattr(os, "name", "nt")
            started = time.monotonic()
            resp = client.get(url)
            resp.elapsed = time.monotonic() - started
            return resp

    return get


@pytest.mark.parametrize("name", DEVICES)
def test_windows_device_names_are_404(windows_jail, name):
    resp = windows_jail("/static/" + name)
    assert resp.status_code == 404
    assert resp.elapsed < 1


def test_windows_ordinary_names_still_work(windows_jail, monkeypatch):
    assert windows_jail("/static/console.txt").data == b"fine"
    with monkeypatch.context() as m:
        m.setattr(os, "name", "nt")
        joined = safe_join("C:/srv", "COM10.txt"), safe_join("C:/srv", "COM1.txt")
    assert joined == ("C:/srv/COM10.txt", None)


def test_device_names_are_fine_elsewhere(tmp_path):
    if os.name == "nt":  # pragma: no cover
        pytest.skip("POSIX only")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "CON.txt").write_text("x")
    assert make_app(tmp_path).test_client().get("/static/CON.txt").data == b"x"


# -- FileBody --------------------------------------------------------------------------
def test_file_body_chunks_and_length_cap():
    body = FileBody(io.BytesIO(b"abcdefghij"), length=7, chunk_size=3)
    assert list(body) == [b"abc", b"def", b"g"]
    body = FileBody(io.BytesIO(b"abcdefghij"), chunk_size=4)
    assert list(body) == [b"abcd", b"efgh", b"ij"]
    with pytest.raises(ValueError):
        FileBody(io.BytesIO(), chunk_size=0)


def test_file_body_seek_is_relative_to_its_start():
    data = io.BytesIO(b"0123456789")
    data.seek(2)
    body = FileBody(data, length=8, offset=2, chunk_size=100)
    assert body.seekable()
    body.seek(7)
    assert next(body) == b"9"
    body.seek(3)
    assert list(body) == [b"56789"]
    assert data.closed  # exhausted: the file is released at once
    with pytest.raises(ValueError):
        body.seek(-1)


def test_file_body_close_and_path(tmp_path):
    target = tmp_path / "f.txt"
    target.write_bytes(b"x")
    body = FileBody(open(target, "rb"), 1, str(target))  # noqa: SIM115
    assert body.path == str(target) and body.length == 1
    assert "f.txt" in repr(body)
    body.close()
    assert body.file.closed and not body.seekable()


def test_file_body_exposes_the_path_for_pathsend(app):
    with app.test_request_context():
        resp = send_file("static/style.css")
    try:
        assert type(resp.response) is FileBody
        assert resp.response.path == os.path.join(HERE, "static/style.css")
        assert resp.response.length == len(STYLE_BYTES)
    finally:
        resp.close()
    assert resp.response.file.closed


def test_growing_file_never_overruns_content_length(app, tmp_path):
    target = tmp_path / "log.txt"
    target.write_bytes(b"12345")
    with app.test_request_context():
        resp = send_file(str(target))
    with open(target, "ab") as f:
        f.write(b"67890")  # appended after the response was made
    assert resp.headers["Content-Length"] == "5"
    assert b"".join(resp.response) == b"12345"
    resp.close()


# -- Public surface ----------------------------------------------------------------------
def test_exports():
    assert erlen.send_file is send_file is erlen.helpers.send_file
    assert erlen.send_from_directory is send_from_directory
    assert "send_file" in erlen.__all__ and "send_from_directory" in erlen.__all__
