"""Read request bodies safely and parse HTML forms, with limits on everything.

What it holds:

- :func:`get_input_stream` — the body stream of a WSGI environ, cut at
  ``Content-Length`` and at ``max_content_length`` (413 once the body passes it);
  :func:`read_small_body` — a small body with a known length, read in one call;
- :class:`UrlencodedParser` — a push parser with a ``feed(chunk)`` /
  ``finish() -> (form, files)`` interface, like :class:`MultipartParser` (defined
  in :mod:`erlen.multipart`, re-exported here with that module's other public
  names), so the WSGI adapter (reading a file-like stream) and the ASGI adapter
  (awaiting ``receive``) drive the same code;
- :func:`create_form_parser` picks one for a mimetype; :func:`parse_form_data` is the
  synchronous loop over a stream (or parses a body already in memory);
- :func:`parse_query` (to a multi-dict) and :func:`parse_qsl_limited` (to pairs) —
  query-string parsing with a parameter limit.

Limits (defaults; the request passes its own values from the app config):

- ``max_form_parts`` (1000) parts or url-encoded fields, 100 of them files -> 413;
- ``max_form_memory_size`` (500 kB) per non-file field, counted across chunks -> 413;
- a total in-memory budget for non-file fields of ``min(max_content_length, 8 MiB)``
  (never below ``max_form_memory_size``; none when that is ``None``) -> 413; the
  url-encoded body as a whole is held to the same budget;
- the per-part limits of multipart bodies (headers, boundary, spooling to disk) are
  listed in :mod:`erlen.multipart`.

Not done on purpose: ``Content-Encoding`` (gzip, br, ...) request bodies are not
decompressed — the bytes are handed over as received, as Werkzeug does; a view that
wants them inflated must do it itself with its own size limit.

Imports only :mod:`erlen.multipart` (which imports no erlen module; Werkzeug
otherwise), so every erlen module may import this one.
"""

from __future__ import annotations

from io import BytesIO
from typing import IO, Any
from urllib.parse import parse_qsl, unquote

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec handler)
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import (
    BadRequest,
    ClientDisconnected,
    HTTPException,
    RequestEntityTooLarge,
)
from werkzeug.wsgi import LimitedStream, get_content_length

from .multipart import DEFAULT_MAX_FORM_MEMORY_SIZE as DEFAULT_MAX_FORM_MEMORY_SIZE
from .multipart import DEFAULT_MAX_FORM_PARTS as DEFAULT_MAX_FORM_PARTS
from .multipart import MAX_BOUNDARY_LENGTH as MAX_BOUNDARY_LENGTH
from .multipart import MAX_FILE_PARTS as MAX_FILE_PARTS
from .multipart import MAX_FORM_MEMORY_TOTAL as MAX_FORM_MEMORY_TOTAL
from .multipart import MAX_PART_HEADER_SIZE as MAX_PART_HEADER_SIZE
from .multipart import MAX_PART_HEADERS as MAX_PART_HEADERS
from .multipart import SPOOL_MAX_SIZE as SPOOL_MAX_SIZE
from .multipart import MultipartParser as MultipartParser
from .multipart import StreamFactory as StreamFactory
from .multipart import default_stream_factory as default_stream_factory
from .multipart import multidict_from_lists as multidict_from_lists
from .multipart import parse_boundary as parse_boundary

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_MAX_FORM_MEMORY_SIZE",
    "DEFAULT_MAX_FORM_PARTS",
    "FORM_MIMETYPES",
    "MAX_BOUNDARY_LENGTH",
    "MAX_FILE_PARTS",
    "MAX_FORM_MEMORY_TOTAL",
    "MAX_PART_HEADERS",
    "MAX_PART_HEADER_SIZE",
    "ONE_READ_MAX",
    "SPOOL_MAX_SIZE",
    "MultipartParser",
    "UrlencodedParser",
    "create_form_parser",
    "default_stream_factory",
    "form_memory_budget",
    "get_input_stream",
    "multidict_from_lists",
    "parse_boundary",
    "parse_form_data",
    "parse_qsl_limited",
    "parse_query",
    "parse_urlencoded",
    "read_small_body",
]

#: Bytes read from a stream at a time by :func:`parse_form_data`.
CHUNK_SIZE = 64 * 1024
#: A body with a ``Content-Length`` up to this size is read with one ``read`` call
#: (:func:`read_small_body`) instead of being streamed in CHUNK_SIZE pieces.
ONE_READ_MAX = 1024 * 1024

FORM_MIMETYPES = frozenset(("multipart/form-data", "application/x-www-form-urlencoded"))
_URL_QUOTE = "werkzeug.url_quote"


# -- body stream -------------------------------------------------------------------


