#!/usr/bin/env python3
"""Run erlen and its peers through the same scenarios and print who is faster.

Usage::

    python3 bench/run.py [--quick] [--no-e2e] [--only SCENARIO[,SCENARIO...]]

Started with any Python 3.11+, it first makes sure ``bench/.venv`` exists
(``bench/setup.sh``) and re-runs itself with that venv's interpreter. In-process, each
framework runs in its own worker process (``--worker``, used internally); then the end
to end part serves the apps with real servers and loads them with wrk. Results: tables
and targets on stdout, ``results/latest.md``, ``results/latest.png`` and
``results/latest.json`` (not written to the default place while erlen has no number).

Imports ``apps``, ``inproc``, ``e2e``, ``report`` and ``scenarios``.
"""

# bench/ holds profile.py, which would shadow the standard library's `profile`
# module that cProfile imports: import cProfile before bench/ is on sys.path.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
import cProfile  # noqa: E402, F401

sys.path.insert(0, HERE)

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import select  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

VENV = os.path.join(HERE, ".venv")
RESULTS = os.path.join(HERE, "results")


def ensure_venv(argv: list[str]) -> None:
    """Re-run under bench/.venv's Python (creating it first) unless already there."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if os.environ.get("BENCH_NO_VENV"):
        return
    subprocess.run(["sh", os.path.join(HERE, "setup.sh")], check=True)
    python = os.path.join(VENV, "bin", "python")
    os.execv(python, [python, os.path.abspath(__file__), *argv])


# -- in-process: one worker process per framework, repeats interleaved ---------------
def worker(args: argparse.Namespace) -> int:
    """Serve the orchestrator's commands for one framework (``--worker FW PROTO``)."""
    import inproc

    # The protocol owns the real stdout; anything a framework prints goes to stderr.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    settings = inproc.Settings(
        repeat_seconds=args.repeat_seconds,
        repeats=args.repeats,
        profile_requests=args.profile_requests,
        timeout_seconds=max(120.0, 20 * args.repeat_seconds),
    )
    framework, protocol = args.worker
    inproc.serve(framework, protocol, settings, sys.stdin, out)
    return 0


