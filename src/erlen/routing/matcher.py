"""Compile a map's rules into the structures :meth:`Map.match` uses.

Werkzeug matches with a depth-first walk of a tree of path segments: at each
segment a literal beats converters, converters are tried by weight, a rule that
ends here beats one that only matches with an added slash, and registration order
breaks ties.  This module gives every way a rule can match a path (an
*alternative*: exact, missing trailing slash, extra trailing slash) a sort key
that reproduces that walk's order, so that the first alternative of the sorted
list that matches is the rule Werkzeug would choose.

The sorted alternatives are then ORed into one regular expression per HTTP
method and first path segment; ``match.lastindex`` names the winner (Bottle's
trick), so a successful match is one C call and no Python loop over rules.

Imports :mod:`erlen.routing.converters` and :mod:`erlen.routing.rules`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.routing import BaseConverter as WerkzeugBaseConverter

from .converters import BaseConverter, FloatConverter, IntegerConverter
from .rules import Rule

__all__ = [
    "EXACT",
    "EXTRA",
    "NOSLASH",
    "Alternative",
    "Compiled",
    "compile_alternatives",
]

#: The path matches the rule as written.
EXACT = 0
#: The path lacks the rule's trailing slash (redirect, or match if not strict).
NOSLASH = 1
#: The path has a trailing slash the non-strict rule lacks (match).
EXTRA = 2

# Sort tokens, one per rule part plus one for the kind of alternative.  At a
# tree node Werkzeug tries: rules ending here, then rules one "" part further
# (missing slash), then the literal child, then converter children by weight,
# then non-strict rules that ignore a trailing slash.
_END = (0, 0)
_SLASH_MISSING = (0, 1)
_LITERAL = (1,)
_SLASH_EXTRA = (3,)

#: Table marker: the path only matched rules of other methods (or protocol).
BLOCKED = object()


class Alternative:
    """One way a rule can match: its regex, sort key and variable groups."""

    __slots__ = (
        "_regex",
        "key",
        "kind",
        "ngroups",
        "pattern",
        "rule",
        "seg",
        "var_groups",
    )

    def __init__(
        self,
        rule: Rule,
        kind: int,
        key: tuple[Any, ...],
        parts: list[Any],
        ndomain: int,
        domain_mode: bool,
        suffix: str = "",
    ) -> None:
        self.rule = rule
        self.kind = kind
        self.key = key
        offset = 0
        var_groups: list[tuple[str, int]] = []
        patterns: list[str] = []
        for part in parts:
            patterns.append(part.pattern)
            var_groups.extend(
                (name, offset + group)
                for name, group in zip(part.names, part.var_groups, strict=True)
            )
            offset += part.ngroups
        path = "/".join(patterns[ndomain:]) + suffix
        if domain_mode:
            path = "/".join(patterns[:ndomain]) + r"\|" + path
        self.pattern = path
        self.ngroups = offset
        self.var_groups = var_groups
        first = rule._parts[ndomain + 1]
        #: the literal first path segment, or None if it holds a variable
        self.seg: str | None = first.text if first.static else None
        self._regex: Callable[[str], re.Match[str] | None] | None = None

    def regex(self) -> Callable[[str], re.Match[str] | None]:
        """Return this alternative's own compiled ``match`` (for the slow paths)."""
        if self._regex is None:
            self._regex = re.compile(self.pattern + r"\Z").match
        return self._regex


