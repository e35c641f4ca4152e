"""An ``async def`` view served over WSGI: erlen against Flask 3.1, in one run.

Flask runs each async view through asgiref (a new event loop per call);
erlen runs it on one persistent loop per worker thread. The issue's target:
erlen's cost at most 1/10 of Flask's. Run with bench/.venv's Python:
``bench/.venv/bin/python bench/async_wsgi.py``. Prints µs per request and the
ratio; a timing target, never a unit-test assertion.
"""

from __future__ import annotations

import asyncio
import io
import time


def make_erlen():
    from erlen import Erlen

    app = Erlen("async_erlen", static_folder=None)

    @app.route("/")
    async def index():
        await asyncio.sleep(0)
        return "Hello, World!"

    return app


def make_flask():
    from flask import Flask

    app = Flask("async_flask", static_folder=None)

    @app.route("/")
    async def index():
        await asyncio.sleep(0)
        return "Hello, World!"

    return app


def environ():
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def start_response(status, headers, exc_info=None):
    return None


def measure(app, seconds: float = 1.0, repeats: int = 5) -> float:
    def once():
        body = app(environ(), start_response)
        out = b"".join(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()
        return out

    if once() != b"Hello, World!":
        raise SystemExit(f"{app!r} answered wrongly")
    n = 1
    while True:  # calibrate
        t = time.perf_counter()
        for _ in range(n):
            once()
        if time.perf_counter() - t > seconds / 5:
            break
        n *= 2
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            once()
        best = min(best, (time.perf_counter() - t) / n)
    return best * 1e6


def main() -> None:
    erlen_us = measure(make_erlen())
    flask_us = measure(make_flask())
    ratio = erlen_us / flask_us
    verdict = "PASS" if ratio <= 0.1 else "FAIL"
    print(f"async view under WSGI: erlen {erlen_us:.2f} µs, flask {flask_us:.2f} µs")
    print(f"  {verdict}  erlen ≤ 1/10 of Flask: ratio {ratio:.3f} (1/{1 / ratio:.0f})")


if __name__ == "__main__":
    main()
