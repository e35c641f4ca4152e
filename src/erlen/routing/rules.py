"""Hold :class:`Rule`: one URL pattern, its parsed form and its URL builder.

A rule string such as ``/user/<int(min=1):uid>/posts/`` is parsed once when the
rule is created (syntax errors surface at once), and compiled when it is added
to a map (converters come from the map).  Compiling produces Werkzeug-equivalent
*parts* (one per path segment, a path-like converter swallowing the rest), which
:mod:`erlen.routing.matcher` turns into regular expressions and a sort order.

Imports :mod:`erlen.routing.converters` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from .converters import BaseConverter, ValidationError, parse_converter_args, quote_path

if TYPE_CHECKING:  # pragma: no cover
    from .map import Map

__all__ = ["Rule"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MULTI_SLASH = re.compile(r"/{2,}")
_PLACEHOLDER = re.compile(r"<([^>]+)>")
#: Characters left unquoted in a query string (WHATWG query percent-encode set).
_QUERY_SAFE = "!$'()*,/:;?@"


class _Var:
    """One ``<converter(args):name>`` of a rule string, before it is compiled."""

    __slots__ = ("args", "converter", "kwargs", "name")

    def __init__(
        self, name: str, converter: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.name = name
        self.converter = converter
        self.args = args
        self.kwargs = kwargs


def _closing_paren(template: str, pos: int) -> int:
    """Return the index of the ``)`` closing converter arguments that start at *pos*."""
    quote = ""
    for i in range(pos, len(template)):
        char = template[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == ")":
            return i
    return -1


def tokenize(template: str) -> list[str | _Var]:
    """Split a rule (or subdomain/host) template into static text and variables.

    >>> [p if isinstance(p, str) else p.name for p in tokenize("/a/<int:b>.json")]
    ['/a/', 'b', '.json']

    :raises ValueError: with the position of the first malformed ``<...>``.
    """
    pieces: list[str | _Var] = []
    pos, end = 0, len(template)
    while pos < end:
        start = template.find("<", pos)
        if start < 0:
            pieces.append(template[pos:])
            break
        if start > pos:
            pieces.append(template[pos:start])

        def fail(reason: str, at: int = start) -> ValueError:
            return ValueError(
                f"malformed url rule: {template!r}: {reason} at position {at}."
                " Write variables as <name> or <converter:name> or"
                " <converter(arguments):name>."
            )

        m = _IDENT.match(template, start + 1)
        if m is None:
            raise fail("expected a name after '<'")
        first, pos = m.group(), m.end()
        converter, args, kwargs = "default", (), {}
        if template[pos : pos + 1] == "(":
            closing = _closing_paren(template, pos + 1)
            if closing < 0:
                raise fail("unclosed '(' in converter arguments")
            args, kwargs = parse_converter_args(template[pos + 1 : closing])
            pos = closing + 1
            if template[pos : pos + 1] != ":":
                raise fail("expected ':name' after converter arguments", pos)
        if template[pos : pos + 1] == ":":
            converter = first
            m = _IDENT.match(template, pos + 1)
            if m is None:
                raise fail("expected a variable name after ':'", pos + 1)
            first, pos = m.group(), m.end()
        if template[pos : pos + 1] != ">":
            raise fail("expected '>'", pos)
        pieces.append(_Var(first, converter, args, kwargs))
        pos += 1
    return pieces


class Part:
    """One Werkzeug-equivalent part of a compiled rule: a path segment or the tail.

    :ivar static: no variables; ``text`` is the literal segment.
    :ivar pattern: regex fragment with one capturing group per variable.
    :ivar names: the variables in this part, in order.
    :ivar var_groups: each variable's group number inside ``pattern`` (from 1).
    :ivar ngroups: how many capturing groups ``pattern`` has.
    :ivar final: holds a converter that matches slashes, so it takes the rest.
    :ivar weight: Werkzeug's weighting, to order dynamic parts.
    :ivar ident: equal for parts that Werkzeug's matcher would merge into one state.
    """

    __slots__ = (
        "final",
        "ident",
        "names",
        "ngroups",
        "pattern",
        "static",
        "text",
        "var_groups",
        "weight",
    )

    def __init__(
        self, items: list[str | tuple[str, BaseConverter] | None], final: bool
    ):
        self.final = final
        self.names: list[str] = []
        self.var_groups: list[int] = []
        self.static = all(isinstance(item, str) for item in items)
        self.text = "".join(item for item in items if isinstance(item, str))
        regex: list[str] = []
        static_weights: list[tuple[int, int]] = []
        arg_weights: list[int] = []
        groups = 0
        for item in items:
            if item is None:  # a slash inside a final part
                regex.append("/")
            elif isinstance(item, str):
                static_weights.append((len(static_weights), -len(item)))
                regex.append(re.escape(item))
            else:
                name, converter = item
                self.names.append(name)
                self.var_groups.append(groups + 1)
                groups += 1 + _group_count(converter.regex)
                arg_weights.append(converter.weight)
                regex.append(f"({converter.regex})")
        self.ngroups = groups
        self.pattern = "".join(regex)
        self.weight = (
            -len(static_weights),
            tuple(static_weights),
            -len(arg_weights),
            tuple(arg_weights),
        )
        self.ident: tuple[Any, ...] = (
            ("s", self.text) if self.static else ("d", self.pattern, final, self.weight)
        )

    def add_suffix_guard(self) -> None:
        """Forbid a trailing ``/`` in a final part that a ``/`` part follows."""
        self.pattern += "(?<!/)"
        self.ident = (*self.ident, "suffixed")


_group_counts: dict[str, int] = {}


def _group_count(regex: str) -> int:
    """Return how many capturing groups a converter regex holds (cached)."""
    count = _group_counts.get(regex)
    if count is None:
        try:
            compiled = re.compile(regex)
        except re.error as e:
            raise ValueError(f"converter regex {regex!r} does not compile: {e}") from e
        if compiled.groupindex:
            raise ValueError(
                f"converter regex {regex!r} uses named groups; use (?:...) or"
                " unnamed groups so that rules can be combined into one pattern"
            )
        count = _group_counts[regex] = compiled.groups
    return count


def _split_parts(
    pieces: list[str | _Var], converters: dict[str, BaseConverter]
) -> list[Part]:
    """Cut parsed *pieces* into parts the way Werkzeug's matcher sees them."""
    flat: list[str | tuple[str, BaseConverter] | None] = []  # None is a slash
    for piece in pieces:
        if isinstance(piece, str):
            for i, chunk in enumerate(piece.split("/")):
                if i:
                    flat.append(None)
                if chunk:
                    flat.append(chunk)
        else:
            flat.append((piece.name, converters[piece.name]))
    parts: list[Part] = []
    current: list[str | tuple[str, BaseConverter] | None] = []
    final = False
    for item in flat:
        if item is None and not final:
            parts.append(Part(current, False))
            current = []
            continue
        if isinstance(item, tuple) and not item[1].part_isolating:
            final = True
        current.append(item)
    if final and current and current[-1] is None:
        # ``/<path:p>/``: the tail must not end in "/" and an empty part follows,
        # so that a missing trailing slash redirects like any branch rule.
        tail = Part(current[:-1], True)
        tail.add_suffix_guard()
        parts.extend((tail, Part([], False)))
    else:
        parts.append(Part(current, final))
    return parts


