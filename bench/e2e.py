"""Serve each app with a real server on 127.0.0.1 and load it with wrk.

Servers: granian (``--interface wsgi --blocking-threads 1``) and gunicorn
(``-k gthread --threads 1``) for WSGI; uvicorn (httptools) and granian
(``--interface asgi``) for ASGI. One worker process, pinned to one core with taskset;
wrk runs on the other core with a fixed number of connections. Each server listens on
an ephemeral port, is checked with the scenario's request before wrk starts, and is
stopped by its process id (its own process group) afterwards.

wrk comes from Debian's packages: :func:`ensure_wrk` installs it when it is missing
and the harness runs as root, or explains why the end-to-end part is skipped.

Imports ``scenarios``; servers import ``e2e_app`` (which builds the app from ``apps``).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from scenarios import Response, Scenario

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"

# (server, protocol) in table order
SERVERS = [
    ("granian", "wsgi"),
    ("gunicorn", "wsgi"),
    ("uvicorn", "asgi"),
    ("granian", "asgi"),
]


@dataclass
class Settings:
    """How long and how hard wrk loads each server."""

    seconds: int = 10
    runs: int = 2
    warmup_seconds: int = 2
    connections: int = 32
    start_timeout: float = 30.0


@dataclass
class E2EResult:
    """wrk's numbers for one app on one server."""

    server: str
    protocol: str
    framework: str
    scenario: str
    state: str = "ok"  # ok | n/a | error | invalid
    note: str = ""
    rps: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "ok" and bool(self.rps)

    @property
    def best(self) -> int:
        """Index of the run with the most requests per second."""
        return max(range(len(self.rps)), key=self.rps.__getitem__)

    @property
    def best_rps(self) -> float | None:
        return self.rps[self.best] if self.ok else None

    @property
    def best_p99_ms(self) -> float | None:
        return self.p99_ms[self.best] if self.ok else None


# -- wrk -------------------------------------------------------------------------
def ensure_wrk() -> tuple[str | None, str]:
    """Return (path to wrk, "") or (None, why the end-to-end part must be skipped)."""
    path = shutil.which("wrk")
    if path:
        return path, ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, (
            "wrk is not installed and this user cannot install it: "
            "run `apt-get install -y wrk` as root (Debian package wrk)"
        )
    print("e2e: wrk missing; installing Debian's wrk (apt-get update, apt-get install)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "wrk"],
    ):
        try:
            r = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=600
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"`{' '.join(cmd)}` failed: {exc}"
        if r.returncode != 0:
            tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["?"]
            return None, f"`{' '.join(cmd)}` exited {r.returncode}: {tail[0]}"
    path = shutil.which("wrk")
    return (
        (path, "")
        if path
        else (None, "apt-get reported success but wrk is not on PATH")
    )


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> tuple[float, float, str]:
    """Return (requests/s, p99 in ms, warning) from wrk's ``--latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    if not rps or not p99:
        raise ValueError(
            "unexpected wrk output: " + " | ".join(out.strip().splitlines()[-3:])
        )
    warn = []
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad:
        warn.append(f"{bad.group(1)} non-2xx/3xx responses")
    errs = re.search(r"Socket errors:(.*)", out)
    if errs:
        warn.append("socket errors:" + errs.group(1))
    return float(rps.group(1)), _ms(p99.group(1)), "; ".join(warn)


# -- servers ---------------------------------------------------------------------
def cpus() -> tuple[str | None, str | None]:
    """Return (server core, load-generator core), or Nones when pinning can't be."""
    try:
        mine = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if len(mine) < 2 or not shutil.which("taskset"):
        return None, None
    return str(mine[0]), str(mine[1])


def free_port() -> int:
    """Return a port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def server_command(server: str, protocol: str, port: int) -> list[str]:
    """Return the command line that serves ``e2e_app:app`` with one worker."""
    bindir = os.path.dirname(sys.executable)
    if server == "granian":
        cmd = [os.path.join(bindir, "granian"), "--interface", protocol]
        cmd += ["--workers", "1", "--runtime-threads", "1", "--no-ws"]
        if protocol == "wsgi":
            cmd += ["--blocking-threads", "1"]
        cmd += ["--host", HOST, "--port", str(port), "--log-level", "warning"]
    elif server == "gunicorn":
        cmd = [os.path.join(bindir, "gunicorn"), "-k", "gthread", "--threads", "1"]
        cmd += ["-w", "1", "-b", f"{HOST}:{port}", "--log-level", "warning"]
    elif server == "uvicorn":
        cmd = [os.path.join(bindir, "uvicorn"), "--http", "httptools"]
        cmd += ["--host", HOST, "--port", str(port), "--workers", "1"]
        cmd += ["--log-level", "warning", "--no-access-log"]
    else:
        raise ValueError(f"unknown server {server!r}")
    return [*cmd, "e2e_app:app"]


def http_request(port: int, sc: Scenario, timeout: float = 5.0) -> Response:
    """Send *sc*'s request to the server and return its response."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        target = sc.path + ("?" + sc.query if sc.query else "")
        conn.request(sc.method, target, body=sc.body or None, headers=dict(sc.headers))
        r = conn.getresponse()
        return Response(r.status, [(k.lower(), v) for k, v in r.getheaders()], r.read())
    finally:
        conn.close()


