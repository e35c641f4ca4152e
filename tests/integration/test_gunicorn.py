"""gunicorn serves an erlen app: keep-alive, streaming, a 100 MB upload."""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import free_port, wait_until_serving

HERE = Path(__file__).parent
MB = 1 << 20


@pytest.fixture(scope="module")
def server():
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--chdir",
            str(HERE),
            "gunicorn_app:app",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    problem = wait_until_serving(proc, port)
    if problem is not None:
        proc.kill()
        out = proc.stdout.read().decode() if proc.stdout else ""
        pytest.fail(f"gunicorn {problem}:\n{out}")
    yield port
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_keep_alive_serves_many_requests_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    try:
        for i in range(20):
            conn.request("GET", f"/json/{i}?q=x")
            res = conn.getresponse()
            assert res.status == 200
            assert res.getheader("Content-Type") == "application/json"
            assert res.read() == f'{{"n":{i},"q":"x"}}\n'.encode()
        sock_before = conn.sock
        conn.request("GET", "/")
        res = conn.getresponse()
        assert res.read() == b"hello"
        assert conn.sock is sock_before  # still the same connection
    finally:
        conn.close()


def test_streaming_response_arrives_in_chunks(server):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    try:
        conn.request("GET", "/stream")
        res = conn.getresponse()
        assert res.status == 200
        first = res.readline()
        assert first == b"chunk 0\n"
        rest = res.read()
        assert rest == b"".join(f"chunk {i}\n".encode() for i in range(1, 5))
    finally:
        conn.close()


def _send_body(port: int, path: str, body_chunks, length: int, ctype: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", ctype)
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        for chunk in body_chunks:
            conn.send(chunk)
        res = conn.getresponse()
        assert res.status == 200, res.read()
        import json

        return json.loads(res.read())
    finally:
        conn.close()


def test_100_mb_upload_with_bounded_server_memory(server):
    block = os.urandom(MB)
    digest = hashlib.sha256()
    for _ in range(100):
        digest.update(block)
    result = _send_body(
        server,
        "/upload",
        (block for _ in range(100)),
        100 * MB,
        "application/octet-stream",
    )
    assert result == {"size": 100 * MB, "sha256": digest.hexdigest()}

    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    conn.request("GET", "/rss")
    hwm_kb = __import__("json").loads(conn.getresponse().read())["hwm_kb"]
    conn.close()
    # The worker's peak memory stays far below the body size.
    assert hwm_kb < 60 * 1024, f"worker peak RSS {hwm_kb} kB"


def test_multipart_upload_spools_to_disk(server):
    boundary = "erlenboundary"
    payload = os.urandom(20 * MB)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file";'
        f' filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    result = _send_body(
        server,
        "/form",
        [head, payload, tail],
        len(head) + len(payload) + len(tail),
        f"multipart/form-data; boundary={boundary}",
    )
    assert result == {
        "name": "big.bin",
        "sha256": hashlib.sha256(payload).hexdigest(),
        "x": "1",
    }
