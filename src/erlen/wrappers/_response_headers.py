"""Typed header properties for :class:`~erlen.wrappers.response.Response`.

Holds :class:`ResponseHeadersMixin` — the properties that read and write one
response header as a Python value (dates, live ``HeaderSet`` and ``Cache-Control``
objects, CORS, CSP, cross-origin policies, ``WWW-Authenticate``) and the ETag
helpers — and the descriptors they are built from. None of this is on the hot
path: every property goes through ``self.headers`` and is paid for only when used.
Content-Type, Content-Length and Location stay in :mod:`erlen.wrappers.response`
because they share the lazy header fields and validation of the wire form.

Imports nothing from erlen. Uses Werkzeug's ``datastructures`` and ``http``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from werkzeug import http as wh
from werkzeug.datastructures import (
    ContentRange,
    ContentSecurityPolicy,
    HeaderSet,
    ResponseCacheControl,
    WWWAuthenticate,
)
from werkzeug.http import COEP, COOP, dump_header, http_date, parse_date
from werkzeug.http import parse_set_header as _parse_set

if TYPE_CHECKING:
    from werkzeug.datastructures import Headers

__all__ = ["ResponseHeadersMixin"]


# -- Descriptors ----------------------------------------------------------------
class _HeaderProp:
    """A property over one header, with optional parse (load) and format (dump)."""

    def __init__(
        self,
        name: str,
        load: Callable[[str], Any] | None = None,
        dump: Callable[[Any], str] | None = None,
        doc: str | None = None,
        default: Any = None,
    ) -> None:
        self.name, self.load, self.dump, self.default = name, load, dump, default
        self.__doc__ = doc or f"The ``{name}`` header."

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = obj.headers.get(self.name)
        if value is None:
            return self.default
        if self.load is None:
            return value
        try:
            return self.load(value)
        except (ValueError, TypeError):
            return self.default

    def __set__(self, obj: Any, value: Any) -> None:
        # Werkzeug writes the string "None"; erlen removes the header instead.
        if value is None:
            obj.headers.pop(self.name, None)
        else:
            obj.headers[self.name] = value if self.dump is None else self.dump(value)

    def __delete__(self, obj: Any) -> None:
        obj.headers.pop(self.name, None)


class _SetHeaderProp(_HeaderProp):
    """A header holding a comma-separated set, as a live :class:`HeaderSet`."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        name = self.name

        def on_update(header_set: HeaderSet) -> None:
            if header_set:
                obj.headers[name] = header_set.to_header()
            else:
                obj.headers.pop(name, None)

        return _parse_set(obj.headers.get(name), on_update)

    def __set__(self, obj: Any, value: Any) -> None:
        if not value:
            obj.headers.pop(self.name, None)
        else:
            obj.headers[self.name] = (
                value if isinstance(value, str) else dump_header(value)
            )


class _ObjectHeaderProp(_HeaderProp):
    """A header parsed into a live object (Content-Range, CSP) that writes back."""

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        name = self.name

        def on_update(value: Any) -> None:
            if value:
                obj.headers[name] = value.to_header()
            else:
                obj.headers.pop(name, None)

        rv = self.load(obj.headers.get(name), on_update)  # type: ignore[misc]
        return self.default(on_update) if rv is None else rv

    def __set__(self, obj: Any, value: Any) -> None:
        if not value:
            obj.headers.pop(self.name, None)
        else:
            obj.headers[self.name] = (
                value if isinstance(value, str) else value.to_header()
            )


def _retry_after_load(value: str) -> Any:
    if value.isascii() and value.isdigit():
        return datetime.now(UTC) + timedelta(seconds=int(value))
    return parse_date(value)


def _retry_after_dump(value: Any) -> str:
    return (
        value
        if isinstance(value, str)
        else (str(value) if isinstance(value, int) else http_date(value))
    )


