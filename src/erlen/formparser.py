"""Read request bodies safely and parse HTML forms, with limits on everything.

What it holds:

- :func:`get_input_stream` — the body stream of a WSGI environ, cut at
  ``Content-Length`` and at ``max_content_length`` (413 once the body passes it);
- :class:`UrlencodedParser` and :class:`MultipartParser` — push parsers with a
  ``feed(chunk)`` / ``finish() -> (form, files)`` interface, so the WSGI adapter
  (reading a file-like stream) and the ASGI adapter (awaiting ``receive``) drive the
  same code;
- :func:`create_form_parser` picks one for a mimetype; :func:`parse_form_data` is the
  synchronous loop over a stream;
- :func:`parse_qsl_limited` — query-string parsing with a parameter limit.

Limits (defaults; the request passes its own values from the app config):

- ``max_form_parts`` (1000) parts or url-encoded fields, 100 of them files -> 413;
- ``max_form_memory_size`` (500 kB) per non-file field, counted across chunks -> 413;
- a total in-memory budget for non-file fields of ``min(max_content_length, 8 MiB)``
  (never below ``max_form_memory_size``; none when that is ``None``) -> 413; the
  url-encoded body as a whole is held to the same budget;
- 8 headers and 8 KiB of headers per part -> 413; a boundary that is missing, empty,
  over 256 bytes or not printable ASCII -> 400; a truncated body -> 400;
- a part body that contains the boundary right after a line break -> 400 (RFC 2046
  §5.1.1 forbids it; two parsers could split such a body differently);
- file parts spool to disk above 1 MiB (:class:`tempfile.SpooledTemporaryFile`) and
  are all closed when parsing fails.

Not done on purpose: ``Content-Encoding`` (gzip, br, ...) request bodies are not
decompressed — the bytes are handed over as received, as Werkzeug does; a view that
wants them inflated must do it itself with its own size limit. ``Content-Transfer-
Encoding`` inside parts is ignored (RFC 7578 §4.7 deprecates it). File names are kept
as sent; pass them through :func:`werkzeug.utils.secure_filename` before using them
as paths.

Imports no erlen module (Werkzeug only), so every erlen module may import this one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from tempfile import SpooledTemporaryFile
from typing import IO, Any
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec handler)
from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.http import parse_options_header, unquote_header_value
from werkzeug.sansio.multipart import (
    Data,
    Field,
    File,
    MultipartDecoder,
    NeedData,
    State,
)
from werkzeug.wsgi import LimitedStream, get_content_length

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
    "SPOOL_MAX_SIZE",
    "MultipartParser",
    "UrlencodedParser",
    "create_form_parser",
    "default_stream_factory",
    "form_memory_budget",
    "get_input_stream",
    "parse_boundary",
    "parse_form_data",
    "parse_qsl_limited",
]

DEFAULT_MAX_FORM_MEMORY_SIZE = 500_000
DEFAULT_MAX_FORM_PARTS = 1000
MAX_FILE_PARTS = 100
MAX_FORM_MEMORY_TOTAL = 8 * 1024 * 1024
MAX_PART_HEADERS = 8
MAX_PART_HEADER_SIZE = 8 * 1024
MAX_BOUNDARY_LENGTH = 256
SPOOL_MAX_SIZE = 1024 * 1024
#: Bytes read from a stream, and handed to the multipart decoder, at a time. Slicing
#: what the caller feeds keeps the decoder's buffer (and each regex scan) this small.
CHUNK_SIZE = 64 * 1024
#: Transport padding (spaces/tabs) allowed after a boundary in the preamble.
_MAX_PADDING = 64

#: A stream factory: ``(total_content_length, content_type, filename,
#: content_length)`` -> a writable, readable, seekable binary file.
StreamFactory = Callable[..., IO[bytes]]

_PADDING_RE = re.compile(rb"[ \t]{0,%d}" % _MAX_PADDING)
FORM_MIMETYPES = frozenset(("multipart/form-data", "application/x-www-form-urlencoded"))
_PART_CHARSETS = frozenset(("ascii", "us-ascii", "utf-8", "iso-8859-1"))


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


# -- url-encoded -------------------------------------------------------------------


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
        raise error(f"Too many fields: more than {max_fields} are not accepted.")
    return parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")


def _decode_urlencoded(data: bytes) -> str:
    # Raw non-UTF-8 bytes become %XX, just like undecodable percent escapes.
    return data.decode("utf-8", "werkzeug.url_quote")


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
        text = _decode_urlencoded(b"".join(self._chunks))
        self._chunks.clear()
        pairs = parse_qsl_limited(text, self.max_fields, RequestEntityTooLarge)
        limit = self.max_field_size
        if limit is not None:
            for _key, value in pairs:
                if len(value) > limit:
                    raise RequestEntityTooLarge()
        return self.cls(pairs), self.cls()

    def close(self) -> None:
        """Drop what was buffered."""
        self._chunks.clear()


# -- multipart ---------------------------------------------------------------------


def default_stream_factory(
    total_content_length: int | None,
    content_type: str | None,
    filename: str | None,
    content_length: int | None = None,
) -> IO[bytes]:
    """Return an anonymous file that stays in memory up to 1 MiB, then spools to disk.

    The arguments are those of Werkzeug's ``Request._get_file_stream``; they are
    unused here and exist so a replacement factory can decide by them.
    """
    return SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="rb+")  # type: ignore[return-value]


def parse_boundary(options: dict[str, str]) -> bytes:
    """Return the validated ``boundary`` parameter of a multipart Content-Type.

    :raise BadRequest: missing, empty, longer than 256 bytes, or not printable
        ASCII (which excludes CR and LF).
    """
    boundary = options.get("boundary")
    if not boundary:
        raise BadRequest("The multipart/form-data boundary is missing.")
    if len(boundary) > MAX_BOUNDARY_LENGTH:
        raise BadRequest("The multipart/form-data boundary is too long.")
    # RFC 2046 §5.1.1 allows fewer characters; printable ASCII is what parsers accept.
    if not (boundary.isascii() and boundary.isprintable()):
        raise BadRequest("The multipart/form-data boundary has invalid characters.")
    return boundary.encode("ascii")


def _closing_quote(value: str, pos: int) -> int:
    """Return the index of the ``"`` closing a quoted string opened before *pos*."""
    while True:
        q = value.find('"', pos)
        if q == -1:
            return -1
        # A quote preceded by an odd run of backslashes is escaped. Each run is
        # counted once, so this stays linear.
        run = 0
        i = q - 1
        while i >= pos and value[i] == "\\":
            run += 1
            i -= 1
        if not run & 1:
            return q
        pos = q + 1


