"""The development server (``erlen run``, ``app.run()``) as a user runs it.

Each server is a real subprocess on an ephemeral 127.0.0.1 port, hit with real
HTTP requests and a real WebSocket client, and stopped with SIGINT (Ctrl-C).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import free_port, wait_until_serving

HERE = Path(__file__).parent
APPS = HERE / "devserver_apps"
BIN = Path(sys.executable).parent
#: Variables of the test process that would change what the server does.
_CLEAN_ENV = ("ERLEN_RUN_FROM_CLI", "ERLEN_DEV_SERVER", "ERLEN_DEBUG", "ERLEN_APP")


class Server:
    """A dev server subprocess whose output goes to a file."""

    def __init__(self, args: list[str], cwd: Path, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        env = {k: v for k, v in os.environ.items() if k not in _CLEAN_ENV}
        env["PYTHONUNBUFFERED"] = "1"
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, so a leftover can be killed
        )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str, timeout: float = 5) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            res = conn.getresponse()
            return res.status, res.read().decode()
        finally:
            conn.close()

    def wait_ready(self, path: str = "/", timeout: float = 30) -> None:
        problem = wait_until_serving(self.proc, self.port, path, timeout)
        if problem is not None:
            self.kill()
            pytest.fail(f"the server {problem}:\n{self.output}")

    def interrupt(self, timeout: float = 15) -> int:
        """Press Ctrl-C (SIGINT to the server's pid) and return its exit code."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the server did not stop on SIGINT:\n{self.output}")
        finally:
            self._out.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._out.close()


def erlen_run(cwd: Path, app: str, *options: str, log: Path) -> Server:
    port = free_port()
    args = [str(BIN / "erlen"), "--app", app, "run", "--port", str(port), *options]
    return Server(args, cwd, port, log)


def wait_for(server: Server, path: str, expected: str, touch: Path, status=200):
    """Poll ``path`` until it answers ``status`` and ``expected`` (20 s at most).

    ``touch`` is rewritten unchanged every few seconds, in case the change came
    before the watcher started (it starts just after the server does).
    """
    deadline = time.monotonic() + 20
    next_touch = time.monotonic() + 3
    got = None
    while time.monotonic() < deadline:
        try:
            got = server.get(path, timeout=3)
            if got[0] == status and expected in got[1]:
                return
        except OSError:
            pass  # restarting
        if time.monotonic() > next_touch:
            touch.write_text(touch.read_text())
            next_touch = time.monotonic() + 3
        time.sleep(0.2)
    pytest.fail(f"{path} answers {got!r}, not {status} {expected!r}:\n{server.output}")


def _clean_exit(server: Server) -> None:
    rc = server.interrupt()
    output = server.output
    assert rc == 0, output
    assert "Traceback" not in output, output
    assert "Error" not in output.replace("WARNING", ""), output


# -- one server for the plain HTTP and WebSocket tests --------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("devserver") / "out.log"
    srv = erlen_run(APPS, "devapp", log=log)
    srv.wait_ready()
    yield srv
    _clean_exit(srv)


def test_banner_comes_first_with_url_and_warning(server):
    lines = server.output.splitlines()
    assert lines[0] == " * Serving erlen app 'devapp'"
    assert lines[1] == " * Debug mode: off"
    assert lines[2] == (
        f" * Running on http://127.0.0.1:{server.port} (Press CTRL+C to quit)"
    )
    assert lines[3].startswith("WARNING: This is a development server.")
    # uvicorn's own start-up lines are not shown; access lines are.
    assert "Uvicorn running" not in server.output
    assert '"GET / HTTP/1.1" 200' in server.output


def test_http_keep_alive(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/")
        res = conn.getresponse()
        assert (res.status, res.read()) == (200, b"hello")
        sock = conn.sock
        for _ in range(10):
            conn.request("GET", "/state")
            res = conn.getresponse()
            assert res.status == 200
            assert res.getheader("Content-Type") == "application/json"
            state = json.loads(res.read())
        assert conn.sock is sock  # one connection served them all
    finally:
        conn.close()
    # The lifespan ran (before_serving), the app runs with debug off and the
    # default thread pool.
    assert state == {"started": True, "debug": False, "threads": 40}


def test_not_found_is_the_apps_404(server):
    assert server.get("/nope")[0] == 404


@pytest.mark.parametrize("path", ["/slow", "/aslow"])
def test_two_slow_requests_run_in_parallel(server, path):
    results: list[tuple[int, str]] = []

    def fetch() -> None:
        results.append(server.get(path))

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    elapsed = time.monotonic() - start
    assert [status for status, _ in results] == [200, 200]
    assert elapsed < 1.8, f"took {elapsed:.2f} s: the requests were serialized"
    if path == "/slow":  # sync views: two worker threads
        names = {body for _, body in results}
        assert len(names) == 2 and all(n.startswith("erlen-sync") for n in names)


def test_websocket_round_trip(server):
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=5) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "HELLO"
        ws.send("again")
        assert ws.recv(timeout=5) == "AGAIN"


def test_websocket_refusal_reaches_the_client(server):
    # The app's HTTP answer to a refused handshake gets through the server
    # (uvicorn offers the websocket.http.response extension).
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as info:
        connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5)
    response = info.value.response
    assert 400 <= response.status_code < 500
    assert response.headers["Content-Type"].startswith("text/html")


