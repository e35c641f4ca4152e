"""Typed header properties for :class:`~erlen.wrappers.request.Request`.

Holds :class:`RequestHeadersMixin` — the properties that read one request header
from the environ as a Python value (``Accept*``, ``Authorization``,
``Cache-Control``, ``Pragma``, the ``If-*`` conditionals, ``Range``, dates,
``User-Agent``, ``Origin``, ``Referer``, ``Max-Forwards``, the CORS preflight
headers, ``Content-MD5``, ``Content-Encoding``, ``X-Forwarded-For`` as
``access_route`` and the parsed ``Content-Type`` as ``mimetype`` /
``mimetype_params``) — and the descriptors and parsers they are built from,
including ``_parse_content_type``, which the form loader also uses.

None of this is on the hot path: each property is computed on first access, and
the parsed ones are kept in the request's ``__slots__`` fields, which
:class:`~erlen.wrappers.request.Request` declares (the mixin adds no slot and no
``__dict__``). ``headers``, ``cookies``, ``content_type`` and ``content_length``
stay in :mod:`erlen.wrappers.request` with the other properties every request
may need.

Imports nothing from erlen. Uses Werkzeug's ``datastructures``, ``http`` and
``user_agent``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import (
    Accept,
    Authorization,
    CharsetAccept,
    HeaderSet,
    LanguageAccept,
    MIMEAccept,
    Range,
    RequestCacheControl,
)
from werkzeug.http import (
    parse_accept_header,
    parse_cache_control_header,
    parse_date,
    parse_etags,
    parse_if_range_header,
    parse_list_header,
    parse_options_header,
    parse_range_header,
    parse_set_header,
)

if TYPE_CHECKING:
    from werkzeug.user_agent import UserAgent

__all__ = [
    "MAX_ACCEPT_LENGTH",
    "MAX_RANGES",
    "MAX_RANGE_LENGTH",
    "RequestHeadersMixin",
]

#: Accept-* headers are parsed up to this many characters (BAD_INPUTS 53).
MAX_ACCEPT_LENGTH = 500
#: A Range header with more ranges, or more characters, is ignored (BAD_INPUTS 52).
MAX_RANGES = 100
MAX_RANGE_LENGTH = 8192


# -- Descriptors and parsers ----------------------------------------------------


def _environ_value(key: str, doc: str) -> Any:
    """Make a read-only property giving ``environ.get(key)``."""

    def get(self: Any) -> Any:
        return self.environ.get(key)

    return property(get, doc=doc)


def _environ_parsed(key: str, parse: Callable[[Any], Any], doc: str) -> Any:
    """Make a read-only property giving ``parse(environ.get(key))``."""

    def get(self: Any) -> Any:
        return parse(self.environ.get(key))

    return property(get, doc=doc)


class _Parsed:
    """A header parsed on first access and kept in the request's ``_<name>`` slot."""

    def __init__(self, key: str, parse: Callable[[Any], Any], doc: str) -> None:
        self.key = key
        self.parse = parse
        self.__doc__ = doc
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = getattr(obj, self.slot)
        if value is None:
            value = self.parse(obj.environ.get(self.key))
            setattr(obj, self.slot, value)
        return value


def _bounded_accept(value: str | None) -> str | None:
    """Cut an Accept-* value to its complete items within MAX_ACCEPT_LENGTH."""
    if value is not None and len(value) > MAX_ACCEPT_LENGTH:
        value = value[:MAX_ACCEPT_LENGTH]
        cut = value.rfind(",")
        value = value[:cut] if cut > 0 else ""
    return value


def _accept(cls: type[Accept]) -> Callable[[str | None], Any]:
    return lambda value: parse_accept_header(_bounded_accept(value), cls)


def _bounded_range(value: str | None) -> Range | None:
    """Parse a Range header unless it has too many ranges or characters."""
    if value is None or len(value) > MAX_RANGE_LENGTH:
        return None
    if value.count(",") >= MAX_RANGES:
        return None
    return parse_range_header(value)


# A media type with one token parameter (``multipart/form-data; boundary=xyz``). For
# such a value parse_options_header gives exactly (type, {name.lower(): value});
# "*" (RFC 2231) and "%" (%22 unescaping) are left to it.
_TOKEN = r"[\w!#$&'+\-.^`|~]+"
_SIMPLE_CONTENT_TYPE_RE = re.compile(
    rf"[ \t]*([^;]*?)[ \t]*;[ \t]*({_TOKEN})=({_TOKEN})[ \t]*", re.ASCII
)