def compile_alternatives(rules: Iterable[Rule], domain_mode: bool) -> list[Alternative]:
    """Return every alternative of the matchable *rules*, in Werkzeug's match order.

    *rules* must be in registration order.
    """
    first_seen: dict[tuple[Any, ...], int] = {}
    alternatives: list[Alternative] = []
    for index, rule in enumerate(rules):
        parts = rule._parts
        ndomain = len(parts) - rule._npath
        tokens: list[Any] = []
        prefix: tuple[Any, ...] = ()
        for part in parts:
            prefix = (*prefix, part.ident)
            # Equal converter parts share a tree node, ordered by creation.
            created = first_seen.setdefault(prefix, index)
            tokens.append(_LITERAL if part.static else (2, part.weight, created))
        alternatives.append(
            Alternative(
                rule, EXACT, ((*tokens, _END), index), parts, ndomain, domain_mode
            )
        )
        last = parts[-1]
        if last.static and not last.text and rule._npath >= 2:
            alternatives.append(
                Alternative(
                    rule,
                    NOSLASH,
                    ((*tokens[:-1], _SLASH_MISSING), index),
                    parts[:-1],
                    ndomain,
                    domain_mode,
                )
            )
        if not rule.strict_slashes and not any(part.final for part in parts):
            # Werkzeug lets a non-strict rule ignore one extra trailing slash
            # (for a branch rule too: "/y/<a>/" matches "/y/5//"); a rule with a
            # path-like converter never gets there, the converter takes the rest.
            alternatives.append(
                Alternative(
                    rule,
                    EXTRA,
                    ((*tokens, _SLASH_EXTRA), index),
                    parts,
                    ndomain,
                    domain_mode,
                    "/",
                )
            )
    alternatives.sort(key=lambda alt: alt.key)
    return alternatives


def accepts(rule: Rule, method: str | None, websocket: bool) -> bool:
    """Tell whether *rule* serves *method* (``None``: a method no rule lists)."""
    if rule.websocket != websocket:
        return False
    return rule.methods is None or (method is not None and method in rule.methods)


def fast_to_python(converter: BaseConverter) -> Callable[[str], Any] | None:
    """Return the cheapest callable equal to ``converter.to_python``.

    ``None`` means the value is used as matched (no call at all).
    """
    # PERF: a Python-level to_python call costs ~100 ns; the stock string and
    # path converters return the value unchanged, and an unbounded int/float
    # converter is just int()/float() on text its regex already vetted.
    method = type(converter).to_python
    if method is BaseConverter.to_python or _is_werkzeug_identity(method):
        return None
    if type(converter) in (IntegerConverter, FloatConverter) and not (
        getattr(converter, "fixed_digits", 0)
        or converter.min is not None  # type: ignore[attr-defined]
        or converter.max is not None  # type: ignore[attr-defined]
    ):
        return int if type(converter) is IntegerConverter else float
    return converter.to_python


def _is_werkzeug_identity(method: Any) -> bool:
    """Tell whether *method* is Werkzeug's BaseConverter.to_python (returns its input)."""
    return method is WerkzeugBaseConverter.to_python


class Compiled:
    """One combined regex over a list of alternatives, and how to read its match.

    ``table[m.lastindex]`` is ``(rule, slash_redirect, converters, post, pos)``
    for a viable alternative (``pos`` indexes :attr:`viable`), or :data:`BLOCKED`
    when only a rule of another method or protocol matched.
    """

    __slots__ = ("blocked", "match", "pattern", "table", "viable")

    def __init__(self, viable: list[Alternative], blocked: list[Alternative]) -> None:
        self.viable = viable
        self.blocked = blocked
        table: list[Any] = [None]
        patterns: list[str] = []
        for pos, alt in enumerate(viable):
            group = len(table)
            patterns.append(f"({alt.pattern}\\Z)")
            rule = alt.rule
            converters = tuple(
                (name, group + rel, fast_to_python(rule._converters[name]))
                for name, rel in alt.var_groups
            )
            redirect = alt.kind == NOSLASH and bool(rule.strict_slashes)
            table.append((rule, redirect, converters, rule._post, pos))
            table.extend([None] * alt.ngroups)
        if blocked:
            table.append(BLOCKED)
            patterns.append(
                "(" + "|".join(f"(?:{a.pattern}\\Z)" for a in blocked) + ")"
            )
        self.table = table
        self.pattern = "|".join(patterns)
        self.match: Callable[[str], re.Match[str] | None] = (
            self._compile_and_match if patterns else _never
        )

    def _compile_and_match(self, subject: str) -> re.Match[str] | None:
        """Compile the combined regex on first use, then match *subject* with it."""
        # PERF: one regex per first segment and method adds up (100 rules: about
        # 5-15 ms per method); compile each only when a request needs it.
        match = re.compile(self.pattern).match
        self.match = match
        return match(subject)