# -- The mixin ------------------------------------------------------------------
class ResponseHeadersMixin:
    """The typed header properties and ETag helpers of a response.

    Needs ``headers`` (a :class:`~werkzeug.datastructures.Headers`) and
    ``get_data()`` from the class it is mixed into.
    """

    if TYPE_CHECKING:
        headers: Headers

        def get_data(self, as_text: bool = False) -> Any: ...

    content_location = _HeaderProp("Content-Location")
    content_encoding = _HeaderProp("Content-Encoding")
    content_md5 = _HeaderProp("Content-MD5")
    accept_ranges = _HeaderProp("Accept-Ranges", doc="The ``Accept-Ranges`` token.")
    age = _HeaderProp("Age", wh.parse_age, wh.dump_age, "``Age`` as a timedelta.")
    date = _HeaderProp("Date", parse_date, http_date, "``Date`` as an aware datetime.")
    expires = _HeaderProp(
        "Expires", parse_date, http_date, "``Expires`` as a datetime."
    )
    last_modified = _HeaderProp(
        "Last-Modified", parse_date, http_date, "``Last-Modified`` as a datetime."
    )
    retry_after = _HeaderProp(
        "Retry-After",
        _retry_after_load,
        _retry_after_dump,
        "``Retry-After`` as an aware datetime; set a datetime or seconds.",
    )
    vary = _SetHeaderProp("Vary", doc="``Vary`` as a live HeaderSet.")
    content_language = _SetHeaderProp("Content-Language", doc="A live HeaderSet.")
    allow = _SetHeaderProp("Allow", doc="``Allow`` as a live HeaderSet.")
    content_range = _ObjectHeaderProp(
        "Content-Range",
        wh.parse_content_range_header,
        doc="``Content-Range`` as a live ContentRange (always available).",
        default=lambda on_update: ContentRange(None, None, None, on_update=on_update),
    )
    content_security_policy = _ObjectHeaderProp(
        "Content-Security-Policy",
        wh.parse_csp_header,
        doc="``Content-Security-Policy`` as a live ContentSecurityPolicy.",
        default=lambda on_update: ContentSecurityPolicy(None, on_update=on_update),
    )
    content_security_policy_report_only = _ObjectHeaderProp(
        "Content-Security-Policy-Report-Only",
        wh.parse_csp_header,
        doc="``Content-Security-Policy-Report-Only`` as a live object.",
        default=lambda on_update: ContentSecurityPolicy(None, on_update=on_update),
    )
    access_control_allow_origin = _HeaderProp("Access-Control-Allow-Origin")
    access_control_allow_headers = _HeaderProp(
        "Access-Control-Allow-Headers", _parse_set, dump_header
    )
    access_control_allow_methods = _HeaderProp(
        "Access-Control-Allow-Methods", _parse_set, dump_header
    )
    access_control_expose_headers = _HeaderProp(
        "Access-Control-Expose-Headers", _parse_set, dump_header
    )
    access_control_max_age = _HeaderProp("Access-Control-Max-Age", int, str)
    cross_origin_opener_policy = _HeaderProp(
        "Cross-Origin-Opener-Policy", COOP, lambda v: v.value, default=COOP.UNSAFE_NONE
    )
    cross_origin_embedder_policy = _HeaderProp(
        "Cross-Origin-Embedder-Policy",
        COEP,
        lambda v: v.value,
        default=COEP.UNSAFE_NONE,
    )

    @property
    def access_control_allow_credentials(self) -> bool:
        """Whether ``Access-Control-Allow-Credentials: true`` is sent."""
        return "Access-Control-Allow-Credentials" in self.headers

    @access_control_allow_credentials.setter
    def access_control_allow_credentials(self, value: bool | None) -> None:
        if value is True:
            self.headers["Access-Control-Allow-Credentials"] = "true"
        else:
            self.headers.pop("Access-Control-Allow-Credentials", None)

    @property
    def cache_control(self) -> ResponseCacheControl:
        """``Cache-Control`` as a live ResponseCacheControl that rewrites the header.

        >>> from erlen import Response
        >>> r = Response(); r.cache_control.max_age = 60; r.headers["Cache-Control"]
        'max-age=60'
        """

        def on_update(cc: Any) -> None:
            if cc:
                self.headers["Cache-Control"] = cc.to_header()
            else:
                self.headers.pop("Cache-Control", None)

        return wh.parse_cache_control_header(
            self.headers.get("Cache-Control"), on_update, ResponseCacheControl
        )

    @property
    def www_authenticate(self) -> WWWAuthenticate:
        """``WWW-Authenticate`` (first value) as a live object; assign a list too."""
        value = WWWAuthenticate.from_header(self.headers.get("WWW-Authenticate"))
        if value is None:
            value = WWWAuthenticate("basic")

        def on_update(v: WWWAuthenticate) -> None:
            self.www_authenticate = v

        value._on_update = on_update
        return value

    @www_authenticate.setter
    def www_authenticate(
        self, value: WWWAuthenticate | list[WWWAuthenticate] | None
    ) -> None:
        headers = self.headers
        if not value:
            headers.pop("WWW-Authenticate", None)
        elif isinstance(value, list):
            headers.set("WWW-Authenticate", value[0].to_header())
            for item in value[1:]:
                headers.add("WWW-Authenticate", item.to_header())
        else:
            headers.set("WWW-Authenticate", value.to_header())

            def on_update(v: WWWAuthenticate) -> None:
                self.www_authenticate = v

            value._on_update = on_update

    @www_authenticate.deleter
    def www_authenticate(self) -> None:
        self.headers.pop("WWW-Authenticate", None)

    # -- ETags ----------------------------------------------------------------------
    def get_etag(self) -> tuple[str, bool] | tuple[None, None]:
        """Return ``(etag, is_weak)`` or ``(None, None)`` when no ETag is set."""
        return wh.unquote_etag(self.headers.get("ETag"))

    def set_etag(self, etag: str, weak: bool = False) -> None:
        """Set the ETag header, quoting ``etag`` (weak with ``W/`` if ``weak``)."""
        self.headers["ETag"] = wh.quote_etag(etag, weak)

    def add_etag(self, overwrite: bool = False, weak: bool = False) -> None:
        """Set an ETag from a SHA-1 of the body unless one is set (or ``overwrite``)."""
        if overwrite or "ETag" not in self.headers:
            self.set_etag(wh.generate_etag(self.get_data()), weak)