def _build_ops(
    pieces: list[str | _Var],
    converters: dict[str, BaseConverter],
    defaults: Mapping[str, Any],
) -> tuple[tuple[str | None, str, Callable[[Any], str] | None], ...]:
    """Precompute how to build a URL part: constants, and variables to convert."""
    ops: list[tuple[str | None, str, Callable[[Any], str] | None]] = []
    const = ""
    for piece in pieces:
        if isinstance(piece, str):
            const += quote_path(piece)
        elif piece.name in defaults:
            # A variable with a default always builds to the same text.
            const += converters[piece.name].to_url(defaults[piece.name])
        else:
            if const:
                ops.append((const, "", None))
                const = ""
            ops.append((None, piece.name, converters[piece.name].to_url))
    if const or not ops:
        ops.append((const, "", None))
    return tuple(ops)


def _run_ops(
    ops: tuple[tuple[str | None, str, Callable[[Any], str] | None], ...],
    values: Mapping[str, Any],
) -> str:
    """Assemble one URL part from *ops* and *values*."""
    return "".join(
        [text if to_url is None else to_url(values[name]) for text, name, to_url in ops]  # type: ignore[misc]
    )


def _query_items(pairs: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Expand list, tuple and set values into repeated keys; drop ``None`` values."""
    items = []
    for key, value in pairs:
        if isinstance(value, (list, tuple, set)):
            items.extend((key, v) for v in value if v is not None)
        elif value is not None:
            items.append((key, value))
    return items


# Characters ``quote_plus`` leaves alone with the query safe set.
_query_plain = re.compile(r"[A-Za-z0-9_.~!$'()*,/:;?@-]*").fullmatch


def _query_quote(value: Any) -> str:
    """Quote one query key or value as ``urllib.parse.urlencode`` would."""
    if isinstance(value, bytes):
        return quote_plus(value, safe=_QUERY_SAFE)
    text = value if isinstance(value, str) else str(value)
    # PERF: most keys and values need no quoting; check with one C call.
    if _query_plain(text) is not None:
        return text
    return quote_plus(text, safe=_QUERY_SAFE)


def encode_query(items: Iterable[tuple[Any, Any]]) -> str:
    """Encode *items* as ``k=v&k=v`` (spaces as ``+``, WHATWG query safe set)."""
    return "&".join([f"{_query_quote(k)}={_query_quote(v)}" for k, v in items])


class Rule:
    """Describe one URL pattern and what it leads to.

    Arguments and defaults are Werkzeug's (``werkzeug.routing.Rule``)::

        Rule("/user/<int:uid>", endpoint="user", methods=["GET", "POST"])
        Rule("/", defaults={"page": 1}, endpoint="all")
        Rule("/old/<slug>", redirect_to="new/<slug>")

    :param string: the rule string; must start with ``/``.  Variables are
        ``<name>``, ``<converter:name>`` or ``<converter(args):name>``.
    :param defaults: values for the view that the URL does not carry; a URL
        that spells them out for another rule of the endpoint redirects here.
    :param subdomain: subdomain template (``"<user>"``); ``None`` means the map's
        ``default_subdomain``.
    :param methods: allowed methods (``HEAD`` is added when ``GET`` is present),
        or ``None`` for any method.
    :param build_only: the rule is only used to build URLs, never matched.
    :param endpoint: what the rule leads to (a string in Flask).
    :param strict_slashes: ``None`` to use the map's setting.
    :param merge_slashes: ``None`` to use the map's setting.
    :param redirect_to: a target with ``<name>`` placeholders, or a callable
        called as ``redirect_to(None, **values)`` (Werkzeug passes its
        ``MapAdapter`` first; erlen has none, so the first argument is ``None``).
    :param alias: matching this rule redirects to the endpoint's canonical rule.
    :param host: host template, used when the map has ``host_matching``.
    :param websocket: the rule matches WebSocket requests only.
    """

    def __init__(
        self,
        string: str,
        defaults: Mapping[str, Any] | None = None,
        subdomain: str | None = None,
        methods: Iterable[str] | None = None,
        build_only: bool = False,
        endpoint: Any | None = None,
        strict_slashes: bool | None = None,
        merge_slashes: bool | None = None,
        redirect_to: str | Callable[..., str] | None = None,
        alias: bool = False,
        host: str | None = None,
        websocket: bool = False,
    ) -> None:
        if not isinstance(string, str) or not string.startswith("/"):
            raise ValueError(f"URL rule '{string}' must start with a slash.")
        self.rule = string
        self.is_leaf = not string.endswith("/")
        self.is_branch = string.endswith("/")
        self.map: Map | None = None
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        self.subdomain = subdomain
        self.host = host
        self.defaults = defaults
        self.build_only = build_only
        self.alias = alias
        self.websocket = websocket
        self.endpoint: Any = endpoint
        self.redirect_to = redirect_to
        #: Set by Flask's ``add_url_rule``; the router does not use it.
        self.provide_automatic_options: bool | None = None

        if methods is not None:
            if isinstance(methods, str):
                raise TypeError("'methods' should be a list of strings, not a string.")
            upper = {m.upper() for m in methods}
            if "GET" in upper:
                upper.add("HEAD")
            if websocket and upper - {"GET", "HEAD", "OPTIONS"}:
                raise ValueError(
                    "WebSocket rules can only use 'GET', 'HEAD', and 'OPTIONS' methods."
                )
            self.methods: frozenset[str] | None = frozenset(upper)
        else:
            self.methods = None

        self.arguments: set[str] = set(map(str, defaults)) if defaults else set()
        self._pieces = tokenize(string)
        names = [p.name for p in self._pieces if isinstance(p, _Var)]
        _check_unique(names, string)
        self.arguments.update(names)
        if isinstance(redirect_to, str):
            unknown = set(_PLACEHOLDER.findall(redirect_to)) - self.arguments
            if unknown:
                raise ValueError(
                    f"redirect_to {redirect_to!r} of rule {string!r} uses"
                    f" {sorted(unknown)!r}, which are not variables of the rule."
                )

        # Filled in by bind().
        self._converters: dict[str, BaseConverter] = {}
        self._parts: list[Part] = []
        self._domain_template = ""
        self._build_domain: tuple[Any, ...] = ()
        self._domain_const: str | None = ""
        self._build_path: tuple[Any, ...] = ()
        self._required: tuple[str, ...] = ()
        self._npath = 0  # how many of _parts belong to the path (the rest: domain)
        # Set by Map.refresh(): rules whose defaults make them this rule's
        # canonical form, and whether a match needs the redirect checks.
        self._default_providers: tuple[Rule, ...] = ()
        self._post = False

    # -- compiling ---------------------------------------------------------------

    def bind(self, map: Map) -> None:
        """Compile the rule for *map* (called by :meth:`Map.add`).

        :raises RuntimeError: if the rule already belongs to a map.
        :raises LookupError: if a converter is not registered in ``map.converters``.
        """
        if self.map is not None:
            raise RuntimeError(f"url rule {self!r} already bound to map {self.map!r}")
        strict = (
            map.strict_slashes if self.strict_slashes is None else self.strict_slashes
        )
        merge = map.merge_slashes if self.merge_slashes is None else self.merge_slashes
        subdomain = map.default_subdomain if self.subdomain is None else self.subdomain
        domain = (self.host if map.host_matching else subdomain) or ""

        path_pieces = (
            tokenize(_MULTI_SLASH.sub("/", self.rule)) if merge else self._pieces
        )
        domain_pieces = tokenize(domain) if domain else []
        domain_names = [p.name for p in domain_pieces if isinstance(p, _Var)]
        path_names = [p.name for p in path_pieces if isinstance(p, _Var)]
        _check_unique(domain_names + path_names, f"{domain}|{self.rule}")

        converters: dict[str, BaseConverter] = {}
        for piece in domain_pieces + path_pieces:
            if isinstance(piece, _Var):
                converters[piece.name] = self._make_converter(map, piece)
        defaults = self.defaults or {}
        parts = _split_parts(domain_pieces, converters) if domain else [Part([], False)]
        path_parts = _split_parts(path_pieces, converters)
        parts += path_parts
        _check_compiles(parts, self.rule)
        build_domain = _build_ops(domain_pieces, converters, defaults)
        build_path = _build_ops(path_pieces, converters, defaults)

        self.strict_slashes, self.merge_slashes, self.subdomain = (
            strict,
            merge,
            subdomain,
        )
        self.arguments.update(domain_names)
        self._converters = converters
        self._parts = parts
        self._npath = len(path_parts)
        self._domain_template = domain
        self._build_domain = build_domain
        self._domain_const = (
            build_domain[0][0]
            if build_domain[0][2] is None and len(build_domain) == 1
            else None
        )
        self._build_path = build_path
        self._required = tuple(a for a in self.arguments if a not in defaults)
        self.map = map

    def _make_converter(self, map: Map, var: _Var) -> BaseConverter:
        """Instantiate the converter named in *var* from ``map.converters``."""
        cls = map.converters.get(var.converter)
        if cls is None:
            raise LookupError(
                f"the converter {var.converter!r} does not exist (rule {self.rule!r});"
                f" register it with url_map.converters[{var.converter!r}] = ..."
            )
        try:
            return cls(map, *var.args, **var.kwargs)
        except TypeError as e:
            raise TypeError(
                f"converter {var.converter!r} in rule {self.rule!r} does not accept"
                f" the arguments {var.args!r} {var.kwargs!r}: {e}"
            ) from e

    # -- building ----------------------------------------------------------------

    def _suitable_for(self, values: Mapping[str, Any], method: str | None) -> bool:
        """Tell whether this rule can build a URL for *method* from *values*.

        Used for default redirects, where *values* always hold every argument;
        building checks the arguments itself.
        """
        if (
            method is not None
            and self.methods is not None
            and method not in self.methods
        ):
            return False
        return self._defaults_agree(values)

    def _defaults_agree(self, values: Mapping[str, Any]) -> bool:
        """Tell whether *values* leave out or equal each of this rule's defaults."""
        if self.defaults:
            for key, value in self.defaults.items():
                if key in values and values[key] != value:
                    return False
        return True

    def _build(
        self, values: Mapping[str, Any], append_unknown: bool = True
    ) -> tuple[str, str] | None:
        """Return ``(domain_part, path_and_query)``, or ``None`` if a converter refused."""
        try:
            domain = self._domain_const
            if domain is None:
                domain = _run_ops(self._build_domain, values)
            # PERF: a plain loop; a generator in join() costs a frame per item.
            parts = []
            for text, name, to_url in self._build_path:
                parts.append(text if to_url is None else to_url(values[name]))
        except ValidationError:
            return None
        path = "".join(parts)
        if append_unknown and not values.keys() <= self.arguments:
            arguments = self.arguments
            items = _query_items(
                (k, v) for k, v in values.items() if k not in arguments
            )
            if self.map is not None and self.map.sort_parameters:
                items.sort(key=self.map.sort_key)
            if items:
                path = f"{path}?{encode_query(items)}"
        return domain, path

    def _provides_defaults_for(self, rule: Rule) -> bool:
        """Tell whether this rule's defaults make it the canonical form of *rule*."""
        return bool(
            not self.build_only
            and self.defaults
            and self.endpoint == rule.endpoint
            and self is not rule
            and self.arguments == rule.arguments
        )

    def _build_compare_key(self) -> tuple[int, int, int]:
        """Order rules for building: non-aliases, more arguments, more defaults first."""
        return (1 if self.alias else 0, -len(self.arguments), -len(self.defaults or ()))

    def __str__(self) -> str:
        return self.rule

    def __repr__(self) -> str:
        methods = (
            f" ({', '.join(sorted(self.methods))})" if self.methods is not None else ""
        )
        where = f"{self._domain_template}|" if self._domain_template else ""
        return (
            f"<{type(self).__name__} '{where}{self.rule}'{methods} -> {self.endpoint}>"
        )


def _check_compiles(parts: list[Part], template: str) -> None:
    """Raise ValueError now if the converters' regexes do not form a valid pattern."""
    try:
        re.compile("/".join(part.pattern for part in parts))
    except re.error as e:
        raise ValueError(
            f"URL rule {template!r} does not compile to a regex: {e}"
        ) from e


def _check_unique(names: list[str], template: str) -> None:
    """Raise ValueError if a variable name appears twice in *template*."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(
                f"variable name {name!r} used twice in URL rule {template!r};"
                " give each variable its own name."
            )
        seen.add(name)
