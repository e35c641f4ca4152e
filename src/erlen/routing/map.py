"""Hold :class:`Map`: the set of rules, URL matching and URL building.

Matching and building follow Werkzeug 3.1's decisions (which rule wins, 404 vs
405, slash redirects, merged slashes, default and alias redirects) without its
``MapAdapter``: :meth:`Map.match` takes the decoded path, method and domain of
a request and returns ``(rule, values)``; :meth:`Map.build` returns
``(domain_part, path_and_query)``.  Nothing here knows about requests or servers.

Compiled structures are rebuilt lazily, on the first match or build after rules
were added.

Imports :mod:`erlen.routing.converters`, :mod:`~erlen.routing.exceptions`,
:mod:`~erlen.routing.matcher` and :mod:`~erlen.routing.rules`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pprint import pformat
from typing import Any, NoReturn

from werkzeug.datastructures import ImmutableDict, MultiDict
from werkzeug.exceptions import MethodNotAllowed, NotFound

from .converters import DEFAULT_CONVERTERS, BaseConverter, ValidationError, quote_path
from .exceptions import (
    BuildError,
    RedirectRequired,
    UpgradeRequired,
    WebsocketMismatch,
)
from .matcher import (
    BLOCKED,
    NOSLASH,
    Alternative,
    Compiled,
    MethodMatcher,
    compile_alternatives,
    static_routes,
)
from .rules import _PLACEHOLDER, Rule

__all__ = ["Map"]

_MULTI_SLASH = re.compile(r"/{2,}")


class Map:
    """Hold URL rules; match request paths against them and build URLs from them.

    Arguments are Werkzeug's (``werkzeug.routing.Map``)::

        url_map = Map([Rule("/", endpoint="index"), Rule("/u/<int:uid>", endpoint="user")])
        rule, values = url_map.match("/u/42", "GET")        # values == {"uid": 42}
        url_map.build("user", {"uid": 42, "tab": "posts"})  # ("", "/u/42?tab=posts")

    :param rules: rules to add at once.
    :param default_subdomain: the subdomain of rules that name none.
    :param strict_slashes: redirect ``/foo`` to ``/foo/`` for rules ending in a
        slash, and do not match ``/bar/`` for ``/bar`` (per rule overridable).
    :param merge_slashes: match ``/a//b`` as ``/a/b`` by redirecting to it.
    :param redirect_defaults: redirect a URL that spells out the defaults of
        another rule of the same endpoint to that rule.
    :param converters: extra converters by name, added to ``default_converters``.
    :param sort_parameters: sort the query string of built URLs.
    :param sort_key: the key for that sort.
    :param host_matching: match rules' ``host`` against the request host instead
        of their ``subdomain`` against the request subdomain.
    """

    #: The converters a new map starts with (copied into :attr:`converters`).
    default_converters: Mapping[str, type[BaseConverter]] = ImmutableDict(
        DEFAULT_CONVERTERS
    )

    def __init__(
        self,
        rules: Iterable[Rule] | None = None,
        default_subdomain: str = "",
        strict_slashes: bool = True,
        merge_slashes: bool = True,
        redirect_defaults: bool = True,
        converters: Mapping[str, type[BaseConverter]] | None = None,
        sort_parameters: bool = False,
        sort_key: Callable[[Any], Any] | None = None,
        host_matching: bool = False,
    ) -> None:
        self.default_subdomain = default_subdomain
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        self._redirect_defaults = redirect_defaults
        self.host_matching = host_matching
        #: Converter classes by name, used when rules are added.  A per-map copy.
        self.converters: dict[str, type[BaseConverter]] = dict(self.default_converters)
        if converters:
            self.converters.update(converters)
        self.sort_parameters = sort_parameters
        self.sort_key = sort_key

        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._dirty = True
        # PERF: one flag for "compiled, and no host or subdomain in play", so the
        # hot path checks one attribute instead of two.
        self._plain = False
        #: Literal path -> {method or "*": rule}; read it after :meth:`refresh`.
        self.static_routes: dict[str, dict[str, Rule]] = {}
        #: False when some rule needs the host or subdomain: always call match().
        #: Kept correct by add() even before the next refresh.
        self.fast_path_ok = not host_matching
        self._by_endpoint: dict[Any, tuple[Rule, ...]] = {}
        self._domain_mode = False
        self._http: dict[str | None, MethodMatcher] = {}
        self._ws: dict[str | None, MethodMatcher] = {}
        self._snapshot: tuple[
            list[Alternative],
            dict[str | None, MethodMatcher],
            dict[str | None, MethodMatcher],
        ] = ([], {}, {})
        self._known_methods: frozenset[str] = frozenset()
        for rule in rules or ():
            self.add(rule)

    @property
    def redirect_defaults(self) -> bool:
        """Whether URLs spelling out another rule's defaults redirect to that rule."""
        return self._redirect_defaults

    @redirect_defaults.setter
    def redirect_defaults(self, value: bool) -> None:
        self._redirect_defaults = value
        self._plain = False
        self._dirty = True

    # -- rules -------------------------------------------------------------------

    def add(self, rule: Rule) -> None:
        """Add *rule* and compile it for this map; matching structures follow lazily.

        :raises TypeError: if *rule* is not an :class:`erlen.routing.Rule`.
        :raises LookupError: if the rule names an unregistered converter.
        """
        if not isinstance(rule, Rule):
            raise TypeError(
                f"Map.add() takes an erlen.routing.Rule, not {type(rule).__name__};"
                " Werkzeug rule factories (Submount, Subdomain...) are not supported."
            )
        rule.bind(self)
        self._rules.append(rule)
        if rule._domain_template and not rule.build_only:
            self.fast_path_ok = False
        self._plain = False
        self._dirty = True

    def iter_rules(self, endpoint: Any | None = None) -> Iterator[Rule]:
        """Iterate over all rules, or over those of *endpoint* in build order.

        All rules come grouped by endpoint (in order of first registration),
        each group in build order, as Werkzeug does.
        """
        self.refresh()
        if endpoint is not None:
            return iter(self._by_endpoint.get(endpoint, ()))
        return (rule for rules in self._by_endpoint.values() for rule in rules)

    def __iter__(self) -> Iterator[Rule]:
        return self.iter_rules()

    def is_endpoint_expecting(self, endpoint: Any, *arguments: str) -> bool:
        """Tell whether some rule of *endpoint* has all the given *arguments*.

        Unlike Werkzeug, an unknown endpoint gives ``False`` rather than KeyError.
        """
        self.refresh()
        wanted = set(arguments)
        return any(
            wanted <= rule.arguments for rule in self._by_endpoint.get(endpoint, ())
        )

    def bind(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Refuse: erlen has no MapAdapter; call :meth:`match` and :meth:`build`."""
        raise NotImplementedError(
            "erlen's Map has no bind()/MapAdapter: call Map.match(path, method, ...)"
            " to match and Map.build(endpoint, values, ...) to build URLs."
        )

    bind_to_environ = bind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({pformat(list(self.iter_rules()))})"

    # -- compiling ---------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the compiled structures if rules changed; cheap otherwise."""
        if self._dirty:
            with self._lock:
                if self._dirty:
                    self._rebuild()

    #: Werkzeug's name for :meth:`refresh`.
    update = refresh

    def _rebuild(self) -> None:
        """Compile the rules into the match tables (under the lock)."""
        by_endpoint: dict[Any, list[Rule]] = {}
        for rule in self._rules:
            by_endpoint.setdefault(rule.endpoint, []).append(rule)
        redirect_defaults = self._redirect_defaults
        for rules in by_endpoint.values():
            rules.sort(key=Rule._build_compare_key)
            for i, rule in enumerate(rules):
                rule._default_providers = tuple(
                    r for r in rules[:i] if r._provides_defaults_for(rule)
                )
                rule._post = rule.redirect_to is not None or (
                    redirect_defaults and (rule.alias or bool(rule._default_providers))
                )
        matchable = [rule for rule in self._rules if not rule.build_only]
        domain_mode = self.host_matching or any(r._domain_template for r in matchable)
        alternatives = compile_alternatives(matchable, domain_mode)
        static = (
            {} if self.host_matching else static_routes(matchable, redirect_defaults)
        )
        http: dict[str | None, MethodMatcher] = {}
        ws: dict[str | None, MethodMatcher] = {}

        self._by_endpoint = {key: tuple(rules) for key, rules in by_endpoint.items()}
        self._known_methods = frozenset(m for r in matchable for m in r.methods or ())
        self._domain_mode = domain_mode
        self._snapshot = (alternatives, http, ws)
        self._http, self._ws = http, ws
        self.static_routes = static
        self.fast_path_ok = not domain_mode
        self._dirty = False
        self._plain = not domain_mode

    def _matcher(self, method: str, websocket: bool) -> MethodMatcher:
        """Return (compiling on first use) the matcher for *method* and protocol."""
        alternatives, http, ws = self._snapshot
        cache = ws if websocket else http
        # Methods no rule names share one matcher, so arbitrary method names
        # sent by clients cannot grow the cache.
        key = method if method in self._known_methods else None
        matcher = cache.get(key)
        if matcher is None:
            matcher = MethodMatcher(alternatives, key, websocket, not self._domain_mode)
            cache[key] = matcher
        return matcher

    # -- matching ----------------------------------------------------------------

    def match(
        self,
        path: str,
        method: str,
        *,
        host: str = "",
        subdomain: str | None = None,
        websocket: bool = False,
    ) -> tuple[Rule, dict[str, Any]]:
        """Find the rule for a request and convert its variables.

        :param path: the percent-decoded path, without the script root.
        :param method: the upper-case request method.
        :param host: the request host; used only with ``host_matching``.
        :param subdomain: the request subdomain; ``None`` means the map's
            ``default_subdomain``.
        :param websocket: match WebSocket rules instead of HTTP rules.
        :return: ``(rule, values)``: the rule's defaults, then the converted values.
        :raises werkzeug.exceptions.NotFound: no rule matches.
        :raises werkzeug.exceptions.MethodNotAllowed: rules match the path but not
            the method; ``valid_methods`` lists theirs.
        :raises WebsocketMismatch: only rules of the other protocol match
            (:class:`UpgradeRequired`, a 426, for an HTTP request).
        :raises RedirectRequired: the request must be redirected (see its doc).
        """
        if subdomain or not self._plain:
            return self._match_domain(path, method, host, subdomain, websocket)
        if not websocket:
            # PERF: a literal path is one dict lookup (bench: static match).
            routes = self.static_routes.get(path)
            if routes is not None:
                rule = routes.get(method) or routes.get("*")
                if rule is not None:
                    return rule, dict(rule.defaults) if rule.defaults else {}
        if path[1:2] == "/":
            return self._match_odd(path, method, "", websocket)
        matcher = (self._ws if websocket else self._http).get(method) or self._matcher(
            method, websocket
        )
        end = path.find("/", 1)
        compiled = matcher.by_seg.get(
            path[1:end] if end > 0 else path[1:], matcher.default
        )
        m = compiled.match(path)
        if m is None:
            if path[:1] != "/" and path:
                return self._match_odd(path, method, "", websocket)
            if self.merge_slashes and "//" in path:
                return self._fail(matcher, compiled, path, path, method, websocket, "")
            raise NotFound()
        entry = compiled.table[m.lastindex]  # type: ignore[index]
        if entry is BLOCKED:
            return self._fail(matcher, compiled, path, path, method, websocket, "")
        rule, redirect, converters, post, pos = entry
        if redirect:
            raise RedirectRequired(quote_path(path + "/"))
        values = {}
        try:
            # PERF: a plain loop, not a comprehension (which is a function call).
            for name, group, convert in converters:
                values[name] = (
                    m.group(group) if convert is None else convert(m.group(group))
                )
        except ValidationError:
            return self._slow(
                matcher, compiled, pos + 1, path, path, method, websocket, ""
            )
        if rule.defaults:
            values.update(rule.defaults)
        if post:
            self._post_match(rule, values, method, "")
        return rule, values

    def _match_domain(
        self, path: str, method: str, host: str, subdomain: str | None, websocket: bool
    ) -> tuple[Rule, dict[str, Any]]:
        """Match when a host or subdomain takes part (the slower general case).

        Also the entry point after rules were added (``_plain`` is then false).
        """
        if self._dirty:
            self.refresh()
        if self.host_matching:
            domain = host.lower()
        else:
            domain = self.default_subdomain if subdomain is None else subdomain
        if not self._domain_mode:
            if domain:
                raise NotFound()  # every rule is on the empty subdomain
            return self.match(path, method, websocket=websocket)  # now _plain
        if path and (path[0] != "/" or path[1:2] == "/"):
            return self._match_odd(path, method, domain, websocket)
        return self._match_general(path, method, domain, websocket)

    def _match_odd(
        self, path: str, method: str, domain: str, websocket: bool
    ) -> tuple[Rule, dict[str, Any]]:
        """Match a (non-empty) path that lacks its leading slash or has several.

        Like Werkzeug, extra leading slashes are dropped before matching; unless
        the rule turned ``merge_slashes`` off, the client is then redirected to
        the canonical path, so ``//admin`` is never served under a second name.
        """
        canonical = "/" + path.lstrip("/")
        rule, values = self._match_general(canonical, method, domain, websocket)
        if path[:2] == "//" and rule.merge_slashes:
            raise RedirectRequired(quote_path(canonical))
        return rule, values

    def _match_general(
        self, path: str, method: str, domain: str, websocket: bool
    ) -> tuple[Rule, dict[str, Any]]:
        """Match *path* on *domain*: the same steps as :meth:`match`, unrolled less."""
        if not websocket and not domain and not self.host_matching:
            routes = self.static_routes.get(path)
            if routes is not None:
                rule = routes.get(method) or routes.get("*")
                if rule is not None:
                    return rule, dict(rule.defaults) if rule.defaults else {}
        matcher = self._matcher(method, websocket)
        if self._domain_mode:
            subject = f"{domain}|{path}"
            compiled = matcher.default
        else:
            subject = path
            compiled = matcher.for_path(path)
        return self._slow(
            matcher, compiled, 0, subject, path, method, websocket, domain
        )

    def _slow(
        self,
        matcher: MethodMatcher,
        compiled: Compiled,
        start: int,
        subject: str,
        path: str,
        method: str,
        websocket: bool,
        domain: str,
    ) -> tuple[Rule, dict[str, Any]]:
        """Try the viable alternatives from *start* on, one regex at a time.

        Used after a converter raised ValidationError (the next candidate gets
        its turn) and for domain matching.
        """
        if start == 0:
            m = compiled.match(subject)
            if m is None or compiled.table[m.lastindex] is BLOCKED:  # type: ignore[index]
                return self._fail(
                    matcher, compiled, subject, path, method, websocket, domain
                )
            start = compiled.table[m.lastindex][4]  # type: ignore[index]
        for alt in compiled.viable[start:]:
            m = alt.regex()(subject)
            if m is None:
                continue
            rule = alt.rule
            if alt.kind == NOSLASH and rule.strict_slashes:
                raise RedirectRequired(quote_path(path + "/"))
            converters = rule._converters
            try:
                values = {
                    name: converters[name].to_python(m.group(group))
                    for name, group in alt.var_groups
                }
            except ValidationError:
                continue
            if rule.defaults:
                values.update(rule.defaults)
            if rule._post:
                self._post_match(rule, values, method, domain)
            return rule, values
        return self._fail(matcher, compiled, subject, path, method, websocket, domain)

    def _fail(
        self,
        matcher: MethodMatcher,
        compiled: Compiled,
        subject: str,
        path: str,
        method: str,
        websocket: bool,
        domain: str,
    ) -> NoReturn:
        """Raise the right error, or the merged-slashes redirect, for an unmatched path."""
        allowed: set[str] = set()
        mismatch = _collect_blocked(compiled, subject, method, websocket, allowed)
        if self.merge_slashes and "//" in path:
            merged = _MULTI_SLASH.sub("/", path)
            merged_subject = subject[: len(subject) - len(path)] + merged
            merged_compiled = (
                matcher.default if self._domain_mode else matcher.for_path(merged)
            )
            m = merged_compiled.match(merged_subject)
            first = None
            if m is not None:
                entry = merged_compiled.table[m.lastindex]  # type: ignore[index]
                if entry is not BLOCKED:
                    if entry[1]:
                        raise RedirectRequired(quote_path(merged + "/"))
                    if entry[0].merge_slashes:
                        raise RedirectRequired(quote_path(merged))
                    # Werkzeug stops at this rule: only rules tried before it
                    # count for a 405.
                    first = merged_compiled.viable[entry[4]]
            mismatch |= _collect_blocked(
                merged_compiled, merged_subject, method, websocket, allowed, first
            )
        if allowed:
            raise MethodNotAllowed(valid_methods=sorted(allowed))
        if mismatch:
            # An HTTP request for a WebSocket-only URL: 426, not Werkzeug's 400.
            raise WebsocketMismatch() if websocket else UpgradeRequired()
        raise NotFound()

    def _post_match(
        self, rule: Rule, values: dict[str, Any], method: str, domain: str
    ) -> None:
        """Raise the redirect an alias, a defaults rule or ``redirect_to`` asks for."""
        if self._redirect_defaults:
            if rule.alias:
                target, built_domain, built_path = self.build_rule(
                    rule.endpoint, values, method, append_unknown=False
                )
                if target is rule:
                    raise RuntimeError(
                        f"alias rule {rule!r} is the only rule that builds endpoint"
                        f" {rule.endpoint!r}; add the canonical rule or drop alias=True."
                    )
                raise RedirectRequired(built_path, _other(built_domain, domain))
            for provider in rule._default_providers:
                if provider._suitable_for(values, method):
                    built = provider._build({**values, **provider.defaults})  # type: ignore[dict-item]
                    if built is not None:
                        raise RedirectRequired(built[1], _other(built[0], domain))
        target = rule.redirect_to
        if target is None:
            return
        if isinstance(target, str):
            converters = rule._converters

            def fill(m: re.Match[str]) -> str:
                name = m.group(1)
                if name in converters:
                    return converters[name].to_url(values[name])
                return quote_path(str(values[name]))

            raise RedirectRequired(_PLACEHOLDER.sub(fill, target), from_rule=True)
        raise RedirectRequired(target(None, **values), from_rule=True)

    # -- building ----------------------------------------------------------------

    def build(
        self,
        endpoint: Any,
        values: Mapping[str, Any] | None = None,
        method: str | None = None,
        *,
        append_unknown: bool = True,
        websocket: bool | None = None,
        host: str | None = None,
        default_method: str | None = "GET",
    ) -> tuple[str, str]:
        """Build the URL of *endpoint* from *values*.

        :param values: the rule's variables; other keys become the query string
            (in the given order, lists repeated, ``None`` dropped) unless
            *append_unknown* is false.  A ``MultiDict`` is accepted.
        :param method: build only from rules that allow this method.  When
            ``None``, rules allowing *default_method* are preferred (Werkzeug
            uses the current request's method there; the app passes it).
        :param websocket: when not ``None``, only rules of that protocol.
        :param host: with ``host_matching``, prefer a rule built for this host.
        :return: ``(domain_part, path_and_query)``; the domain part is the
            rule's subdomain (its host with ``host_matching``) filled in.
        :raises BuildError: no rule of the endpoint fits the values and method.
        """
        _, domain, path = self.build_rule(
            endpoint,
            values,
            method,
            append_unknown=append_unknown,
            websocket=websocket,
            host=host,
            default_method=default_method,
        )
        return domain, path

    def build_rule(
        self,
        endpoint: Any,
        values: Mapping[str, Any] | None = None,
        method: str | None = None,
        *,
        append_unknown: bool = True,
        websocket: bool | None = None,
        host: str | None = None,
        default_method: str | None = "GET",
    ) -> tuple[Rule, str, str]:
        """Do what :meth:`build` does, and also return the rule that was used.

        The app needs the rule to give WebSocket rules a ``ws://`` URL.
        """
        if self._dirty:
            self.refresh()
        if values:
            if isinstance(values, MultiDict):
                values = {
                    k: (v[0] if len(v) == 1 else v) for k, v in dict.items(values) if v
                }
            else:
                values = {k: v for k, v in values.items() if v is not None}
        else:
            values = {}
        rules = self._by_endpoint.get(endpoint, ())
        found = None
        if method is None and default_method is not None:
            found = self._first_buildable(
                rules, values, default_method, append_unknown, websocket, host
            )
        if found is None:
            found = self._first_buildable(
                rules, values, method, append_unknown, websocket, host
            )
        if found is None:
            raise BuildError(endpoint, values, method, self._rules, websocket)
        return found

    def _first_buildable(
        self,
        rules: tuple[Rule, ...],
        values: Mapping[str, Any],
        method: str | None,
        append_unknown: bool,
        websocket: bool | None,
        host: str | None,
    ) -> tuple[Rule, str, str] | None:
        """Build with the first rule that fits (with host matching: on *host* if any)."""
        fallback = None
        for rule in rules:
            if websocket is not None and rule.websocket != websocket:
                continue
            # PERF: Rule._suitable_for inlined (one call less per rule).
            if (
                method is not None
                and rule.methods is not None
                and method not in rule.methods
            ):
                continue
            missing = False
            for name in rule._required:
                if name not in values:
                    missing = True
                    break
            if missing:
                continue
            if rule.defaults and not rule._defaults_agree(values):
                continue
            built = rule._build(values, append_unknown)
            if built is None:
                continue
            if host is None or not self.host_matching or built[0] == host:
                return rule, built[0], built[1]
            if fallback is None:
                fallback = (rule, built[0], built[1])
        return fallback


def _other(built_domain: str, domain: str) -> str | None:
    """Return *built_domain* if a redirect must change domain, else ``None``."""
    return None if built_domain == domain else built_domain


def _collect_blocked(
    compiled: Compiled,
    subject: str,
    method: str,
    websocket: bool,
    allowed: set[str],
    before: Alternative | None = None,
) -> bool:
    """Add the methods of rules that match *subject* but not *method* to *allowed*.

    Only alternatives sorted before *before* count, if it is given.

    :return: whether a rule of the other protocol matched.
    """
    mismatch = False
    for alt in compiled.blocked:
        if before is not None and alt.key > before.key:
            break
        if alt.regex()(subject) is None:
            continue
        rule = alt.rule
        if rule.methods is not None and method not in rule.methods:
            allowed.update(rule.methods)
        elif rule.websocket != websocket:
            mismatch = True
    return mismatch
