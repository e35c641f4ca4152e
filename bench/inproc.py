"""Call WSGI and ASGI apps in-process: check a response, time requests, count calls.

One WSGI driver and one ASGI driver serve every framework alike, so the harness's own
cost is the same in every column (the ``raw`` column shows it). A measurement builds the
app, runs the ASGI lifespan startup when the app speaks it, checks the scenario's
response, warms up while calibrating the loop size, then keeps the best of several
repeats; a separate cProfile pass counts function calls per request.

Each framework is measured in its own process (``run.py --worker``): frameworks set
process-wide state at import or build time (Litestar configures the root logger,
BlackSheep's HTML settings are global) that must not leak into the next one.

Imports ``scenarios`` and ``apps``. Whoever runs this as part of a script must import
``cProfile`` before ``bench/`` is on ``sys.path``: ``bench/profile.py`` would otherwise
shadow the standard library's ``profile`` module that ``cProfile`` imports.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import inspect
import json
import pstats
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from io import BytesIO
from typing import Any

import apps
from scenarios import Response, Scenario
from scenarios import get as get_scenario

perf_counter_ns = time.perf_counter_ns

HOST = "127.0.0.1"
PORT = 8000
_BASE_HEADERS = (("user-agent", "erlen-bench/1"), ("accept", "*/*"))


class NotASGI(Exception):
    """The app could not be called as ``await app(scope, receive, send)``."""


@dataclass
class Settings:
    """How long and how often to time each measurement."""

    repeat_seconds: float = 1.0
    repeats: int = 5
    profile_requests: int = 200
    timeout_seconds: float = 120.0


@dataclass
class Cell:
    """The outcome of one framework on one scenario under one protocol."""

    framework: str
    protocol: str
    scenario: str
    state: str = "ok"  # ok | n/a | error | invalid
    note: str = ""
    us: float | None = None  # best µs per request
    runs_us: list[float] = field(default_factory=list)
    calls: float | None = None  # cProfile total_calls per request
    n: int = 0

    @property
    def ok(self) -> bool:
        return self.state == "ok" and self.us is not None


def brief(exc: BaseException) -> str:
    """Return ``Type: first line of message`` for a short table note."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:120]}" if text else type(exc).__name__


# -- WSGI ----------------------------------------------------------------------
def wsgi_environ(sc: Scenario, cookie: str = "") -> dict[str, Any]:
    """Build the environ a server would pass for *sc* (``wsgi.input`` set per call)."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": sc.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": sc.path,
        "QUERY_STRING": sc.query,
        "SERVER_NAME": HOST,
        "SERVER_PORT": str(PORT),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": HOST,
        "REMOTE_PORT": "50000",
        "HTTP_HOST": f"{HOST}:{PORT}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in (*_BASE_HEADERS, *sc.headers):
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        env[key] = value
    if sc.body:
        env["CONTENT_LENGTH"] = str(len(sc.body))
    if cookie:
        env["HTTP_COOKIE"] = cookie
    return env


def _start_response_noop(status, headers, exc_info=None):
    return _write_noop


def _write_noop(data):
    pass


class WSGITarget:
    """A WSGI app ready to be called with one scenario's request."""

    def __init__(self, app: Callable, sc: Scenario) -> None:
        self.app = app
        self.sc = sc
        self.env = wsgi_environ(sc)

    def set_cookie(self, cookie: str) -> None:
        self.env = wsgi_environ(self.sc, cookie)

    def call(self) -> Response:
        """Send one request and collect the whole response."""
        got: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status, headers, exc_info=None):
            got["status"] = status
            got["headers"] = headers
            return chunks.append

        env = dict(self.env)
        env["wsgi.input"] = BytesIO(self.sc.body)
        it = self.app(env, start_response)
        try:
            for chunk in it:
                chunks.append(chunk)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
        if "status" not in got:
            raise RuntimeError("the app never called start_response")
        return Response(
            int(got["status"].split(" ", 1)[0]),
            [(k.lower(), v) for k, v in got["headers"]],
            b"".join(chunks),
        )

    def run(self, n: int) -> int:
        """Send *n* requests; return the nanoseconds they took."""
        app, base, body = self.app, self.env, self.sc.body
        copy, bio, sr = base.copy, BytesIO, _start_response_noop
        t0 = perf_counter_ns()
        for _ in range(n):
            env = copy()
            env["wsgi.input"] = bio(body)
            it = app(env, sr)
            try:
                for _chunk in it:
                    pass
            finally:
                close = getattr(it, "close", None)
                if close is not None:
                    close()
        return perf_counter_ns() - t0

    def count_calls(self, n: int) -> float:
        """Return cProfile's total_calls per request over *n* requests.

        Counts the app call, everything under it and ``start_response``; environs are
        built before profiling starts, and ``close`` is found without a builtin call.
        """
        return (pstats.Stats(self.profile(n)).total_calls - 1) / n  # minus disable()

    def profile(self, n: int) -> cProfile.Profile:
        """Send *n* requests under cProfile and return the profiler."""
        envs = []
        for _ in range(n):
            env = self.env.copy()
            env["wsgi.input"] = BytesIO(self.sc.body)
            envs.append(env)
        app, sr = self.app, _start_response_noop
        prof = cProfile.Profile()
        prof.enable()
        for env in envs:
            it = app(env, sr)
            for _chunk in it:
                pass
            try:
                close = it.close
            except AttributeError:
                continue
            close()
        prof.disable()
        return prof

    def close(self) -> None:
        pass


