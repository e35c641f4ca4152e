"""uvicorn, hypercorn and granian serve the erlen app object over ASGI.

Each server runs as a subprocess on 127.0.0.1 with an ephemeral port and two
worker processes, started with the flags docs/asgi.md gives, and answers real
HTTP requests: hello, JSON, a form, a 5 MB upload, a streamed response arriving
chunk by chunk, keep-alive, a client leaving mid-stream. The lifespan hooks of
tests/integration/asgi_app.py log to a file, which shows they ran once per
worker — at startup and at shutdown.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import free_port, wait_until_serving

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
MB = 1 << 20
WORKERS = 2


def _command(server: str, port: int) -> list[str]:
    """The command line docs/asgi.md gives for each server."""
    if server == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            "--interface",
            "asgi3",
            "--http",
            "httptools",
            "--lifespan",
            "on",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "asgi_app:app",
        ]
    if server == "hypercorn":
        return [
            str(BIN / "hypercorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "asgi:asgi_app:app",
        ]
    return [
        str(BIN / "granian"),
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "asgi_app:app",
    ]


class Server:
    """One server subprocess; stopped by its pid with SIGTERM (graceful)."""

    def __init__(self, name: str, events: Path) -> None:
        self.name = name
        self.events = events
        self.port = free_port()
        self.log = events / "server.log"
        self._log_file = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            _command(name, self.port),
            cwd=HERE,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    [str(HERE), os.environ.get("PYTHONPATH", "")]
                ),
                "ERLEN_EVENTS_DIR": str(events),
            },
        )

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        problem = wait_until_serving(self.proc, self.port)
        if problem is not None:
            self.stop()
            pytest.fail(f"{self.name} {problem}:\n{self.output()}")

    def connect(self, timeout: float = 10) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        conn = self.connect(timeout)
        try:
            conn.request("GET", path)
            res = conn.getresponse()
            return res.status, res.read()
        finally:
            conn.close()

    def events_list(self) -> list[str]:
        path = self.events / "events.log"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


@pytest.fixture(scope="module", params=["uvicorn", "hypercorn", "granian"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    name = request.param
    if not (BIN / name).exists():
        from tests.conftest import require_service

        require_service(f"{name} is not installed (pip install -e '.[dev]')")
    srv = Server(name, tmp_path_factory.mktemp(name))
    srv.wait_ready()
    yield srv
    srv.stop()


def _pids_with(events: list[str], kind: str) -> list[int]:
    return sorted(int(line.split()[1]) for line in events if line.split()[0] == kind)


def _wait_for_events(srv: Server, kind: str, count: int) -> list[int]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pids = _pids_with(srv.events_list(), kind)
        if len(pids) >= count:
            return pids
        time.sleep(0.1)
    return _pids_with(srv.events_list(), kind)


def test_hello_and_json_over_one_keep_alive_connection(server):
    conn = server.connect()
    try:
        conn.request("GET", "/")
        res = conn.getresponse()
        assert (res.status, res.read()) == (200, b"hello")
        assert res.getheader("Content-Type") == "text/html; charset=utf-8"
        sock = conn.sock
        for i in range(20):
            conn.request("GET", f"/json/{i}?q=caf%C3%A9")
            res = conn.getresponse()
            assert res.status == 200
            assert res.getheader("Content-Type") == "application/json"
            assert json.loads(res.read()) == {"n": i, "q": "caf\u00e9"}
        assert conn.sock is sock  # every request used the same connection
    finally:
        conn.close()


def test_not_found_and_head(server):
    assert server.get("/missing")[0] == 404
    conn = server.connect()
    try:
        conn.request("HEAD", "/")
        res = conn.getresponse()
        assert res.status == 200
        assert res.getheader("Content-Length") == "5"
        assert res.read() == b""
    finally:
        conn.close()


def test_sync_view_runs_in_a_worker_thread(server):
    status, body = server.get("/sync")
    assert status == 200
    assert body.startswith(b"erlen-sync")


def test_form_post(server):
    conn = server.connect()
    try:
        conn.request(
            "POST",
            "/form",
            body=b"name=Ann&city=Z%C3%BCrich",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        res = conn.getresponse()
        assert res.status == 200
        assert json.loads(res.read()) == {"name": "Ann", "city": "Z\u00fcrich"}
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_5_mb_upload(server, chunked):
    block = os.urandom(MB)
    blocks = [block] * 5
    expected = {"size": 5 * MB, "sha256": hashlib.sha256(block * 5).hexdigest()}
    conn = server.connect(timeout=60)
    try:
        conn.putrequest("POST", "/upload")
        conn.putheader("Content-Type", "application/octet-stream")
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        else:
            conn.putheader("Content-Length", str(5 * MB))
        conn.endheaders()
        for b in blocks:
            if chunked:
                conn.send(f"{len(b):x}\r\n".encode() + b + b"\r\n")
            else:
                conn.send(b)
        if chunked:
            conn.send(b"0\r\n\r\n")
        res = conn.getresponse()
        assert res.status == 200, res.read()
        assert json.loads(res.read()) == expected
    finally:
        conn.close()


def test_streamed_response_arrives_chunk_by_chunk(server):
    token = uuid.uuid4().hex
    conn = server.connect(timeout=10)
    try:
        conn.request("GET", f"/stream/{token}")
        res = conn.getresponse()
        assert res.status == 200
        assert res.getheader("Content-Length") is None
        # The view is now waiting for the release file: this line can only
        # arrive if the server sent the first chunk on its own.
        assert res.readline() == b"chunk 0\n"
        (server.events / f"release-{token}").touch()
        assert res.read() == b"".join(f"chunk {i}\n".encode() for i in range(1, 5))
    finally:
        conn.close()


def test_client_leaving_mid_stream_closes_the_body(server):
    token = uuid.uuid4().hex
    conn = server.connect(timeout=10)
    conn.request("GET", f"/endless/{token}")
    res = conn.getresponse()
    assert res.status == 200
    assert res.read(5000)
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    # The generator's finally ran in the worker: the server is not left
    # producing an endless body for nobody.
    pids = _wait_for_events(server, f"closed-{token}", 1)
    assert len(pids) == 1, server.output()
    assert server.get("/")[0] == 200  # the worker lives on
    assert "Traceback" not in server.output()  # BAD_INPUTS 58: no traceback storm


def test_lifespan_startup_ran_once_per_worker(server):
    pids = _wait_for_events(server, "start", WORKERS)
    assert len(pids) == WORKERS, server.events_list()
    assert len(set(pids)) == WORKERS
    for _ in range(10):
        status, body = server.get("/worker")
        assert status == 200
        info = json.loads(body)
        assert info["pid"] in pids
        assert info["started_in"] == info["pid"]  # this worker ran its own startup


def test_lifespan_shutdown_runs_once_per_worker_on_sigterm(server):
    # Last test of each server: it stops the server.
    started = _wait_for_events(server, "start", WORKERS)
    server.stop()
    assert server.proc.returncode is not None
    stopped = _pids_with(server.events_list(), "stop")
    if server.name == "hypercorn":
        # hypercorn's supervisor SIGTERMs the remaining workers as soon as the
        # first one has exited, and its workers have no SIGTERM handler then
        # (hypercorn/run.py, asyncio/run.py): only the workers that finish
        # first get to run their shutdown. docs/asgi.md says so.
        assert stopped, server.output()
        assert len(set(stopped)) == len(stopped)
        assert set(stopped) <= set(started)
    else:
        assert stopped == started, server.output()