def _never(subject: str) -> None:
    """Match nothing (a map without matchable rules)."""
    return None


class MethodMatcher:
    """The compiled regexes for one method and protocol, by first path segment."""

    __slots__ = ("by_seg", "default")

    def __init__(
        self,
        alternatives: list[Alternative],
        method: str | None,
        websocket: bool,
        by_segment: bool,
    ) -> None:
        viable = [a for a in alternatives if accepts(a.rule, method, websocket)]
        # Werkzeug notes the methods of exact matches it had to skip (for 405),
        # never those of slash-redirect candidates.
        blocked = [
            a
            for a in alternatives
            if a.kind != NOSLASH and not accepts(a.rule, method, websocket)
        ]
        self.by_seg: dict[str, Compiled] = {}
        if not by_segment:
            self.default = Compiled(viable, blocked)
            return
        # PERF: a path can only match rules whose first segment is its own
        # literal first segment or a variable, so each literal segment gets a
        # regex of those rules alone.  Measured on a 100-rule map, regex call
        # only: reaching the last rule 1.7 -> 0.2 us, a 404 5 -> 0.05 us.
        segs = {a.seg for a in alternatives if a.seg is not None}
        viable_by_seg = _bucket(viable, segs)
        blocked_by_seg = _bucket(blocked, segs)
        self.default = Compiled(viable_by_seg[None], blocked_by_seg[None])
        for seg in segs:
            self.by_seg[seg] = Compiled(viable_by_seg[seg], blocked_by_seg[seg])

    def for_path(self, path: str) -> Compiled:
        """Return the compiled regex that covers *path*."""
        end = path.find("/", 1)
        return self.by_seg.get(path[1:end] if end > 0 else path[1:], self.default)


def _bucket(
    alternatives: list[Alternative], segs: set[str]
) -> dict[str | None, list[Alternative]]:
    """Split *alternatives* by first segment; variable-first ones go in every bucket.

    Each bucket keeps the sorted order.  ``None`` holds the variable-first ones.
    """
    buckets: dict[str | None, list[Alternative]] = {seg: [] for seg in segs}
    buckets[None] = []
    for alt in alternatives:
        if alt.seg is None:
            for bucket in buckets.values():
                bucket.append(alt)
        else:
            buckets[alt.seg].append(alt)
    return buckets


def static_routes(
    rules: Iterable[Rule], redirect_defaults: bool
) -> dict[str, dict[str, Rule]]:
    """Map each literal path to ``{method: rule}`` for rules a dict lookup may serve.

    A rule with ``methods=None`` is stored under ``"*"``.  Only HTTP rules on the
    empty domain whose match needs no redirect work are stored; a path that has
    any other rule is left out entirely so :meth:`Map.match` decides it.
    """
    by_path: dict[str, list[Rule]] = {}
    for rule in rules:
        parts = rule._parts
        if (
            rule.websocket
            or rule._npath != len(parts) - 1
            or not parts[0].static
            or parts[0].text
            or not all(p.static for p in parts)
        ):
            continue
        path = "/".join(p.text for p in parts[1:])
        if path.startswith("//"):
            continue  # unreachable: match() collapses leading slashes first
        by_path.setdefault(path, []).append(rule)
    table: dict[str, dict[str, Rule]] = {}
    for path, path_rules in by_path.items():
        if any(
            r.redirect_to is not None
            or (redirect_defaults and (r.alias or r._default_providers))
            for r in path_rules
        ):
            continue
        entry: dict[str, Rule] = {}
        for rule in path_rules:
            if rule.methods is None:
                entry.setdefault("*", rule)
                break  # every remaining method now goes to this rule
            for method in rule.methods:
                entry.setdefault(method, rule)
        table[path] = entry
    return table