# -- ASGI ----------------------------------------------------------------------
def asgi_scope(sc: Scenario, cookie: str = "") -> dict[str, Any]:
    """Build the HTTP scope a server would pass for *sc* (``state`` set per call)."""
    headers = [(b"host", f"{HOST}:{PORT}".encode())]
    headers += [(k.encode(), v.encode("latin-1")) for k, v in _BASE_HEADERS]
    headers += [(k.encode(), v.encode("latin-1")) for k, v in sc.headers]
    if sc.body:
        headers.append((b"content-length", str(len(sc.body)).encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": sc.method,
        "scheme": "http",
        "path": sc.path,
        "raw_path": sc.path.encode(),
        "query_string": sc.query.encode(),
        "root_path": "",
        "headers": headers,
        "client": (HOST, 50000),
        "server": (HOST, PORT),
    }


class Channel:
    """One request's ``receive`` and ``send``: the body once, then disconnect.

    After the body, ``receive`` waits until the response is complete before it
    reports ``http.disconnect``, as a server does for a client that waits for its
    answer (Quart watches ``receive`` while the view runs and would abort otherwise).
    """

    __slots__ = ("body", "done", "messages", "pending", "waiter")

    def __init__(self, body: bytes, collect: bool = False) -> None:
        self.body = body
        self.pending = True
        self.done = False
        self.waiter: asyncio.Future | None = None
        self.messages: list | None = [] if collect else None

    async def receive(self) -> dict:
        if self.pending:
            self.pending = False
            return {"type": "http.request", "body": self.body, "more_body": False}
        if not self.done:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        if self.messages is not None:
            self.messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.done = True
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)


class Lifespan:
    """Run an app's lifespan protocol: startup now, shutdown on :meth:`stop`."""

    def __init__(self, app: Callable, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.state: dict[str, Any] = {}
        self.supported = False
        self.task: asyncio.Task | None = None
        self._stop: asyncio.Event | None = None
        self.note = ""

    async def _start(self) -> None:
        self._stop = asyncio.Event()
        started = self.loop.create_future()
        sent = False

        async def receive():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "lifespan.startup"}
            await self._stop.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message):
            kind = message["type"]
            if kind == "lifespan.startup.complete" and not started.done():
                started.set_result(None)
            elif kind == "lifespan.startup.failed" and not started.done():
                started.set_exception(
                    RuntimeError(f"lifespan startup failed: {message.get('message')}")
                )

        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "state": self.state,
        }
        try:
            coro = self.app(scope, receive, send)
        except TypeError as exc:
            raise NotASGI(brief(exc)) from exc
        if not inspect.isawaitable(coro):
            raise NotASGI(f"app(scope, receive, send) returned {type(coro).__name__}")
        self.task = asyncio.ensure_future(coro)
        done, _ = await asyncio.wait(
            [self.task, started], timeout=30, return_when=asyncio.FIRST_COMPLETED
        )
        if started in done:
            started.result()  # raises if startup failed
            self.supported = True
        elif self.task in done:
            # The app returned or raised on a lifespan scope: it does not speak
            # lifespan, which the spec allows; serve requests without it.
            exc = self.task.exception()
            self.note = f"no lifespan ({brief(exc)})" if exc else ""
            self.task = None
        else:
            raise TimeoutError("lifespan startup did not complete in 30 s")

    def start(self) -> None:
        self.loop.run_until_complete(self._start())

    def stop(self) -> None:
        if self.task is None or self._stop is None:
            return
        self._stop.set()
        try:
            self.loop.run_until_complete(asyncio.wait_for(self.task, 10))
        except Exception:
            pass