class _CappedStream(LimitedStream):
    """Cut a server-terminated stream at ``max_content_length`` — and say so.

    Werkzeug's ``LimitedStream(is_max=True)`` stops at the limit, and its
    ``readall`` then returns the first ``limit`` bytes as if that were the whole
    body. Here, reaching the limit probes the source for one more byte: if there
    is one, the body is too large (413); if not, it ended exactly at the limit.
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit, is_max=True)
        self._source = stream

    def on_exhausted(self) -> None:
        if self._source.read(1):
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


def get_input_stream(
    environ: dict[str, Any], max_content_length: int | None = None
) -> IO[bytes]:
    """Return the body stream of *environ*, limited so that reading it is safe.

    Follows :func:`werkzeug.wsgi.get_input_stream`: a ``Content-Length`` above
    *max_content_length* is refused with 413 before anything is read; a body
    without ``Content-Length`` is only read when the server sets
    ``wsgi.input_terminated`` (else it is empty, so a chunked or unframed body
    cannot tie up the worker); a body shorter than its ``Content-Length`` raises
    :exc:`~werkzeug.exceptions.ClientDisconnected` (400). Unlike Werkzeug, a
    terminated body longer than *max_content_length* raises 413 instead of being
    silently truncated.

    :param environ: the WSGI environ.
    :param max_content_length: the most bytes the body may have, or ``None``.
    :raise RequestEntityTooLarge: the body is larger than *max_content_length*.
    """
    stream = environ.get("wsgi.input")
    if stream is None:
        return BytesIO()
    content_length = get_content_length(environ)
    if (
        content_length is not None
        and max_content_length is not None
        and content_length > max_content_length
    ):
        raise RequestEntityTooLarge()
    if "wsgi.input_terminated" in environ:
        if max_content_length is not None:
            return _CappedStream(stream, max_content_length)  # type: ignore[return-value]
        return stream  # type: ignore[no-any-return]
    if content_length is None:
        return BytesIO()
    return LimitedStream(stream, content_length)  # type: ignore[return-value]


def read_small_body(
    environ: dict[str, Any],
    content_length: int | None,
    max_content_length: int | None = None,
) -> bytes | None:
    """Read a body of known, small length in one call; ``None`` if it must stream.

    Applies when the body has a ``Content-Length`` of at most :data:`ONE_READ_MAX`
    and the server does not mark the input as terminated; then the result is what
    reading :func:`get_input_stream` to the end would give, with the same errors.

    :param content_length: the body's declared length (``None`` if unknown).
    :raise RequestEntityTooLarge: *content_length* is above *max_content_length*.
    :raise ClientDisconnected: (400) the input ended before *content_length* bytes.
    """
    if (
        content_length is None
        or content_length > ONE_READ_MAX
        or "wsgi.input_terminated" in environ
    ):
        return None
    if max_content_length is not None and content_length > max_content_length:
        raise RequestEntityTooLarge()
    stream = environ.get("wsgi.input")
    if stream is None or not content_length:
        return b""
    # PERF: one read instead of LimitedStream's read/readinto pair per chunk.
    data = stream.read(content_length)
    if len(data) < content_length:
        # A server may return less than asked; read on until EOF like LimitedStream.
        pieces = [data]
        missing = content_length - len(data)
        while missing:
            piece = stream.read(missing)
            if not piece:
                raise ClientDisconnected()
            pieces.append(piece)
            missing -= len(piece)
        data = b"".join(pieces)
    return data  # type: ignore[no-any-return]


# -- url-encoded -------------------------------------------------------------------


def _too_many(max_fields: int, error: type[HTTPException]) -> HTTPException:
    return error(f"Too many fields: more than {max_fields} are not accepted.")


def parse_qsl_limited(
    text: str,
    max_fields: int | None = DEFAULT_MAX_FORM_PARTS,
    error: type[HTTPException] = BadRequest,
) -> list[tuple[str, str]]:
    """Split a query string or url-encoded body into ``(key, value)`` pairs.

    Only ``&`` separates pairs (WHATWG URL; ``a=1;b=2`` is one pair). Blank values
    are kept; ``+`` is a space; percent escapes that do not form UTF-8 stay
    percent-encoded, as Werkzeug does.

    :param text: the encoded string.
    :param max_fields: the most pairs allowed, or ``None`` for no limit.
    :param error: the exception raised when there are more pairs.
    """
    # PERF: counting separators is one C call, so an oversized input is refused in
    # linear time before any pair is built.
    if max_fields is not None and text and text.count("&") >= max_fields:
        raise _too_many(max_fields, error)
    return parse_qsl(text, keep_blank_values=True, errors=_URL_QUOTE)


def _parse_lists(
    text: str, max_fields: int | None, error: type[HTTPException]
) -> dict[str, list[str]]:
    """Parse like :func:`parse_qsl_limited`, into ``{key: [value, ...]}``."""
    if max_fields is not None and text and text.count("&") >= max_fields:
        raise _too_many(max_fields, error)
    # PERF: parse_qsl calls unquote (a Python function) twice per pair and builds a
    # list for each; here a pair costs one partition, and unquote runs only for the
    # parts holding a "%". "+" may be replaced up front: it never separates.
    if "+" in text:
        text = text.replace("+", " ")
    quoted = "%" in text
    lists: dict[str, list[str]] = {}
    for pair in text.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            if quoted:
                if "%" in key:
                    key = unquote(key, errors=_URL_QUOTE)
                if "%" in value:
                    value = unquote(value, errors=_URL_QUOTE)
            if key in lists:
                lists[key].append(value)
            else:
                lists[key] = [value]
    return lists


def parse_query(
    text: str,
    max_fields: int | None = DEFAULT_MAX_FORM_PARTS,
    error: type[HTTPException] = BadRequest,
    cls: type[MultiDict[str, Any]] = MultiDict,
) -> MultiDict[str, str]:
    """Parse a query string or url-encoded body into a *cls* multi-dict.

    The same as ``cls(parse_qsl_limited(text, max_fields, error))``, faster.

    :param text: the encoded string.
    :param max_fields: the most pairs allowed, or ``None`` for no limit.
    :param error: the exception raised when there are more pairs.
    :param cls: the multi-dict class of the result.
    """
    return multidict_from_lists(cls, _parse_lists(text, max_fields, error))


def parse_urlencoded(
    data: bytes,
    max_content_length: int | None = None,
    max_form_memory_size: int | None = DEFAULT_MAX_FORM_MEMORY_SIZE,
    max_form_parts: int | None = DEFAULT_MAX_FORM_PARTS,
    cls: type[MultiDict[str, Any]] = MultiDict,
) -> MultiDict[str, str]:
    """Parse a whole ``application/x-www-form-urlencoded`` body into a *cls*.

    The form :func:`parse_form_data` gives for this body, with the same limits.

    :raise RequestEntityTooLarge: the body is over the form budget (see
        :func:`form_memory_budget`), a value over *max_form_memory_size*
        characters, or more than *max_form_parts* fields.
    """
    # PERF: form_memory_budget, inlined.
    budget = max_content_length
    if max_form_memory_size is not None:
        budget = MAX_FORM_MEMORY_TOTAL
        if max_content_length is not None and max_content_length < budget:
            budget = max_content_length
        if budget < max_form_memory_size:
            budget = max_form_memory_size
    return _parse_urlencoded(data, budget, max_form_memory_size, max_form_parts, cls)


def _parse_urlencoded(
    data: bytes,
    max_size: int | None,
    max_field_size: int | None,
    max_fields: int | None,
    cls: type[MultiDict[str, Any]],
) -> MultiDict[str, str]:
    """Parse a whole url-encoded body, with the limits of :class:`UrlencodedParser`."""
    if max_size is not None and len(data) > max_size:
        raise RequestEntityTooLarge()
    # Raw non-UTF-8 bytes become %XX, just like undecodable percent escapes.
    text = data.decode("utf-8", _URL_QUOTE)
    lists = _parse_lists(text, max_fields, RequestEntityTooLarge)
    # No value is longer than the whole text: most bodies skip this loop.
    if max_field_size is not None and len(text) > max_field_size:
        for values in lists.values():
            for value in values:
                if len(value) > max_field_size:
                    raise RequestEntityTooLarge()
    return multidict_from_lists(cls, lists)


class UrlencodedParser:
    """Collect an ``application/x-www-form-urlencoded`` body and parse it.

    :param max_size: the most bytes the body may have (413), or ``None``.
    :param max_field_size: the most characters of one value (413), or ``None``.
    :param max_fields: the most fields (413), or ``None``.
    :param cls: the multi-dict class of the result.
    """

    def __init__(
        self,
        *,
        max_size: int | None = MAX_FORM_MEMORY_TOTAL,
        max_field_size: int | None = DEFAULT_MAX_FORM_MEMORY_SIZE,
        max_fields: int | None = DEFAULT_MAX_FORM_PARTS,
        cls: type[MultiDict[str, Any]] = MultiDict,
    ) -> None:
        self.max_size = max_size
        self.max_field_size = max_field_size
        self.max_fields = max_fields
        self.cls = cls
        self._chunks: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the body."""
        self._size += len(chunk)
        if self.max_size is not None and self._size > self.max_size:
            self._chunks.clear()
            raise RequestEntityTooLarge()
        self._chunks.append(bytes(chunk))

    def finish(self) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        """Parse what was fed and return ``(form, files)``; *files* is empty."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        form = _parse_urlencoded(
            data, None, self.max_field_size, self.max_fields, self.cls
        )
        return form, multidict_from_lists(self.cls, {})

    def close(self) -> None:
        """Drop what was buffered."""
        self._chunks.clear()


# -- choosing a parser, and the synchronous loop ------------------------------------


def form_memory_budget(
    max_content_length: int | None, max_form_memory_size: int | None
) -> int | None:
    """Return the in-memory budget for all non-file form data of one request.

    ``min(max_content_length, 8 MiB)``, but never less than one field may use;
    ``None`` (no budget beyond ``max_content_length``) when fields are unlimited.
    """
    if max_form_memory_size is None:
        return max_content_length
    budget = MAX_FORM_MEMORY_TOTAL
    if max_content_length is not None and max_content_length < budget:
        budget = max_content_length
    return max(budget, max_form_memory_size)


def create_form_parser(
    mimetype: str,
    options: dict[str, str],
    *,
    content_length: int | None = None,
    max_content_length: int | None = None,
    max_form_memory_size: int | None = DEFAULT_MAX_FORM_MEMORY_SIZE,
    max_form_parts: int | None = DEFAULT_MAX_FORM_PARTS,
    stream_factory: StreamFactory | None = None,
    cls: type[MultiDict[str, Any]] = MultiDict,
) -> MultipartParser | UrlencodedParser | None:
    """Return the push parser for a form *mimetype*, or ``None`` if it is no form.

    :param mimetype: the lower-cased mimetype of the body.
    :param options: the Content-Type parameters (``boundary``).
    :param content_length: the body's declared length, if any.
    :raise BadRequest: a multipart boundary is missing or invalid.
    :raise RequestEntityTooLarge: a url-encoded body declares more bytes than the
        form budget allows.
    """
    budget = form_memory_budget(max_content_length, max_form_memory_size)
    if mimetype == "multipart/form-data":
        return MultipartParser(
            parse_boundary(options),
            max_form_memory_size=max_form_memory_size,
            max_form_parts=max_form_parts,
            max_memory=budget,
            stream_factory=stream_factory,
            content_length=content_length,
            cls=cls,
        )
    if mimetype == "application/x-www-form-urlencoded":
        if budget is not None and (content_length or 0) > budget:
            raise RequestEntityTooLarge()
        return UrlencodedParser(
            max_size=budget,
            max_field_size=max_form_memory_size,
            max_fields=max_form_parts,
            cls=cls,
        )
    return None


def parse_form_data(
    stream: IO[bytes] | bytes,
    mimetype: str,
    options: dict[str, str],
    *,
    content_length: int | None = None,
    max_content_length: int | None = None,
    max_form_memory_size: int | None = DEFAULT_MAX_FORM_MEMORY_SIZE,
    max_form_parts: int | None = DEFAULT_MAX_FORM_PARTS,
    stream_factory: StreamFactory | None = None,
    cls: type[MultiDict[str, Any]] = MultiDict,
) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
    """Read a form body from *stream* and return ``(form, files)``.

    *stream* must already be limited (see :func:`get_input_stream`); it may also
    be the whole body as bytes (see :func:`read_small_body`), parsed with the same
    limits. Reading stops at the first empty read, so a stream that returns
    ``b""`` forever ends the loop; a multipart body that stops early is then a
    400. Bodies of other mimetypes are not read and give two empty multi-dicts.

    Example::

        form, files = parse_form_data(
            get_input_stream(environ, 16 * 1024 * 1024),
            "multipart/form-data", {"boundary": "xyz"},
        )
    """
    whole = isinstance(stream, bytes)
    if whole and mimetype == "application/x-www-form-urlencoded":
        # PERF: no parser object for a body that is already whole.
        form = parse_urlencoded(
            stream,  # type: ignore[arg-type]
            max_content_length,
            max_form_memory_size,
            max_form_parts,
            cls,
        )
        return form, multidict_from_lists(cls, {})
    parser = create_form_parser(
        mimetype,
        options,
        content_length=content_length,
        max_content_length=max_content_length,
        max_form_memory_size=max_form_memory_size,
        max_form_parts=max_form_parts,
        stream_factory=stream_factory,
        cls=cls,
    )
    if parser is None:
        return multidict_from_lists(cls, {}), multidict_from_lists(cls, {})
    try:
        if whole:
            parser.feed(stream)  # type: ignore[arg-type]
        else:
            read = stream.read  # type: ignore[union-attr]
            while chunk := read(CHUNK_SIZE):
                parser.feed(chunk)
        return parser.finish()
    except BaseException:
        parser.close()
        raise
