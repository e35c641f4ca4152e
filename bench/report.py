"""Turn measurements into the stdout tables, the targets, ``latest.md`` and the chart.

Inputs are plain data: in-process cells (dicts with the fields of ``inproc.Cell``),
end-to-end results (``e2e.E2EResult``) and a dict of facts about the run. Ratios are
always *peer ÷ erlen*: above 1 means erlen is faster.

Imports ``apps`` and ``scenarios`` (for orders and titles); matplotlib only in
:func:`chart`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable

import apps
import scenarios as S

PROTOCOL_TITLES = {"wsgi": "WSGI", "asgi": "ASGI"}
# DESIGN.md's performance budget, measured in-process on hello world.
BUDGET_US = {"wsgi": 2.5, "asgi": 3.5}
BUDGET_CALLS = 20
HELLO_VS = {"wsgi": ("flask", 10), "asgi": ("quart", 20)}
E2E_SHARE = 0.90
MARK = {"n/a": "n/a", "invalid": "BAD", "error": "ERR"}
# One colour per framework in every chart: erlen stands out, raw is grey.
COLORS = {
    "raw": "#9e9e9e",
    "erlen": "#d62728",
    "flask": "#1f77b4",
    "bottle": "#2ca02c",
    "falcon": "#9467bd",
    "quart": "#17becf",
    "starlette": "#ff7f0e",
    "litestar": "#8c564b",
    "blacksheep": "#e377c2",
}


def fmt_us(us: float) -> str:
    return f"{us:.2f}" if us < 10 else f"{us:.1f}" if us < 100 else f"{us:.0f}"


def fmt_ratio(r: float) -> str:
    return f"{r:.2f}x" if r < 10 else f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


class Results:
    """Index the in-process cells by (protocol, scenario, framework)."""

    def __init__(self, cells: Iterable[dict]) -> None:
        self.cells = list(cells)
        self.by = {
            (c["protocol"], c["scenario"], c["framework"]): c for c in self.cells
        }

    def protocols(self) -> list[str]:
        return [
            p for p in ("wsgi", "asgi") if any(c["protocol"] == p for c in self.cells)
        ]

    def scenarios(self, protocol: str) -> list[str]:
        seen = {c["scenario"] for c in self.cells if c["protocol"] == protocol}
        return [s.name for s in S.SCENARIOS if s.name in seen]

    def frameworks(self, protocol: str) -> list[str]:
        seen = {c["framework"] for c in self.cells if c["protocol"] == protocol}
        return [f for f in apps.frameworks_for(protocol) if f in seen]

    def get(self, protocol: str, scenario: str, framework: str) -> dict | None:
        return self.by.get((protocol, scenario, framework))

    def us(self, protocol: str, scenario: str, framework: str) -> float | None:
        c = self.get(protocol, scenario, framework)
        return c["us"] if c and c["state"] == "ok" else None

    def calls(self, protocol: str, scenario: str, framework: str) -> float | None:
        c = self.get(protocol, scenario, framework)
        return c["calls"] if c and c["state"] == "ok" else None

    def erlen_measured(self) -> bool:
        return any(c["framework"] == "erlen" and c["state"] == "ok" for c in self.cells)


# -- tables ------------------------------------------------------------------------
def _cell_text(res: Results, p: str, s: str, f: str, ratio: bool) -> str:
    c = res.get(p, s, f)
    if c is None:
        return ""
    if c["state"] != "ok":
        return MARK.get(c["state"], c["state"])
    text = fmt_us(c["us"])
    erlen = res.us(p, s, "erlen")
    if ratio and f not in ("erlen", "raw") and erlen:
        text += f" ({fmt_ratio(c['us'] / erlen)})"
    return text


def _calls_text(res: Results, p: str, s: str, f: str) -> str:
    c = res.get(p, s, f)
    if c is None:
        return ""
    if c["state"] != "ok" or c["calls"] is None:
        return MARK.get(c["state"], c["state"])
    return f"{c['calls']:.0f}" if c["calls"] >= 10 else f"{c['calls']:.1f}"


def time_rows(res: Results, p: str) -> tuple[list[str], list[list[str]]]:
    fws = res.frameworks(p)
    rows = [
        [s] + [_cell_text(res, p, s, f, True) for f in fws] for s in res.scenarios(p)
    ]
    return ["scenario", *fws], rows


def calls_rows(res: Results, p: str) -> tuple[list[str], list[list[str]]]:
    fws = res.frameworks(p)
    rows = [[s] + [_calls_text(res, p, s, f) for f in fws] for s in res.scenarios(p)]
    return ["scenario", *fws], rows


def e2e_rows(e2e: list) -> tuple[list[str], list[list[str]]]:
    raw = {(r.server, r.protocol, r.scenario): r for r in e2e if r.framework == "raw"}
    rows = []
    for r in e2e:
        base = raw.get((r.server, r.protocol, r.scenario))
        if r.ok:
            runs = " / ".join(f"{x:,.0f}" for x in r.rps)
            share = (
                f"{r.best_rps / base.best_rps:.0%}"
                if base is not None and base.ok
                else ""
            )
            rows.append(
                [
                    f"{r.server} ({r.protocol})",
                    r.scenario,
                    r.framework,
                    f"{r.best_rps:,.0f}",
                    runs,
                    f"{r.best_p99_ms:.2f}",
                    share,
                ]
            )
        else:
            rows.append(
                [
                    f"{r.server} ({r.protocol})",
                    r.scenario,
                    r.framework,
                    MARK.get(r.state, r.state),
                    "",
                    "",
                    "",
                ]
            )
    return [
        "server",
        "scenario",
        "app",
        "req/s (best)",
        "runs",
        "p99 ms",
        "÷ raw",
    ], rows


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False))]
    out.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [str(x).rjust(w) for x, w in zip(row[1:], widths[1:], strict=False)]
        out.append("  ".join(cells))
    return "\n".join(out)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |"]
    out.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    out += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(out)


def notes(res: Results, e2e: list) -> list[str]:
    """Return one line per distinct reason a cell has no number."""
    grouped: OrderedDict[tuple[str, str, str, str], list[str]] = OrderedDict()
    for c in res.cells:
        if c["state"] != "ok":
            key = (c["framework"], c["protocol"], c["state"], c["note"])
            grouped.setdefault(key, []).append(c["scenario"])
    lines = []
    for (f, p, state, note), names in grouped.items():
        everywhere = set(names) >= set(res.scenarios(p))
        where = "all scenarios" if everywhere else ", ".join(names)
        lines.append(f"{f} ({p}) {MARK.get(state, state)} [{where}]: {note}")
    for r in e2e:
        if r.state != "ok" or r.note:
            lines.append(
                f"e2e {r.server} ({r.protocol}) {r.framework}: {r.state}: {r.note}"
            )
    return lines


# -- targets ---------------------------------------------------------------------
def targets(res: Results, e2e: list) -> list[tuple[str, str, str]]:
    """Return (verdict, target, detail) lines: PASS, FAIL or n/a (no assertion)."""
    out: list[tuple[str, str, str]] = []
    for p in res.protocols():
        title = PROTOCOL_TITLES[p]
        for s in res.scenarios(p):
            peers = [
                (res.us(p, s, f), f)
                for f in res.frameworks(p)
                if f not in ("raw", "erlen") and res.us(p, s, f) is not None
            ]
            label = f"{title} {s}: erlen faster than every peer"
            mine = res.us(p, s, "erlen")
            if not peers:
                out.append(("n/a", label, "no peer measured"))
            elif mine is None:
                out.append(("n/a", label, "erlen not measured"))
            else:
                best, who = min(peers)
                verdict = "PASS" if mine < best else "FAIL"
                out.append(
                    (
                        verdict,
                        label,
                        f"erlen {fmt_us(mine)} µs vs {who} {fmt_us(best)} µs",
                    )
                )
        peer, factor = HELLO_VS[p]
        label = f"{title} hello ≤ 1/{factor} of {peer}"
        mine, theirs = res.us(p, "hello", "erlen"), res.us(p, "hello", peer)
        if mine is None or theirs is None:
            out.append(("n/a", label, "erlen or peer not measured"))
        else:
            out.append(
                (
                    "PASS" if mine * factor <= theirs else "FAIL",
                    label,
                    f"erlen {fmt_us(mine)} µs, {peer} {fmt_us(theirs)} µs "
                    f"(1/{theirs / mine:.1f})",
                )
            )
        label = f"{title} hello ≤ {BUDGET_US[p]} µs (DESIGN budget, this machine)"
        if mine is None:
            out.append(("n/a", label, "erlen not measured"))
        else:
            out.append(
                (
                    "PASS" if mine <= BUDGET_US[p] else "FAIL",
                    label,
                    f"{fmt_us(mine)} µs",
                )
            )
        label = f"{title} hello ≤ {BUDGET_CALLS} calls/request (DESIGN budget)"
        calls = res.calls(p, "hello", "erlen")
        if calls is None:
            out.append(("n/a", label, "erlen not measured"))
        else:
            out.append(
                (
                    "PASS" if calls <= BUDGET_CALLS else "FAIL",
                    label,
                    f"{calls:.1f} calls",
                )
            )
    raw = {(r.server, r.protocol, r.scenario): r for r in e2e if r.framework == "raw"}
    for r in e2e:
        if r.framework != "erlen":
            continue
        label = (
            f"e2e {r.server} ({r.protocol}) {r.scenario}: "
            f"erlen ≥ {E2E_SHARE:.0%} of raw req/s"
        )
        base = raw.get((r.server, r.protocol, r.scenario))
        if not r.ok or base is None or not base.ok:
            out.append(("n/a", label, "erlen or raw not measured"))
        else:
            share = r.best_rps / base.best_rps
            out.append(
                (
                    "PASS" if share >= E2E_SHARE else "FAIL",
                    label,
                    f"{r.best_rps:,.0f} vs {base.best_rps:,.0f} req/s ({share:.0%})",
                )
            )
    return out


# -- whole reports ------------------------------------------------------------------
def _intro(meta: dict) -> str:
    inp = meta["inproc"]
    return (
        f"in-process: best of {inp['repeats']} repeats of ~{inp['repeat_seconds']:g} s "
        f"each, after warm-up; cProfile calls over {inp['profile_requests']} requests"
    )


def text_report(res: Results, e2e: list, meta: dict) -> str:
    out = []
    for p in res.protocols():
        out.append(
            f"\n{PROTOCOL_TITLES[p]} in-process — µs per request "
            f"(in brackets: peer ÷ erlen; raw = hand-written callable)"
        )
        out.append(text_table(*time_rows(res, p)))
    for p in res.protocols():
        out.append(
            f"\n{PROTOCOL_TITLES[p]} — cProfile calls per request "
            f"(total_calls ÷ requests, includes the harness's server callbacks)"
        )
        out.append(text_table(*calls_rows(res, p)))
    if e2e:
        e = meta.get("e2e") or {}
        out.append(
            f"\nEnd to end — wrk, {e.get('connections')} connections, "
            f"{e.get('seconds')} s x {e.get('runs')}, {e.get('pinning')}"
        )
        out.append(text_table(*e2e_rows(e2e)))
    lines = notes(res, e2e)
    if lines:
        out.append("\nNotes")
        out += [f"  {ln}" for ln in lines]
    out.append("\nTargets")
    for verdict, label, detail in targets(res, e2e):
        out.append(f"  {verdict:4}  {label}  — {detail}")
    return "\n".join(out)


def markdown_report(res: Results, e2e: list, meta: dict) -> str:
    out = [f"# erlen benchmark — {meta['date']}", ""]
    out.append(f"- machine: {meta['machine']}")
    out.append(f"- Python: {meta['python']}")
    out.append(f"- erlen: {meta['erlen']}")
    out.append(f"- mode: {meta['mode']}; {_intro(meta)}")
    out.append(f"- load average at start: {meta['loadavg']}")
    out.append(
        "- versions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(meta["versions"].items()))
    )
    out.append(
        "\nNumbers from a shared machine are noisy; the call counts are deterministic."
        " Ratios are peer ÷ erlen (above 1: erlen is faster)."
    )
    for p in res.protocols():
        out.append(f"\n## {PROTOCOL_TITLES[p]} in-process — µs per request\n")
        out.append(md_table(*time_rows(res, p)))
    for p in res.protocols():
        out.append(f"\n## {PROTOCOL_TITLES[p]} — cProfile calls per request\n")
        out.append(md_table(*calls_rows(res, p)))
    if e2e:
        e = meta.get("e2e") or {}
        out.append(
            f"\n## End to end — wrk, {e.get('connections')} connections, "
            f"{e.get('seconds')} s x {e.get('runs')}, {e.get('pinning')}\n"
        )
        out.append(md_table(*e2e_rows(e2e)))
    lines = notes(res, e2e)
    if lines:
        out.append("\n## Notes\n")
        out += [f"- {ln}" for ln in lines]
    out.append("\n## Targets\n")
    out += [f"- **{v}** {label} — {detail}" for v, label, detail in targets(res, e2e)]
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
    if os.path.exists(analysis):
        # Hand-written: where the time goes for each remaining FAIL line.
        with open(analysis, encoding="utf-8") as f:
            out.append("\n" + f.read().strip())
    out.append("\n![chart](latest.png)\n")
    return "\n".join(out)


def chart(res: Results, e2e: list, meta: dict, path: str) -> None:
    """Draw µs per request per scenario (log scale), a panel per protocol, to *path*."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protos = res.protocols()
    panels = len(protos) + (1 if any(r.ok for r in e2e) else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(14, 4.2 * panels), squeeze=False)
    for ax, p in zip(axes[:, 0], protos, strict=False):
        names = res.scenarios(p)
        # Only frameworks with a number: an empty bar set would still get a legend
        # entry, in the wrong colour.
        fws = [
            f
            for f in res.frameworks(p)
            if any(res.us(p, s, f) is not None for s in names)
        ]
        width = 0.8 / max(1, len(fws))
        for i, f in enumerate(fws):
            xs, ys = [], []
            for j, s in enumerate(names):
                us = res.us(p, s, f)
                if us is not None:
                    xs.append(j + (i - (len(fws) - 1) / 2) * width)
                    ys.append(us)
            ax.bar(xs, ys, width, label=f, color=COLORS.get(f))
        ax.set_yscale("log")
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel("µs per request (log)")
        ax.set_title(f"{PROTOCOL_TITLES[p]} in-process (lower is better)")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="y", which="both", alpha=0.3)
    if panels > len(protos):
        ax = axes[-1, 0]
        ok = [r for r in e2e if r.ok]
        groups = list(OrderedDict.fromkeys(f"{r.server}\n{r.protocol}" for r in ok))
        fws = list(OrderedDict.fromkeys(r.framework for r in ok))
        width = 0.8 / max(1, len(fws))
        for i, f in enumerate(fws):
            xs, ys = [], []
            for r in ok:
                if r.framework == f:
                    xs.append(
                        groups.index(f"{r.server}\n{r.protocol}")
                        + (i - (len(fws) - 1) / 2) * width
                    )
                    ys.append(r.best_rps)
            ax.bar(xs, ys, width, label=f, color=COLORS.get(f))
        ax.set_xticks(range(len(groups)), groups)
        ax.set_ylabel("requests/s (higher is better)")
        ax.set_title("End to end, one pinned worker, wrk on the other core")
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"erlen benchmark — {meta['date']} — {meta['machine']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