class ASGITarget:
    """An ASGI app ready to be called with one scenario's request, on its own loop."""

    def __init__(self, app: Callable, sc: Scenario) -> None:
        self.app = app
        self.sc = sc
        self.scope = asgi_scope(sc)
        self.loop = asyncio.new_event_loop()
        self.lifespan = Lifespan(app, self.loop)
        try:
            self.lifespan.start()
        except BaseException:
            self.loop.close()
            raise

    def set_cookie(self, cookie: str) -> None:
        self.scope = asgi_scope(self.sc, cookie)

    def _new_scope(self) -> dict:
        scope = self.scope.copy()
        scope["state"] = self.lifespan.state.copy()
        return scope

    async def _call(self) -> Response:
        ch = Channel(self.sc.body, collect=True)
        try:
            coro = self.app(self._new_scope(), ch.receive, ch.send)
        except TypeError as exc:
            raise NotASGI(brief(exc)) from exc
        if not inspect.isawaitable(coro):
            raise NotASGI(f"app(scope, receive, send) returned {type(coro).__name__}")
        await asyncio.wait_for(coro, 30)
        status, headers, body = None, [], []
        for m in ch.messages or ():
            if m["type"] == "http.response.start":
                status = m["status"]
                headers = [
                    (bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1"))
                    for k, v in m.get("headers", ())
                ]
            elif m["type"] == "http.response.body":
                body.append(bytes(m.get("body", b"")))
        if status is None:
            raise RuntimeError("the app sent no http.response.start")
        if not ch.done:
            raise RuntimeError("the app returned before finishing the response body")
        return Response(int(status), headers, b"".join(body))

    def call(self) -> Response:
        """Send one request and collect the whole response."""
        return self.loop.run_until_complete(self._call())

    async def _run(self, n: int) -> int:
        app, base, body = self.app, self.scope, self.sc.body
        state = self.lifespan.state
        t0 = perf_counter_ns()
        for _ in range(n):
            scope = base.copy()
            scope["state"] = state.copy()
            ch = Channel(body)
            await app(scope, ch.receive, ch.send)
        return perf_counter_ns() - t0

    def run(self, n: int) -> int:
        """Send *n* requests; return the nanoseconds they took."""
        return self.loop.run_until_complete(self._run(n))

    async def _profile(self, n: int) -> cProfile.Profile:
        items = [(self._new_scope(), Channel(self.sc.body)) for _ in range(n)]
        app = self.app
        prof = cProfile.Profile()
        prof.enable()
        for scope, ch in items:
            await app(scope, ch.receive, ch.send)
        prof.disable()
        return prof

    def profile(self, n: int) -> cProfile.Profile:
        """Send *n* requests under cProfile and return the profiler."""
        return self.loop.run_until_complete(self._profile(n))

    def count_calls(self, n: int) -> float:
        """Return cProfile's total_calls per request over *n* requests.

        Counts the app call, everything under it (tasks the framework starts
        included) and the harness's ``receive``/``send``.
        """
        return (pstats.Stats(self.profile(n)).total_calls - 1) / n  # minus disable()

    def close(self) -> None:
        try:
            self.lifespan.stop()
            # Let cancelled tasks the framework left behind finish.
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                self.loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True)
                )
        finally:
            self.loop.close()


# -- building, checking, timing ------------------------------------------------
def make_target(framework: str, protocol: str, sc: Scenario):
    """Build *framework*'s app for *sc* and wrap it for *protocol* (may raise)."""
    module = apps.load(framework)
    app = module.build(sc.name, protocol)
    return (WSGITarget if protocol == "wsgi" else ASGITarget)(app, sc)


def check(target, sc: Scenario) -> str | None:
    """Send *sc*'s request (priming the session first); return a problem or None."""
    if sc.prime_check is not None:
        r = target.call()
        if r.status != sc.status:
            return f"first request: status {r.status}, expected {sc.status}"
        err = sc.prime_check(r)
        if err:
            return f"first request: {err}"
        target.set_cookie(r.cookies())
    for _ in range(2):  # twice: a per-request cache must not change the answer
        r = target.call()
        if r.status != sc.status:
            return f"status {r.status}, expected {sc.status}; body {r.body[:60]!r}"
        err = sc.check(r)
        if err:
            return err
    return None


def calibrate(target, repeat_seconds: float) -> int:
    """Return how many requests make one repeat last *repeat_seconds* (warms up too)."""
    n = 1
    floor = 50_000_000 * min(1.0, repeat_seconds)  # at least this long to trust
    while True:
        ns = target.run(n)
        if ns >= floor or n >= 1 << 24:
            break
        n = max(n * 2, int(n * 1.2 * floor / max(ns, 1)))
    return max(1, int(repeat_seconds * 1e9 * n / max(ns, 1)))


class _Timeout(KeyboardInterrupt):
    """Raised by the alarm; a KeyboardInterrupt so that asyncio lets it through."""