def _parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Return the lower-cased mimetype of a Content-Type and its parameters."""
    # PERF: the two common shapes skip parse_options_header (a dozen calls).
    if ";" not in value:
        return value.strip(" \t").lower(), {}
    match = _SIMPLE_CONTENT_TYPE_RE.fullmatch(value)
    if match is not None:
        mimetype, key, param = match.groups()
        if mimetype:
            return mimetype.lower(), {key.lower(): param}
    mimetype, params = parse_options_header(value)
    return mimetype.lower(), params


# -- The mixin ------------------------------------------------------------------


class RequestHeadersMixin:
    """The typed header properties of a request.

    Needs ``environ`` (the WSGI environ), ``user_agent_class``,
    ``list_storage_class`` and a slot for each cached property
    (``_accept_mimetypes``, ``_range``, ``_user_agent``, ``_access_route``,
    ``_content_type``...) that reads as ``None`` until filled, from the class it
    is mixed into.
    """

    # PERF: no __dict__, so the requests stay slot-only (see Request.__slots__).
    __slots__ = ()

    if TYPE_CHECKING:
        environ: dict[str, Any]
        user_agent_class: type[UserAgent]
        list_storage_class: type[list[Any]]

        # The cache slots (``_user_agent``...) read as None until filled.
        def __getattr__(self, name: str) -> Any: ...

    content_encoding = _environ_value(
        "HTTP_CONTENT_ENCODING",
        "The ``Content-Encoding`` header. erlen does not decode the body.",
    )
    content_md5 = _environ_value("HTTP_CONTENT_MD5", "The ``Content-MD5`` header.")
    referrer = _environ_value("HTTP_REFERER", "The ``Referer`` header.")
    origin = _environ_value("HTTP_ORIGIN", "The ``Origin`` header.")
    access_control_request_method = _environ_value(
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD",
        "The ``Access-Control-Request-Method`` of a CORS preflight.",
    )
    date = _environ_parsed(
        "HTTP_DATE", parse_date, "The ``Date`` header as an aware datetime."
    )
    if_modified_since = _environ_parsed(
        "HTTP_IF_MODIFIED_SINCE", parse_date, "``If-Modified-Since`` as a datetime."
    )
    if_unmodified_since = _environ_parsed(
        "HTTP_IF_UNMODIFIED_SINCE",
        parse_date,
        "``If-Unmodified-Since`` as a datetime.",
    )
    # Accept-* values are cut to 500 characters before parsing (BAD_INPUTS 53).
    accept_mimetypes = _Parsed("HTTP_ACCEPT", _accept(MIMEAccept), "``Accept``.")
    accept_languages = _Parsed(
        "HTTP_ACCEPT_LANGUAGE", _accept(LanguageAccept), "``Accept-Language``."
    )
    accept_encodings = _Parsed(
        "HTTP_ACCEPT_ENCODING", _accept(Accept), "``Accept-Encoding``."
    )
    accept_charsets = _Parsed(
        "HTTP_ACCEPT_CHARSET", _accept(CharsetAccept), "``Accept-Charset``."
    )
    authorization = _Parsed(
        "HTTP_AUTHORIZATION",
        Authorization.from_header,
        "The ``Authorization`` header (Basic, Bearer, ...), or ``None``.",
    )
    cache_control = _Parsed(
        "HTTP_CACHE_CONTROL",
        lambda value: parse_cache_control_header(value, None, RequestCacheControl),
        "The ``Cache-Control`` header.",
    )
    pragma = _Parsed(
        "HTTP_PRAGMA", lambda v: parse_set_header(v or ""), "``Pragma`` as a set."
    )
    if_match = _Parsed("HTTP_IF_MATCH", parse_etags, "The ETags of ``If-Match``.")
    if_none_match = _Parsed(
        "HTTP_IF_NONE_MATCH", parse_etags, "The ETags of ``If-None-Match``."
    )
    if_range = _Parsed("HTTP_IF_RANGE", parse_if_range_header, "``If-Range``.")
    range = _Parsed(
        "HTTP_RANGE",
        _bounded_range,
        "The ``Range`` header; ``None`` if absent, invalid or over 100 ranges.",
    )

    @property
    def max_forwards(self) -> int | None:
        """The ``Max-Forwards`` header as an int (ASCII digits only)."""
        value = self.environ.get("HTTP_MAX_FORWARDS")
        if value is None:
            return None
        value = value.strip(" \t")
        if value.isascii() and value.isdigit() and len(value) <= 18:
            return int(value)
        return None

    @property
    def access_control_request_headers(self) -> HeaderSet | None:
        """The ``Access-Control-Request-Headers`` of a CORS preflight."""
        value = self.environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
        return None if value is None else parse_set_header(value)

    @property
    def user_agent(self) -> UserAgent:
        """The ``User-Agent``; ``user_agent.string`` is the header value."""
        agent = self._user_agent
        if agent is None:
            agent = self._user_agent = self.user_agent_class(
                self.environ.get("HTTP_USER_AGENT", "")
            )
        return agent  # type: ignore[no-any-return]

    @property
    def access_route(self) -> list[str]:
        """The ``X-Forwarded-For`` addresses, else ``[remote_addr]``.

        The header is client-controlled unless a trusted proxy sets it.
        """
        route = self._access_route
        if route is None:
            environ = self.environ
            if "HTTP_X_FORWARDED_FOR" in environ:
                items = parse_list_header(environ["HTTP_X_FORWARDED_FOR"])
            elif environ.get("REMOTE_ADDR") is not None:
                items = [environ["REMOTE_ADDR"]]
            else:
                items = []
            route = self._access_route = self.list_storage_class(items)
        return route  # type: ignore[no-any-return]

    def _parsed_content_type(self) -> tuple[str, dict[str, str]]:
        parsed = self._content_type
        if parsed is None:
            parsed = _parse_content_type(self.environ.get("CONTENT_TYPE", ""))
            self._content_type = parsed
        return parsed  # type: ignore[no-any-return]

    @property
    def mimetype(self) -> str:
        """The content type without parameters, lower case (``"text/html"``)."""
        return self._parsed_content_type()[0]

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The content type's parameters (``{"charset": "utf-8"}``)."""
        return self._parsed_content_type()[1]
