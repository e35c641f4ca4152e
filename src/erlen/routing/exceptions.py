"""Hold the exceptions the router raises besides Werkzeug's HTTP errors.

``ValidationError``, ``RequestRedirect`` and ``WebsocketMismatch`` are Werkzeug's
own classes, re-exported so that code written for Flask catches and raises the
same types.  ``BuildError`` subclasses Werkzeug's so ``except BuildError`` in
existing code keeps working; so does ``UpgradeRequired``, the 426 raised for a
plain HTTP request to a WebSocket-only URL, for ``except WebsocketMismatch``.

Imports no other erlen module.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.routing import BuildError as _WerkzeugBuildError
from werkzeug.routing import RequestRedirect, ValidationError, WebsocketMismatch

if TYPE_CHECKING:  # pragma: no cover
    from .rules import Rule

__all__ = [
    "BuildError",
    "RedirectRequired",
    "RequestRedirect",
    "UpgradeRequired",
    "ValidationError",
    "WebsocketMismatch",
]


class UpgradeRequired(WebsocketMismatch):
    """426 Upgrade Required: the URL serves WebSocket connections only.

    Raised by :meth:`Map.match` for a plain HTTP request that only WebSocket
    rules match (under WSGI every request is one), and by the WebSocket
    handshake for a protocol version erlen's servers do not speak (RFC 6455
    §4.4). A :class:`WebsocketMismatch` (Werkzeug answers 400 there), so code
    catching that keeps working. Register an error handler for this class to
    change the page.
    """

    code = 426
    description = (
        "This URL accepts WebSocket connections only. Connect with a WebSocket"
        " client (ws:// or wss://); the app must be served by an ASGI server,"
        " since WSGI cannot carry WebSockets."
    )

    def get_headers(
        self, environ: Any = None, scope: Any = None
    ) -> list[tuple[str, str]]:
        """Name the protocol to upgrade to, as RFC 9110 §15.5.22 requires."""
        return [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
        ]


class RedirectRequired(Exception):
    """Tell the caller of :meth:`Map.match` to redirect instead of dispatching.

    Not an HTTP exception: the app turns it into a 308 response.

    :ivar path: where to go.  For a canonical redirect (trailing slash, merged
        slashes, defaults, alias) this is a percent-encoded path starting with
        ``/``, relative to the script root; keep the request's query string.
        For a rule's ``redirect_to`` (``from_rule`` true) it is the rule's target
        as written, which may be relative (``"new/<id>"`` filled in), an absolute
        path or a full URL: resolve it against ``<scheme>://<host><script_root>/``
        and do not append the query string (Werkzeug's behaviour).
    :ivar domain: ``None`` to stay on the request's host; otherwise the subdomain
        (or, with host matching, the host) of the rule redirected to.
    :ivar from_rule: true when the redirect comes from a rule's ``redirect_to``.
    """

    def __init__(
        self, path: str, domain: str | None = None, from_rule: bool = False
    ) -> None:
        super().__init__(path)
        self.path = path
        self.domain = domain
        self.from_rule = from_rule


def _score(
    rule: Rule, endpoint: Any, values: Iterable[str], method: str | None
) -> float:
    """Rank *rule* as a suggestion for a failed build (endpoint name similarity first)."""
    name_ratio = difflib.SequenceMatcher(
        None, str(rule.endpoint), str(endpoint)
    ).ratio()
    fits_values = set(values) <= rule.arguments
    fits_method = bool(rule.methods and method in rule.methods)
    return name_ratio * 0.98 + 0.01 * fits_values + 0.01 * fits_method


class BuildError(_WerkzeugBuildError):
    """Say that no rule could build a URL for an endpoint with the given values.

    Subclasses ``werkzeug.routing.BuildError``, so ``except BuildError`` written
    for Flask catches it.  The message names what is missing::

        Could not build url for endpoint 'user' with values ['page'].
        Did you forget to specify values ['uid']?

    :param endpoint: the endpoint asked for.
    :param values: the values given (after ``None`` values were dropped).
    :param method: the method asked for, or ``None``.
    :param rules: the map's rules, to suggest the closest one.
    :param websocket: the websocket filter asked for, or ``None``.
    """

    def __init__(
        self,
        endpoint: Any,
        values: Mapping[str, Any],
        method: str | None,
        rules: Iterable[Rule] = (),
        websocket: bool | None = None,
    ) -> None:
        super().__init__(endpoint, values, method, None)
        self.rules = list(rules)
        self.websocket = websocket

    @property
    def suggested(self) -> Rule | None:  # type: ignore[override]
        """Return the rule that best fits what was asked for, or ``None``."""
        if not self.rules:
            return None
        keys = list(self.values or ())
        return max(
            self.rules, key=lambda r: _score(r, self.endpoint, keys, self.method)
        )

    def __str__(self) -> str:
        parts = [f"Could not build url for endpoint {self.endpoint!r}"]
        if self.method:
            parts.append(f" ({self.method!r})")
        if self.values:
            parts.append(f" with values {sorted(self.values)!r}")
        parts.append(".")
        own = [r for r in self.rules if r.endpoint == self.endpoint]
        if not own:
            best = self.suggested
            if best is not None and _score(best, self.endpoint, (), None) > 0.6:
                parts.append(f" Did you mean {best.endpoint!r} instead?")
            else:
                parts.append(" No URL rule is registered for this endpoint.")
            return "".join(parts)
        parts.append(self._explain(own))
        return "".join(parts)

    def _explain(self, own: list[Rule]) -> str:
        """Say why none of the endpoint's own rules *own* could build the URL."""
        if self.websocket is not None:
            own = [r for r in own if r.websocket == self.websocket]
            if not own:
                kind = "WebSocket" if self.websocket else "HTTP"
                return f" The endpoint has no {kind} rule."
        if self.method:
            allowed = [r for r in own if r.methods is None or self.method in r.methods]
            if not allowed:
                methods = sorted({m for r in own for m in r.methods or ()})
                return f" Did you mean to use methods {methods!r}?"
            own = allowed
        given = set(self.values or ())
        missing = [sorted(r.arguments - given - set(r.defaults or ())) for r in own]
        fewest = min(missing, key=len)
        if fewest:
            return f" Did you forget to specify values {fewest!r}?"
        conflicts = sorted(
            {
                key
                for r in own
                for key, value in (r.defaults or {}).items()
                if key in given and self.values[key] != value
            }
        )
        if conflicts:
            return (
                f" The values {conflicts!r} differ from the defaults of the"
                " endpoint's rules."
            )
        return " A converter rejected one of the values."