def _plain_params(value: str) -> dict[str, str]:
    """Return the parameters of a header value that carry no RFC 2231 ``*`` marker.

    Werkzeug's :func:`~werkzeug.http.parse_options_header` lets ``name*=`` replace
    ``name=``; RFC 7578 §4.2 says form data must not use the ``*`` form, so the
    plain parameter is the one erlen trusts.
    """
    out: dict[str, str] = {}
    n = len(value)
    pos = value.find(";")
    while pos != -1 and pos < n:
        start = pos + 1
        eq = value.find("=", start)
        if eq == -1:
            break
        semi = value.find(";", start)
        if semi != -1 and semi < eq:  # a parameter without a value
            pos = semi
            continue
        key = value[start:eq].strip(" \t").lower()
        vstart = eq + 1
        while vstart < n and value[vstart] in " \t":
            vstart += 1
        if vstart < n and value[vstart] == '"':
            end = _closing_quote(value, vstart + 1)
            if end == -1:
                break
            raw = value[vstart : end + 1]
            pos = value.find(";", end + 1)
        else:
            pos = value.find(";", vstart)
            raw = value[vstart : n if pos == -1 else pos].strip(" \t")
        if key and "*" not in key:
            out[key] = unquote_header_value(raw).replace("%22", '"')
    return out


def _part_charset(headers: Headers) -> str:
    content_type = headers.get("content-type")
    if content_type:
        charset = parse_options_header(content_type)[1].get("charset", "").lower()
        if charset in _PART_CHARSETS:
            return charset
    return "utf-8"


