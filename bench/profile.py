#!/usr/bin/env python3
"""Profile one framework (erlen by default) on one scenario to find its hot spots.

Usage::

    python3 bench/profile.py SCENARIO [--protocol wsgi|asgi] [--framework erlen]
                             [--requests N] [--top N] [--seconds S] [--html FILE]

Checks the response first, warms up, then prints (1) cProfile: calls per request and the
functions with the most own time and the most calls, and (2) a pyinstrument call tree
of a timed loop. Runs under bench/.venv (created by bench/setup.sh when missing).

Imports ``inproc`` and ``scenarios``.
"""

# This file's name shadows the standard library's `profile` module, which cProfile
# imports: take bench/ off sys.path until cProfile (and the real `profile`) are loaded.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
import cProfile  # noqa: E402, F401
import pstats  # noqa: E402

sys.path.insert(0, HERE)

import argparse  # noqa: E402
import io  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

VENV = os.path.join(HERE, ".venv")


def ensure_venv(argv: list[str]) -> None:
    """Re-run under bench/.venv's Python (creating it first) unless already there."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV) or os.environ.get(
        "BENCH_NO_VENV"
    ):
        return
    subprocess.run(["sh", os.path.join(HERE, "setup.sh")], check=True)
    python = os.path.join(VENV, "bin", "python")
    os.execv(python, [python, os.path.abspath(__file__), *argv])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="bench/profile.py", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "scenario",
        help="hello, json, query, form, upload, template, "
        "session, notfound, hooks or routes",
    )
    ap.add_argument("--protocol", choices=["wsgi", "asgi"], default="wsgi")
    ap.add_argument("--framework", default="erlen", help="default: erlen")
    ap.add_argument(
        "--requests",
        type=int,
        default=10000,
        help="requests run under cProfile (default 10000)",
    )
    ap.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="length of the pyinstrument run (default 2 s)",
    )
    ap.add_argument("--top", type=int, default=25, help="rows per cProfile listing")
    ap.add_argument("--html", help="also write pyinstrument's HTML report here")
    ap.add_argument("--no-pyinstrument", action="store_true")
    args = ap.parse_args(argv)
    ensure_venv(argv)

    import inproc
    import scenarios

    sc = scenarios.get(args.scenario)
    try:
        target = inproc.make_target(args.framework, args.protocol, sc)
    except Exception as exc:
        print(f"cannot build {args.framework}'s {sc.name} app: {inproc.brief(exc)}")
        return 2
    try:
        problem = inproc.check(target, sc)
        if problem:
            print(f"{args.framework} answers {sc.name} wrongly: {problem}")
            return 1
        # Warm up: fill caches, compile templates, settle the allocator.
        deadline = time.perf_counter() + 0.5
        while time.perf_counter() < deadline:
            target.run(100)

        prof = target.profile(args.requests)
        stats = pstats.Stats(prof)
        print(
            f"{args.framework} {args.protocol} {sc.name}: "
            f"{(stats.total_calls - 1) / args.requests:.1f} calls per request "
            f"(cProfile total_calls over {args.requests} requests; includes the "
            "harness's start_response or receive/send)"
        )
        for order, title in (("tottime", "own time"), ("ncalls", "number of calls")):
            out = io.StringIO()
            pstats.Stats(prof, stream=out).strip_dirs().sort_stats(order).print_stats(
                args.top
            )
            text = out.getvalue()
            body = text[text.find("   ncalls") :] if "   ncalls" in text else text
            print(f"\n== cProfile, by {title} (top {args.top}) ==\n{body.rstrip()}")

        if not args.no_pyinstrument:
            from pyinstrument import Profiler

            per = target.run(200) / 200
            n = max(1, int(args.seconds * 1e9 / max(per, 1)))
            profiler = Profiler(interval=0.0001)
            profiler.start()
            ns = target.run(n)
            profiler.stop()
            print(
                f"\n== pyinstrument, {n} requests, {ns / n / 1000:.2f} µs each "
                "(sampling adds overhead) =="
            )
            print(profiler.output_text(unicode=True, color=False, show_all=False))
            if args.html:
                with open(args.html, "w") as f:
                    f.write(profiler.output_html())
                print(f"HTML report: {args.html}")
    finally:
        target.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