class Server:
    """One server process serving one framework's app for one scenario."""

    def __init__(
        self, server: str, protocol: str, framework: str, sc: Scenario, cpu: str | None
    ) -> None:
        self.port = free_port()
        cmd = server_command(server, protocol, self.port)
        if cpu is not None:
            cmd = ["taskset", "-c", cpu, *cmd]
        env = dict(os.environ)
        env.update(
            BENCH_FRAMEWORK=framework,
            BENCH_SCENARIO=sc.name,
            BENCH_PROTOCOL=protocol,
            PYTHONPATH=HERE + os.pathsep + env.get("PYTHONPATH", ""),
            PYTHONDONTWRITEBYTECODE="1",
        )
        # Lives as long as the server; closed in stop().
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=HERE,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def log_tail(self, lines: int = 3) -> str:
        self.log.seek(0)
        text = [ln for ln in self.log.read().splitlines() if ln.strip()]
        return " | ".join(text[-lines:])[-400:]

    def unavailable(self) -> str:
        """Return the app's "cannot build" message from the log, or ""."""
        self.log.seek(0)
        for line in self.log.read().splitlines():
            if line.startswith("bench-app-unavailable: "):
                return line.split(": ", 1)[1][:200]
        return ""

    def wait_ready(self, sc: Scenario, timeout: float) -> Response:
        """Wait until the server answers, and return its answer to *sc*'s request."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                return http_request(self.port, sc)
            except (ConnectionError, OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"no answer in {timeout:g} s: {self.log_tail()}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (and its workers, in its process group) by its pid."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self.log.close()


def run_wrk(
    wrk: str, port: int, sc: Scenario, seconds: int, connections: int, cpu: str | None
) -> tuple[float, float, str]:
    url = f"http://{HOST}:{port}{sc.path}" + ("?" + sc.query if sc.query else "")
    cmd = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
        url,
    ]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    if r.returncode != 0:
        raise RuntimeError(f"wrk exited {r.returncode}: {r.stderr.strip()[-200:]}")
    return parse_wrk(r.stdout)


def _failed(res: E2EResult, exc: Exception, srv: Server | None) -> None:
    text = str(exc).strip().splitlines()
    res.state = "error"
    res.note = f"{type(exc).__name__}: {text[0][:300] if text else ''}"
    marker = srv.unavailable() if srv is not None else ""
    if marker:
        res.state, res.note = "n/a", marker


def measure(
    wrk: str,
    server: str,
    protocol: str,
    frameworks: list[str],
    sc: Scenario,
    settings: Settings,
) -> list[E2EResult]:
    """Serve each framework's app for *sc* on *server* and load them; never raises.

    All the apps are started (each its own server, pinned to the same core) and
    checked first; then wrk loads them in turns, run 1 of every app before run 2, so
    that a burst of load from elsewhere on the machine affects them alike.
    """
    server_cpu, load_cpu = cpus()
    results = {fw: E2EResult(server, protocol, fw, sc.name) for fw in frameworks}
    servers: dict[str, Server] = {}
    try:
        for fw in frameworks:
            try:
                servers[fw] = Server(server, protocol, fw, sc, server_cpu)
            except Exception as exc:
                _failed(results[fw], exc, None)
        ready = []
        for fw, srv in servers.items():
            res = results[fw]
            try:
                r = srv.wait_ready(sc, settings.start_timeout)
            except Exception as exc:
                _failed(res, exc, srv)
                continue
            if r.status != sc.status:
                res.state, res.note = (
                    "invalid",
                    f"status {r.status}, expected {sc.status}",
                )
            elif sc.check(r):
                res.state, res.note = "invalid", sc.check(r)
            else:
                ready.append(fw)
        for fw in list(ready):
            if settings.warmup_seconds:
                try:
                    run_wrk(
                        wrk,
                        servers[fw].port,
                        sc,
                        settings.warmup_seconds,
                        settings.connections,
                        load_cpu,
                    )
                except Exception as exc:
                    _failed(results[fw], exc, servers[fw])
                    ready.remove(fw)
        for run in range(settings.runs):
            k = run % len(ready) if ready else 0
            for fw in ready[k:] + ready[:k]:
                res = results[fw]
                if res.state != "ok":
                    continue
                try:
                    rps, p99, warn = run_wrk(
                        wrk,
                        servers[fw].port,
                        sc,
                        settings.seconds,
                        settings.connections,
                        load_cpu,
                    )
                except Exception as exc:
                    _failed(res, exc, servers[fw])
                    continue
                res.rps.append(rps)
                res.p99_ms.append(p99)
                if warn:
                    res.note = warn
        for fw in ready:
            if servers[fw].proc.poll() is not None and results[fw].state == "ok":
                results[fw].state = "error"
                results[fw].note = f"server died under load: {servers[fw].log_tail()}"
    finally:
        for srv in servers.values():
            srv.stop()
    return [results[fw] for fw in frameworks]
