"""The app the ASGI server integration tests serve (uvicorn, hypercorn, granian).

The lifespan hooks append a line to ``$ERLEN_EVENTS_DIR/events.log`` (one
``write`` per line, with O_APPEND, so lines from several workers never mix);
the streaming views wait for a file in that folder, so a test can prove a
chunk arrived while the view was still running.
"""

import asyncio
import hashlib
import os
import threading
from pathlib import Path

from erlen import Erlen, Response, request

app = Erlen(__name__)
EVENTS = Path(os.environ.get("ERLEN_EVENTS_DIR", "."))


def _event(text: str) -> None:
    fd = os.open(EVENTS / "events.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{text} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


@app.before_serving
async def start():
    app.extensions["started_in"] = os.getpid()
    _event("start")


@app.after_serving
def stop():
    _event("stop")


@app.route("/")
async def index():
    return "hello"


@app.route("/json/<int:n>")
async def as_json(n):
    return {"n": n, "q": request.args.get("q")}


@app.route("/worker")
async def worker():
    return {"pid": os.getpid(), "started_in": app.extensions.get("started_in")}


@app.route("/sync")
def sync_view():
    return threading.current_thread().name


@app.route("/form", methods=["POST"])
def form():
    return request.form.to_dict()


@app.route("/upload", methods=["POST"])
def upload():
    digest = hashlib.sha256()
    total = 0
    while chunk := request.stream.read(1 << 16):
        digest.update(chunk)
        total += len(chunk)
    return {"size": total, "sha256": digest.hexdigest()}


async def _wait_for(name: str) -> None:
    path = EVENTS / name
    for _ in range(600):  # at most a minute
        if path.exists():
            return
        await asyncio.sleep(0.05)


@app.route("/stream/<token>")
async def stream(token):
    async def gen():
        yield "chunk 0\n"
        await _wait_for(f"release-{token}")  # the client has read chunk 0 by now
        for i in range(1, 5):
            yield f"chunk {i}\n"

    return Response(gen(), mimetype="text/plain")


@app.route("/endless/<token>")
def endless(token):
    def gen():
        try:
            while True:
                yield "tick\n" * 100
        finally:
            _event(f"closed-{token}")

    return Response(gen(), mimetype="text/plain")
