"""The app the dev-server tests serve: HTTP, slow views, a WebSocket, lifespan."""

import asyncio
import threading
import time

from erlen import Erlen, websocket

app = Erlen(__name__)
started = []


@app.before_serving
def mark_started():
    started.append(True)


@app.route("/")
def index():
    return "hello"


@app.route("/slow")
def slow():
    time.sleep(1.0)
    return threading.current_thread().name


@app.route("/aslow")
async def aslow():
    await asyncio.sleep(1.0)
    return "done"


@app.route("/state")
def state():
    return {
        "started": bool(started),
        "debug": app.debug,
        "threads": app.config["ASGI_THREADS"],
    }


@app.websocket("/ws")
async def shout():
    await websocket.accept()
    while True:
        message = await websocket.receive_text()
        await websocket.send_text(message.upper())