class WorkerProcess:
    """The orchestrator's handle on one ``--worker`` process."""

    def __init__(self, framework: str, protocol: str, args: argparse.Namespace) -> None:
        self.framework, self.protocol, self.args = framework, protocol, args
        self.proc: subprocess.Popen | None = None
        # Lives as long as the handle; closed by run_inproc.
        self.errlog = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.version = ""
        self.start()

    def start(self) -> None:
        cmd = [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            self.framework,
            self.protocol,
            "--repeat-seconds",
            str(self.args.repeat_seconds),
            "--repeats",
            str(self.args.repeats),
            "--profile-requests",
            str(self.args.profile_requests),
        ]
        env = dict(os.environ, BENCH_NO_VENV="1")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errlog,
            text=True,
            bufsize=1,
            env=env,
        )
        hello = self._read(120)
        self.version = hello.get("version", "") if hello else ""

    def _read(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            return None
        return json.loads(line)

    def ask(self, command: dict, timeout: float) -> dict:
        """Send *command*; return the reply, or ``{"dead": why}`` and stop."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(json.dumps(command) + "\n")
            self.proc.stdin.flush()
            reply = self._read(timeout)
        except (BrokenPipeError, OSError, ValueError):
            reply = None
        if reply is None:
            why = (
                "no answer"
                if self.proc.poll() is None
                else f"exited {self.proc.returncode}"
            )
            self.stop()
            self.errlog.seek(0)
            tail = " | ".join(self.errlog.read().strip().splitlines()[-2:])[-240:]
            return {"dead": f"worker {why}: {tail}"}
        return reply

    def stop(self) -> None:
        """Stop our worker, by its pid."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _dead_cell(w: WorkerProcess, scenario: str, why: str) -> dict:
    return {
        "framework": w.framework,
        "protocol": w.protocol,
        "scenario": scenario,
        "state": "error",
        "note": why,
        "us": None,
        "runs_us": [],
        "calls": None,
        "n": 0,
    }


def run_inproc(
    args, protocol: str, frameworks: list[str], names: list[str], meta: dict
):
    """Yield each cell of *protocol*: per scenario, the frameworks' repeats in turn."""
    workers = [WorkerProcess(fw, protocol, args) for fw in frameworks]
    step_timeout = max(180.0, 30 * args.repeat_seconds)
    try:
        for w in workers:
            meta["versions"][w.framework] = w.version
        for name in names:
            active = []
            for w in workers:
                reply = w.ask({"op": "prepare", "scenario": name}, step_timeout)
                if "dead" in reply:
                    yield _dead_cell(w, name, reply["dead"])
                elif "cell" in reply:
                    yield reply["cell"]
                else:
                    active.append(w)
            for r in range(args.repeats):
                # Rotate who goes first so no framework always follows the same one.
                order = (
                    active[r % len(active) :] + active[: r % len(active)]
                    if active
                    else []
                )
                for w in order:
                    if w not in active:
                        continue
                    reply = w.ask({"op": "repeat"}, step_timeout)
                    if "dead" in reply:
                        active.remove(w)
                        yield _dead_cell(w, name, reply["dead"])
                    elif "cell" in reply:
                        active.remove(w)
                        yield reply["cell"]
            for w in active:
                reply = w.ask({"op": "finish"}, step_timeout)
                yield (
                    _dead_cell(w, name, reply["dead"])
                    if "dead" in reply
                    else reply["cell"]
                )
    finally:
        for w in workers:
            w.stop()
            w.errlog.close()


# -- facts about the run ------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def erlen_revision() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = f"erlen {version('erlen')}"
    except PackageNotFoundError:
        text = "erlen (not installed)"
    root = os.path.dirname(HERE)
    try:
        rev = subprocess.run(
            ["git", "-C", root, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "--no-optional-locks",
                "-C",
                root,
                "status",
                "--porcelain",
                "--untracked-files=no",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        if rev:
            text += f", commit {rev}" + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return text


def tool_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("granian", "gunicorn", "uvicorn", "httptools", "uvloop", "jinja2"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


# -- main ---------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="bench/run.py",
        description="Benchmark erlen against its peers, in-process and end to end.",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="about a minute: short repeats, e2e with raw and erlen only",
    )
    ap.add_argument("--no-e2e", action="store_true", help="skip the end-to-end part")
    ap.add_argument("--e2e-only", action="store_true", help="skip the in-process part")
    ap.add_argument(
        "--only",
        type=lambda s: [x for x in s.split(",") if x],
        help="comma-separated scenarios (default: all)",
    )
    ap.add_argument(
        "--frameworks",
        type=lambda s: [x for x in s.split(",") if x],
        help="comma-separated frameworks (default: all)",
    )
    ap.add_argument("--protocol", choices=["wsgi", "asgi", "both"], default="both")
    ap.add_argument("--repeat-seconds", type=float, help="target length of one repeat")
    ap.add_argument(
        "--repeats", type=int, help="repeats per measurement (best is kept)"
    )
    ap.add_argument("--profile-requests", type=int, help="requests run under cProfile")
    ap.add_argument(
        "--e2e-scenarios",
        default="hello",
        help="comma-separated GET scenarios for the e2e part (default: hello)",
    )
    ap.add_argument(
        "--e2e-frameworks",
        type=lambda s: [x for x in s.split(",") if x],
        help="apps to serve end to end (default: all; --quick: raw,erlen)",
    )
    ap.add_argument("--e2e-seconds", type=int, help="length of one wrk run")
    ap.add_argument("--e2e-runs", type=int, help="wrk runs per app (best is kept)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections")
    ap.add_argument(
        "--results-dir",
        help="where latest.md/.png/.json go (default: bench/results, "
        "written only by a full run of every scenario and framework)",
    )
    ap.add_argument("--no-results", action="store_true", help="write no result files")
    ap.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a target fails (targets are never unit tests)",
    )
    ap.add_argument(
        "--worker", nargs=2, metavar=("FRAMEWORK", "PROTOCOL"), help=argparse.SUPPRESS
    )
    args = ap.parse_args(argv)
    quick = args.quick
    defaults = {
        "repeat_seconds": 0.05 if quick else 1.0,
        "repeats": 3 if quick else 5,
        "profile_requests": 100 if quick else 200,
        "e2e_seconds": 2 if quick else 10,
        "e2e_runs": 1 if quick else 2,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    ensure_venv(argv)

    import apps
    import e2e
    import report
    import scenarios

    names = args.only or [s.name for s in scenarios.SCENARIOS]
    for name in names:
        scenarios.get(name)  # fail early on a typo
    protos = ["wsgi", "asgi"] if args.protocol == "both" else [args.protocol]
    wanted = set(args.frameworks or apps.FRAMEWORKS)
    unknown = wanted - set(apps.FRAMEWORKS)
    if unknown:
        sys.exit(f"unknown framework(s): {', '.join(sorted(unknown))}")

    started = time.monotonic()
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_model()}, {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "erlen": erlen_revision(),
        "mode": "quick" if args.quick else "full",
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "versions": tool_versions(),
        "inproc": {
            "repeat_seconds": args.repeat_seconds,
            "repeats": args.repeats,
            "profile_requests": args.profile_requests,
        },
    }
    print(f"erlen benchmark ({meta['mode']}) — {meta['date']}")
    print(
        f"{meta['machine']}; {meta['python']}; {meta['erlen']}; "
        f"load average {meta['loadavg']}"
    )
    if os.nice(0) > 0:
        print(f"warning: running at niceness {os.nice(0)}; numbers will be slower")

    cells: list[dict] = []
    if not args.e2e_only:
        print(
            f"\nin-process: best of {args.repeats} x ~{args.repeat_seconds:g} s, "
            "one worker process per framework"
        )
        for p in protos:
            fws = [fw for fw in apps.frameworks_for(p) if fw in wanted]
            for item in run_inproc(args, p, fws, names, meta):
                cells.append(item)
                if item["state"] == "ok":
                    shown = f"{item['us']:10.2f} µs  {item['calls']:8.1f} calls"
                else:
                    shown = f"{report.MARK.get(item['state'], item['state']):>13}  "
                    shown += item["note"][:90]
                print(
                    f"  {p}  {item['framework']:10} {item['scenario']:9} {shown}",
                    flush=True,
                )
    meta["versions"].pop("raw", None)

    e2e_results: list = []
    if not args.no_e2e:
        e2e_results = run_e2e(args, protos, wanted, meta, cells, e2e, scenarios, apps)

    res = report.Results(cells)
    print(report.text_report(res, e2e_results, meta))

    if not args.no_results:
        write_results(args, res, e2e_results, meta, report)
    print(f"\ndone in {time.monotonic() - started:.0f} s")
    failed = any(v == "FAIL" for v, _, _ in report.targets(res, e2e_results))
    return 1 if args.strict and failed else 0


def run_e2e(args, protos, wanted, meta, cells, e2e, scenarios, apps) -> list:
    names = [x for x in args.e2e_scenarios.split(",") if x]
    for name in names:
        sc = scenarios.get(name)
        if sc.method != "GET" or sc.body or sc.prime_check is not None:
            sys.exit(
                f"e2e scenario {name!r}: only plain GET scenarios can be loaded by wrk"
            )
    wrk, why = e2e.ensure_wrk()
    if wrk is None:
        print(f"\nend to end: SKIPPED — {why}")
        meta["e2e"] = {"skipped": why}
        return []
    server_cpu, load_cpu = e2e.cpus()
    pinning = (
        f"server on CPU {server_cpu}, wrk on CPU {load_cpu} (taskset)"
        if server_cpu is not None
        else "no pinning (needs taskset and 2 CPUs)"
    )
    try:
        wrk_version = (
            subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10)
            .stdout.split("\n", 1)[0]
            .strip()
        )
        meta["versions"]["wrk"] = wrk_version.split()[1] if wrk_version else "?"
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    settings = e2e.Settings(
        seconds=args.e2e_seconds,
        runs=args.e2e_runs,
        warmup_seconds=1 if args.quick else 2,
        connections=args.connections,
    )
    meta["e2e"] = {
        "connections": settings.connections,
        "seconds": settings.seconds,
        "runs": settings.runs,
        "pinning": pinning,
    }
    chosen = args.e2e_frameworks or (["raw", "erlen"] if args.quick else None)
    print(
        f"\nend to end: wrk -c{settings.connections}, {settings.seconds} s x "
        f"{settings.runs}, {pinning}"
    )
    known = {(c["framework"], c["protocol"], c["scenario"]): c for c in cells}
    results = []
    for server, p in e2e.SERVERS:
        if p not in protos:
            continue
        fws = [
            fw
            for fw in apps.frameworks_for(p)
            if fw in wanted and (chosen is None or fw in chosen)
        ]
        for name in names:
            group, skipped = [], {}
            for fw in fws:
                cell = known.get((fw, p, name))
                if cell is not None and cell["state"] != "ok":
                    # Already known not to serve it (not ASGI, wrong answer, ...).
                    r = e2e.E2EResult(server, p, fw, name, state="n/a")
                    r.note = f"in-process {cell['state']}: {cell['note']}"
                    skipped[fw] = r
                else:
                    group.append(fw)
            measured = {
                r.framework: r
                for r in e2e.measure(
                    wrk, server, p, group, scenarios.get(name), settings
                )
            }
            for fw in fws:
                r = measured.get(fw) or skipped[fw]
                results.append(r)
                if r.ok:
                    runs = " / ".join(f"{x:,.0f}" for x in r.rps)
                    shown = f"{r.best_rps:10,.0f} req/s  p99 {r.best_p99_ms:7.2f} ms"
                    shown += f"  (runs {runs})" + (f"  {r.note}" if r.note else "")
                else:
                    shown = f"{r.state:>10}  {r.note[:100]}"
                print(f"  {server:8} {p}  {fw:10} {name:8} {shown}", flush=True)
    return results


def write_results(args, res, e2e_results, meta, report) -> None:
    """Write latest.md/.png/.json; bench/results/ only gets complete runs with erlen."""
    where = args.results_dir or RESULTS
    partial = (
        args.quick
        or args.only
        or args.frameworks
        or args.protocol != "both"
        or args.e2e_only
        or args.no_e2e
    )
    if args.results_dir is None and partial:
        print(
            "\nresults: not written (a --quick or partial run); "
            "pass --results-dir DIR to keep them"
        )
        return
    if (
        os.path.realpath(where) == os.path.realpath(RESULTS)
        and not res.erlen_measured()
    ):
        print(
            "\nresults: erlen has no in-process number in this run, so "
            "bench/results/latest.* were left as they are"
        )
        return
    os.makedirs(where, exist_ok=True)
    md = os.path.join(where, "latest.md")
    png = os.path.join(where, "latest.png")
    data = os.path.join(where, "latest.json")
    with open(md, "w") as f:
        f.write(report.markdown_report(res, e2e_results, meta))
    with open(data, "w") as f:
        json.dump(
            {
                "meta": meta,
                "inproc": res.cells,
                "e2e": [dataclasses.asdict(r) for r in e2e_results],
            },
            f,
            indent=1,
        )
    try:
        report.chart(res, e2e_results, meta, png)
    except Exception as exc:  # the tables matter more than the picture
        print(f"chart not drawn: {type(exc).__name__}: {exc}")
    print(f"\nresults: {md}, {png}, {data}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