class MultipartParser:
    """Parse a ``multipart/form-data`` body pushed to it in chunks of any size.

    Drives :class:`werkzeug.sansio.multipart.MultipartDecoder` and adds the limits
    and checks listed in the module docstring. Use ``feed`` for each chunk, then
    ``finish``; on any error every file opened so far is closed.

    :param boundary: the boundary from the Content-Type (see :func:`parse_boundary`).
    :param max_form_memory_size: the most bytes of one non-file field, or ``None``.
    :param max_form_parts: the most parts, or ``None``.
    :param max_file_parts: the most file parts, or ``None``.
    :param max_memory: the most bytes of all non-file fields together, or ``None``.
    :param max_part_headers: the most headers of one part.
    :param max_part_header_size: the most bytes of the headers of one part.
    :param stream_factory: makes the file each file part is written to.
    :param content_length: the body's length if known, passed to *stream_factory*.
    :param cls: the multi-dict class of the result.
    """

    def __init__(
        self,
        boundary: bytes,
        *,
        max_form_memory_size: int | None = DEFAULT_MAX_FORM_MEMORY_SIZE,
        max_form_parts: int | None = DEFAULT_MAX_FORM_PARTS,
        max_file_parts: int | None = MAX_FILE_PARTS,
        max_memory: int | None = MAX_FORM_MEMORY_TOTAL,
        max_part_headers: int = MAX_PART_HEADERS,
        max_part_header_size: int = MAX_PART_HEADER_SIZE,
        stream_factory: StreamFactory | None = None,
        content_length: int | None = None,
        cls: type[MultiDict[str, Any]] = MultiDict,
    ) -> None:
        if not boundary or len(boundary) > MAX_BOUNDARY_LENGTH:
            raise BadRequest("The multipart/form-data boundary is invalid.")
        self.max_form_memory_size = max_form_memory_size
        self.max_form_parts = max_form_parts
        self.max_file_parts = max_file_parts
        self.max_memory = max_memory
        self.max_part_headers = max_part_headers
        self.max_part_header_size = max_part_header_size
        self.stream_factory = stream_factory or default_stream_factory
        self.content_length = content_length
        self.cls = cls
        # No memory limit inside the decoder: it would count file bytes too. The
        # buffer is bounded by slicing input to CHUNK_SIZE and draining each slice.
        self._decoder = MultipartDecoder(boundary)
        self._delimiter = b"--" + boundary
        # A line break then the delimiter, inside a part body, means the body
        # contains the boundary: CR and LF alone count, as the decoder accepts them.
        self._inner = (b"\n" + self._delimiter, b"\r" + self._delimiter)
        self._pending = b""  # preamble tail that may hold the start of a delimiter
        self._held = b""  # body tail the decoder must not see yet (see _hold_back)
        # How far back a delimiter line can start: delimiter, padding, CR LF.
        self._window = len(self._delimiter) + _MAX_PADDING + 4
        self._in_preamble = True
        self._in_epilogue = False
        self._received = False
        self._closed = False
        self._fields: list[tuple[str, str]] = []
        self._files: list[tuple[str, FileStorage]] = []
        self._parts = 0
        self._file_parts = 0
        self._memory = 0
        # The part being read: its event, name, filename and where its data goes.
        self._event: Field | File | None = None
        self._name = ""
        self._filename: str | None = None
        self._buffer: list[bytes] = []
        self._file: IO[bytes] | None = None
        self._field_size = 0
        self._tail = b""

    # -- public ------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the body; raise a 4xx error as soon as one shows."""
        if self._closed:
            raise RuntimeError("This MultipartParser is finished or closed.")
        if not chunk or self._in_epilogue:
            # Data after the closing delimiter is discarded without buffering.
            return
        self._received = True
        try:
            if self._in_preamble:
                chunk = self._skip_preamble(chunk)
                if not chunk:
                    return
            elif self._held:
                chunk = self._held + chunk
            self._held = self._hold_back(chunk)
            self._push(memoryview(chunk)[: len(chunk) - len(self._held)])
        except ValueError as e:
            self.close()
            raise BadRequest(f"Invalid multipart/form-data: {e}") from None
        except BaseException:
            self.close()
            raise

    def finish(self) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        """Check that the body was complete and return ``(form, files)``.

        :raise BadRequest: the body ended before the closing delimiter, or had no
            delimiter at all (an empty body is an empty form).
        """
        if self._closed:
            raise RuntimeError("This MultipartParser is finished or closed.")
        try:
            if self._in_preamble:
                if self._received:
                    raise BadRequest("The multipart/form-data body has no boundary.")
            else:
                if self._held:
                    self._push(memoryview(self._held))
                    self._held = b""
                decoder = self._decoder
                decoder.receive_data(None)
                # With all data in, each call consumes input and the decoder either
                # reaches the epilogue or raises ValueError, so this loop ends.
                while not self._handle(decoder.next_event()):
                    continue  # pragma: no cover - only if the decoder held data back
        except ValueError:
            self.close()
            raise BadRequest("The multipart/form-data body is truncated.") from None
        except BaseException:
            self.close()
            raise
        self._closed = True
        return self.cls(self._fields), self.cls(self._files)

    def close(self) -> None:
        """Close every file opened so far and drop buffered data."""
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None
        for _name, storage in self._files:
            storage.close()
        self._files.clear()
        self._buffer.clear()
        self._decoder.buffer.clear()

    # -- internals ---------------------------------------------------------------

    def _push(self, view: memoryview) -> None:
        """Hand *view* to the decoder in CHUNK_SIZE slices, draining after each."""
        for start in range(0, len(view), CHUNK_SIZE):
            if self._in_epilogue:
                return
            self._decoder.receive_data(view[start : start + CHUNK_SIZE])  # type: ignore[arg-type]
            self._drain()

    def _hold_back(self, data: bytes) -> bytes:
        """Return the end of *data* that must wait for more input.

        Werkzeug's decoder (3.1.9) mis-parses a buffer that ends after a complete
        ``--boundary`` but inside what follows it (the first ``-`` of ``--``,
        transport padding, a CR): it emits the line break before the delimiter as
        part data. So the decoder is never shown a line break followed by text
        that could still turn into a delimiter line; that tail waits for the next
        chunk. Every split of a body then parses like the whole (BAD_INPUTS 43).
        """
        start = max(0, len(data) - self._window)
        hold = end = len(data)
        while True:
            p = max(data.rfind(b"\n", start, end), data.rfind(b"\r", start, end))
            if p == -1 or not self._undecided(data[p + 1 :]):
                break
            hold = end = p
        if 0 < hold < len(data) and data[hold - 1 : hold + 1] == b"\r\n":
            hold -= 1
        return data[hold:]

    def _undecided(self, rest: bytes) -> bool:
        """Tell whether *rest*, following a line break, may become a delimiter line."""
        delimiter = self._delimiter
        if len(rest) <= len(delimiter):
            return delimiter.startswith(rest)
        if not rest.startswith(delimiter):
            return False
        after = rest[len(delimiter) :]
        if after == b"-":
            return True
        after = after.removesuffix(b"\r")
        return len(after) <= _MAX_PADDING and not after.strip(b" \t")

    def _skip_preamble(self, chunk: bytes) -> bytes:
        """Drop bytes before the first delimiter line; return the rest, if found.

        Done here rather than in the decoder, which keeps the whole preamble in
        memory until it finds the delimiter; this keeps only a short tail.
        """
        delimiter = self._delimiter
        buf = self._pending + bytes(chunk)
        pos = 0
        while True:
            i = buf.find(delimiter, pos)
            if i == -1:
                self._pending = buf[max(0, len(buf) - len(delimiter) + 1) :]
                return b""
            j = i + len(delimiter)
            if buf.startswith(b"--", j):
                break  # the closing delimiter: an empty form
            k = _PADDING_RE.match(buf, j).end()  # type: ignore[union-attr]
            if k == len(buf) or (buf[j : j + 1] == b"-" and j + 1 == len(buf)):
                self._pending = buf[i:]  # need more bytes to decide
                return b""
            if buf[k] == 0x0A or (buf[k] == 0x0D and k + 1 < len(buf)):
                break
            if buf[k] == 0x0D:
                self._pending = buf[i:]  # a CR last: wait to see whether LF follows
                return b""
            pos = i + 1
        self._in_preamble = False
        self._pending = b""
        return buf[i:]

    def _drain(self) -> None:
        """Handle every event the decoder can produce from what it holds."""
        decoder = self._decoder
        while not self._handle(decoder.next_event()):
            pass
        state = decoder.state
        if state is State.PART and len(decoder.buffer) > self.max_part_header_size:
            # No blank line within the limit: the part's header block is too large.
            raise RequestEntityTooLarge()
        if state is State.EPILOGUE:
            self._in_epilogue = True
            decoder.buffer.clear()

    def _handle(self, event: Any) -> bool:
        """Handle one decoder event; return True when the decoder needs more data."""
        if isinstance(event, Data):
            self._on_data(event.data, event.more_data)
        elif isinstance(event, (Field, File)):
            self._on_part(event)
        elif isinstance(event, NeedData):
            return True
        elif self._decoder.state is State.COMPLETE:  # the Epilogue event
            self._in_epilogue = True
            return True
        return False  # the Preamble event carries nothing erlen keeps

    def _on_part(self, event: Field | File) -> None:
        self._parts += 1
        if self.max_form_parts is not None and self._parts > self.max_form_parts:
            raise RequestEntityTooLarge()
        headers = event.headers
        if len(headers) > self.max_part_headers:
            raise RequestEntityTooLarge()
        if sum(len(k) + len(v) for k, v in headers) > self.max_part_header_size:
            raise RequestEntityTooLarge()
        name: str | None = event.name
        filename = event.filename if isinstance(event, File) else None
        disposition = headers.get("content-disposition", "")
        if "*" in disposition:
            # RFC 7578 §4.2: `name*=` / `filename*=` never override the plain value.
            plain = _plain_params(disposition)
            name = plain.get("name", name)
            if filename is not None:
                filename = plain.get("filename", filename)
        if name is None:
            raise BadRequest("A multipart/form-data part has no name.")
        self._event = event
        self._name = name
        self._filename = filename
        self._tail = b""
        if isinstance(event, File):
            self._file_parts += 1
            limit = self.max_file_parts
            if limit is not None and self._file_parts > limit:
                raise RequestEntityTooLarge()
            try:
                length: int | None = int(headers.get("content-length", ""))
            except ValueError:
                length = None
            self._file = self.stream_factory(
                total_content_length=self.content_length,
                content_type=headers.get("content-type"),
                filename=filename,
                content_length=length,
            )
        else:
            self._field_size = 0
            self._buffer = []

    def _on_data(self, data: bytes, more_data: bool) -> None:
        if data:
            # RFC 2046 §5.1.1: the boundary may not occur in a part body. The tail
            # catches a line break + delimiter split across two data events.
            inner_a, inner_b = self._inner
            edge = self._tail + data[: len(inner_a)]
            if inner_a in data or inner_b in data or inner_a in edge or inner_b in edge:
                raise BadRequest("A multipart/form-data part contains the boundary.")
            self._tail = data[-len(inner_a) :]
            if self._file is not None:
                self._file.write(data)
            else:
                self._field_size += len(data)
                self._memory += len(data)
                limit = self.max_form_memory_size
                if limit is not None and self._field_size > limit:
                    raise RequestEntityTooLarge()
                if self.max_memory is not None and self._memory > self.max_memory:
                    raise RequestEntityTooLarge()
                self._buffer.append(data)
        if not more_data:
            self._end_part()

    def _end_part(self) -> None:
        event = self._event
        if event is None:  # pragma: no cover - the decoder emits data only in a part
            return
        if self._file is not None:
            stream = self._file
            self._file = None
            stream.seek(0)
            self._files.append(
                (
                    self._name,
                    FileStorage(
                        stream, self._filename, self._name, headers=event.headers
                    ),
                )
            )
        else:
            value = b"".join(self._buffer).decode(
                _part_charset(event.headers), "replace"
            )
            self._buffer = []
            self._fields.append((self._name, value))
        self._event = None


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
    stream: IO[bytes],
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

    *stream* must already be limited (see :func:`get_input_stream`). Reading stops
    at the first empty read, so a stream that returns ``b""`` forever ends the
    loop; a multipart body that stops early is then a 400. Bodies of other
    mimetypes are not read and give two empty multi-dicts.

    Example::

        form, files = parse_form_data(
            get_input_stream(environ, 16 * 1024 * 1024),
            "multipart/form-data", {"boundary": "xyz"},
        )
    """
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
        return cls(), cls()
    read = stream.read
    try:
        while chunk := read(CHUNK_SIZE):
            parser.feed(chunk)
        return parser.finish()
    except BaseException:
        parser.close()
        raise