# -- stopping ------------------------------------------------------------------------------
def test_ctrl_c_with_open_connections_stops_cleanly(tmp_path):
    from websockets.sync.client import connect

    srv = erlen_run(APPS, "devapp", log=tmp_path / "out.log")
    srv.wait_ready()
    idle = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    idle.request("GET", "/")
    idle.getresponse().read()  # a kept-alive connection stays open
    try:
        with connect(f"ws://127.0.0.1:{srv.port}/ws", open_timeout=5) as ws:
            ws.send("x")
            assert ws.recv(timeout=5) == "X"
            _clean_exit(srv)
    finally:
        idle.close()


# -- options -------------------------------------------------------------------------------
def test_without_threads_runs_sync_views_one_at_a_time(tmp_path):
    srv = erlen_run(APPS, "devapp", "--without-threads", log=tmp_path / "out.log")
    srv.wait_ready()
    try:
        assert json.loads(srv.get("/state")[1])["threads"] == 1
        start = time.monotonic()
        threads = [threading.Thread(target=srv.get, args=("/slow",)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert time.monotonic() - start >= 1.9
    finally:
        _clean_exit(srv)


def test_https_with_cert_and_key(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    srv = erlen_run(APPS, "devapp", "--cert", str(cert), "--key", str(key),
                    log=tmp_path / "out.log")  # fmt: skip
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                conn = http.client.HTTPSConnection(
                    "127.0.0.1", srv.port, timeout=3, context=context
                )
                conn.request("GET", "/")
                res = conn.getresponse()
                assert (res.status, res.read()) == (200, b"hello")
                conn.close()
                break
            except (OSError, ssl.SSLError):
                if time.monotonic() > deadline or srv.proc.poll() is not None:
                    pytest.fail(f"no HTTPS answer:\n{srv.output}")
                time.sleep(0.2)
        assert f"https://127.0.0.1:{srv.port}" in srv.output
    finally:
        _clean_exit(srv)


# -- reloading -----------------------------------------------------------------------------
def test_reload_on_source_template_and_extra_file(tmp_path):
    work = tmp_path / "proj"
    shutil.copytree(APPS / "reloadable", work)
    srv = erlen_run(work, "app", "--reload", "--extra-files", "settings.txt",
                    log=tmp_path / "out.log")  # fmt: skip
    srv.wait_ready()
    try:
        assert srv.get("/") == (200, "v1")
        assert srv.get("/page") == (200, "<p>page one</p>")
        assert srv.get("/setting") == (200, "setting one")

        source = work / "app.py"
        source.write_text(source.read_text().replace('"v1"', '"v2"'))
        wait_for(srv, "/", "v2", touch=source)

        # Debug is off, so Jinja does not reload templates itself: the server
        # restarting is what makes the new template show.
        template = work / "templates" / "page.html"
        template.write_text("<p>page two</p>")
        wait_for(srv, "/page", "<p>page two</p>", touch=template)

        settings = work / "settings.txt"
        settings.write_text("setting two\n")
        wait_for(srv, "/setting", "setting two", touch=settings)
        assert "detected changes in 'app.py'" in srv.output
    finally:
        _clean_exit(srv)


def test_reload_survives_a_broken_edit(tmp_path):
    work = tmp_path / "proj"
    shutil.copytree(APPS / "reloadable", work)
    srv = erlen_run(work, "app", "--reload", log=tmp_path / "out.log")
    srv.wait_ready()
    source = work / "app.py"
    good = source.read_text()
    try:
        source.write_text(good + "\ndef broken(:\n")
        # Until the source is fixed, requests get a 500 that says so.
        wait_for(srv, "/", "failed to load", touch=source, status=500)
        assert "SyntaxError" in srv.output
        source.write_text(good.replace('"v1"', '"fixed"'))
        wait_for(srv, "/", "fixed", touch=source)
    finally:
        rc = srv.interrupt()
    assert rc == 0, srv.output


# -- app.run() -----------------------------------------------------------------------------
def _run_script(tmp_path: Path, mode: str) -> Server:
    work = tmp_path / "proj"
    work.mkdir()
    shutil.copy(APPS / "runscript.py", work / "runscript.py")
    port = free_port()
    args = [sys.executable, "runscript.py", str(port), mode]
    return Server(args, work, port, tmp_path / "out.log")


def test_app_run_serves_and_stops_cleanly(tmp_path):
    srv = _run_script(tmp_path, "nodebug")
    srv.wait_ready()
    try:
        assert srv.get("/") == (200, "script v1 runscript debug=False")
        lines = srv.output.splitlines()
        assert lines[0] == " * Serving erlen app 'runscript'"
        assert f"http://127.0.0.1:{srv.port}" in lines[2]
    finally:
        _clean_exit(srv)


def test_app_run_debug_reloads_the_script(tmp_path):
    srv = _run_script(tmp_path, "debug")
    srv.wait_ready()
    try:
        # The reloaded child names the app as the script did.
        assert srv.get("/") == (200, "script v1 runscript debug=True")
        script = tmp_path / "proj" / "runscript.py"
        script.write_text(script.read_text().replace("script v1", "script v2"))
        wait_for(srv, "/", "script v2 runscript debug=True", touch=script)
    finally:
        _clean_exit(srv)


def test_app_run_under_gunicorn_does_nothing(tmp_path):
    port = free_port()
    args = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "prodapp:app"]
    srv = Server(args, APPS, port, tmp_path / "out.log")
    srv.wait_ready()
    try:
        assert srv.get("/") == (200, "served by the production server")
        assert "Ignoring a call to app.run()" in srv.output
        assert "already serving (gunicorn)" in srv.output
        assert " * Serving erlen app" not in srv.output
    finally:
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(15)
        srv.kill()