def _alarm(signum, frame):
    raise _Timeout()


class Session:
    """One framework under one protocol, measured one scenario at a time.

    The orchestrator (``run.py``) drives one Session per framework, each in its own
    process, and interleaves their repeats so that a burst of noise from the rest of
    the machine lands on every framework alike rather than on whichever ran then.
    Every step returns plain data and never raises.
    """

    def __init__(self, framework: str, protocol: str, settings: Settings) -> None:
        self.framework = framework
        self.protocol = protocol
        self.settings = settings
        self.target = None
        self.cell: Cell | None = None
        self.module = None
        self.import_error = ""
        try:
            self.module = apps.load(framework)
        except Exception as exc:
            self.import_error = f"import failed: {brief(exc)}"

    def version(self) -> str:
        if self.module is None:
            return f"unavailable ({self.import_error})"
        try:
            return self.module.version()
        except Exception as exc:
            return f"unknown ({brief(exc)})"

    def _guarded(self, step, *args):
        """Run *step* under the alarm; turn any failure into the cell's state."""
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, self.settings.timeout_seconds)
        try:
            return step(*args)
        except NotASGI as exc:
            self._fail("n/a", f"not ASGI ({exc})")
        except (apps.Unsupported, NotImplementedError) as exc:
            self._fail("n/a", str(exc) or type(exc).__name__)
        except ImportError as exc:  # the framework lacks a name the scenario needs
            self._fail("n/a", brief(exc))
        except _Timeout:
            self._fail("error", f"timed out after {self.settings.timeout_seconds:g} s")
        except Exception as exc:
            self._fail("error", brief(exc))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        return None

    def _fail(self, state: str, note: str) -> None:
        if self.cell is not None:
            self.cell.state, self.cell.note = state, note
            self.cell.us = None
        self._close()

    def _close(self) -> None:
        if self.target is not None:
            try:
                self.target.close()
            except Exception:
                pass
            self.target = None
        gc.unfreeze()
        gc.collect()

    def prepare(self, scenario: str) -> dict:
        """Build, check and calibrate; return ``{"n": N}`` or ``{"cell": ...}``."""
        self._close()
        sc = get_scenario(scenario)
        self.cell = Cell(self.framework, self.protocol, scenario)
        if self.module is None:
            self.cell.state, self.cell.note = "n/a", self.import_error
            return {"cell": asdict(self.cell)}

        def step():
            app = self.module.build(sc.name, self.protocol)
            self.target = (WSGITarget if self.protocol == "wsgi" else ASGITarget)(
                app, sc
            )
            problem = check(self.target, sc)
            if problem:
                self._fail("invalid", problem)
                return
            gc.collect()
            gc.freeze()  # long-lived objects out of the collector's way, for everyone
            self.cell.n = calibrate(self.target, self.settings.repeat_seconds)

        self._guarded(step)
        if self.cell.state != "ok":
            return {"cell": asdict(self.cell)}
        return {"n": self.cell.n}

    def repeat(self) -> dict:
        """Time one repeat; return ``{"us": µs per request}`` or ``{"cell": ...}``."""

        def step():
            gc.collect()
            return self.target.run(self.cell.n) / self.cell.n / 1000

        us = self._guarded(step) if self.target is not None else None
        if us is None:
            return {"cell": asdict(self.cell)}
        self.cell.runs_us.append(us)
        return {"us": us}

    def finish(self) -> dict:
        """Count calls per request, close the app; return ``{"cell": ...}``."""
        if self.target is not None and self.cell.state == "ok":
            calls = self._guarded(
                self.target.count_calls, self.settings.profile_requests
            )
            if self.cell.state == "ok":
                self.cell.calls = calls
                self.cell.us = min(self.cell.runs_us) if self.cell.runs_us else None
        self._close()
        return {"cell": asdict(self.cell)}


def serve(framework: str, protocol: str, settings: Settings, inp, out) -> None:
    """Answer the orchestrator's JSON-line commands on *inp* with JSON lines on *out*.

    Commands: ``{"op": "prepare", "scenario": NAME}``, ``{"op": "repeat"}``,
    ``{"op": "finish"}``, ``{"op": "quit"}``. The first line out is the version.
    """
    session = Session(framework, protocol, settings)
    out.write(json.dumps({"version": session.version()}) + "\n")
    out.flush()
    for line in inp:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "prepare":
            reply = session.prepare(cmd["scenario"])
        elif op == "repeat":
            reply = session.repeat()
        elif op == "finish":
            reply = session.finish()
        elif op == "quit":
            break
        else:
            reply = {"error": f"unknown op {op!r}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
