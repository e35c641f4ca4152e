"""The request object: Flask 3.1's ``Request`` API over a WSGI environ, computed lazily.

Constructing a :class:`Request` stores the environ and nothing else is parsed: each
property computes its value on first access and keeps it in a ``__slots__`` field
(Falcon's pattern, no ``cached_property``). Headers, cookies, query arguments, the
body and forms are parsed with Werkzeug's parsers and data structures, so the
objects users get (``ImmutableMultiDict``, ``FileStorage``, ``MIMEAccept``,
``Authorization`` ...) are the ones Flask code and extensions expect.

Where erlen is stricter than Werkzeug (see ``docs/differences.md``):

- a path or script name that is not UTF-8 -> 400 instead of U+FFFD replacements;
- an invalid ``Host`` header (``a@b``, ``x y``, ``host/path``) -> 400 instead of an
  empty host; an empty one falls back to ``SERVER_NAME:SERVER_PORT``;
- more than ``max_form_parts`` query parameters -> 400; ``Accept*`` headers are read
  up to 500 characters; a ``Range`` with more than 100 ranges is ignored;
- malformed multipart bodies -> 400 instead of an empty form (:mod:`erlen.formparser`);
- a terminated stream longer than ``max_content_length`` -> 413, not truncated.

The typed header properties (``Accept*``, ``Authorization``, ``Range``, the ``If-*``
conditionals, ``user_agent``, ``mimetype``...) live in the private
:mod:`erlen.wrappers._request_headers` as a mixin of :class:`Request`; this module
keeps construction, the URL, the host, routing attributes, the limits and the body.

Imports :mod:`erlen.formparser`, :mod:`erlen.globals` (for the current app's
config) and its private sibling :mod:`erlen.wrappers._request_headers`;
:mod:`erlen.json` is imported on first JSON use.
"""

from __future__ import annotations

import re
from io import BytesIO
from operator import attrgetter
from typing import IO, Any

from werkzeug.datastructures import (
    CombinedMultiDict,
    EnvironHeaders,
    FileStorage,
    ImmutableList,
    ImmutableMultiDict,
    MultiDict,
    iter_multi_items,
)
from werkzeug.exceptions import BadRequest, SecurityError, UnsupportedMediaType
from werkzeug.sansio.http import parse_cookie
from werkzeug.sansio.utils import get_current_url
from werkzeug.user_agent import UserAgent
from werkzeug.wsgi import get_content_length

from ..formparser import (
    DEFAULT_MAX_FORM_MEMORY_SIZE,
    DEFAULT_MAX_FORM_PARTS,
    FORM_MIMETYPES,
    default_stream_factory,
    get_input_stream,
    multidict_from_lists,
    parse_form_data,
    parse_query,
    parse_urlencoded,
    read_small_body,
)
from ..globals import _cv_ctx

# The limits lived in this module before the typed header properties moved out;
# they are re-exported so that existing imports keep working.
from ._request_headers import MAX_ACCEPT_LENGTH as MAX_ACCEPT_LENGTH
from ._request_headers import MAX_RANGE_LENGTH as MAX_RANGE_LENGTH
from ._request_headers import MAX_RANGES as MAX_RANGES
from ._request_headers import RequestHeadersMixin, _environ_value, _parse_content_type

__all__ = ["Request"]

# RFC 3986 §3.2.2: reg-name (unreserved characters only) or an IP literal, then an
# optional port. Anything else in Host ("a@b", "x y", "h/p?q") is refused.
_HOST_RE = re.compile(
    r"(?:[a-z0-9._~-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?", re.ASCII | re.IGNORECASE
)

# Every cache slot reads as None until filled (see Request.__getattr__).
_LAZY_SLOTS = frozenset(
    """
    _root_path _query_string _args _full_path _host _url _base_url _root_url
    _host_url _headers _cookies _content_type _form _values _stream
    _cached_data _cached_json _user_agent _accept_mimetypes _accept_languages
    _accept_encodings _accept_charsets _authorization _cache_control _if_match
    _if_none_match _if_range _range _pragma _access_route _max_content_length
    _max_form_memory_size _max_form_parts _trusted_hosts
    url_rule view_args routing_exception
    """.split()  # noqa: SIM905 - one name per word reads better than 38 lines
)


class _JSONModule:
    """Resolve to :mod:`erlen.json` on first access (stdlib :mod:`json` without it).

    A descriptor, so importing this module does not import the JSON layer, which
    reaches the app through the context.
    """

    __slots__ = ("_module",)

    def __init__(self) -> None:
        self._module: Any = None

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        module = self._module
        if module is None:
            try:
                from .. import json as module
            except ImportError:  # pragma: no cover - erlen.json ships with erlen
                import json as module
            self._module = module
        return module


def _decode_wsgi_path(raw: str, what: str) -> str:
    """Turn a WSGI path (latin-1 characters standing for bytes) into UTF-8 text."""
    # PERF: ASCII paths, by far the most common, need no re-decoding.
    if raw.isascii():
        return raw
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadRequest(f"The request {what} is not valid UTF-8.") from None


def _host_is_trusted(host: str, trusted: Any) -> bool:
    """Tell whether the name in *host* (``name[:port]``) is one of *trusted*.

    A trusted name starting with ``.`` also matches its subdomains; ports are
    ignored; non-ASCII names are compared in their IDNA form.
    """
    if not host:
        return False
    # An IP literal keeps its brackets; otherwise the port is dropped.
    end = host.find("]") + 1 if host[0] == "[" else len(host.partition(":")[0])
    name = host[:end].lower()
    if isinstance(trusted, str):
        trusted = (trusted,)
    for ref in trusted:
        suffix = ref.startswith(".")
        if suffix:
            ref = ref[1:]
        ref = ref[: ref.find("]") + 1] if ref.startswith("[") else ref.partition(":")[0]
        if not ref.isascii():
            try:
                ref = ref.encode("idna").decode("ascii")
            except UnicodeError:
                continue
        ref = ref.lower()
        if name == ref or (suffix and name.endswith("." + ref)):
            return True
    return False


def _limit(slot: str, key: str, default: Any, doc: str) -> Any:
    """Make a settable property: the value set on the request, else ``config[key]``.

    Outside an app context the fallback is *default*.
    """
    # PERF: the slot is read by a C-level attrgetter, not getattr(self, name).
    read = attrgetter(slot)

    def get(self: Request) -> Any:
        value = read(self)
        if value is None:
            ctx = _cv_ctx.get(None)
            if ctx is None:
                return default
            return ctx.app.config.get(key, default)
        return value

    def set_(self: Request, value: Any) -> None:
        setattr(self, slot, value)

    return property(get, set_, doc=doc)


class Request(RequestHeadersMixin):
    """An incoming HTTP request, read lazily from a WSGI environ.

    Has the attributes and methods of Flask's ``request`` (Werkzeug's request API
    plus ``url_rule``, ``view_args``, ``endpoint``, ``blueprint`` and config-driven
    limits). Subclass it and set ``app.request_class`` to extend it; subclasses
    may add attributes freely.

    :param environ: the WSGI environ.
    :param populate_request: also store the request as
        ``environ["werkzeug.request"]``, as Werkzeug does (this ties the two in a
        reference cycle; servers that do not need it should pass ``False``).
    :param shallow: make reading the body raise :exc:`RuntimeError`, so that
        middleware cannot consume it.

    Example::

        req = Request(environ)
        req.args.get("page", 1, type=int)
    """

    # PERF: __init__ sets `environ`, `shallow`, the three caches every dispatch
    # reads (method, path, files - closed at teardown) and those the args and form
    # parsers read (a store costs a few ns; reading an unset slot costs an
    # AttributeError and a __getattr__ call, ~0.4 µs). The other slots stay unset
    # and read as None through __getattr__. Building a request is one Python call,
    # and a hello-world request makes no other call into this class.
    __slots__ = (
        "__weakref__",
        "_files",
        "_method",
        "_path",
        "environ",
        "shallow",
        *sorted(_LAZY_SLOTS),
    )

    #: The multi-dict class of :attr:`args`, :attr:`form` and :attr:`files`.
    parameter_storage_class: type[MultiDict[str, Any]] = ImmutableMultiDict
    #: The multi-dict class of :attr:`cookies`.
    dict_storage_class: type[MultiDict[str, Any]] = ImmutableMultiDict
    #: The list class of :attr:`access_route`.
    list_storage_class: type[list[Any]] = ImmutableList
    #: The class of :attr:`user_agent`.
    user_agent_class: type[UserAgent] = UserAgent
    #: The module whose ``loads`` decodes JSON bodies; :mod:`erlen.json` by default.
    json_module: Any = _JSONModule()

    environ: dict[str, Any]
    shallow: bool
    #: The routing rule that matched, set by the app (``None`` before or on failure).
    url_rule: Any
    #: The view arguments of the match, set by the app.
    view_args: dict[str, Any] | None
    #: The routing error (404, 405, redirect) if matching failed, set by the app.
    routing_exception: Exception | None

    def __init__(
        self,
        environ: dict[str, Any],
        populate_request: bool = True,
        shallow: bool = False,
    ) -> None:
        self.environ = environ
        self.shallow = shallow
        self._method = self._path = self._files = self._args = self._form = None
        self._stream = self._cached_data = self._max_content_length = None
        self._max_form_memory_size = self._max_form_parts = None
        if populate_request and not shallow:
            environ["werkzeug.request"] = self

    def __getattr__(self, name: str) -> Any:
        # Reached only for slots not yet filled (and unknown names).
        if name in _LAZY_SLOTS:
            return None
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}",
            name=name,
            obj=self,
        )

    @classmethod
    def from_values(cls, *args: Any, **kwargs: Any) -> Request:
        """Build a request from :class:`werkzeug.test.EnvironBuilder` arguments.

        For scripts and tests: ``Request.from_values("/?q=1", method="POST")``.
        """
        from werkzeug.test import EnvironBuilder

        builder = EnvironBuilder(*args, **kwargs)
        try:
            return cls(builder.get_environ())
        finally:
            builder.close()

    def __repr__(self) -> str:
        try:
            url = self.url
        except Exception as e:
            url = f"(invalid URL: {e})"
        return f"<{type(self).__name__} {url!r} [{self.method}]>"

    def __enter__(self) -> Request:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the uploaded files. Called when the request context ends."""
        files = self._files
        if files:
            for _key, value in iter_multi_items(files):
                value.close()

    # -- URL -------------------------------------------------------------------------

    @property
    def method(self) -> str:
        """The request method, upper case (``"GET"``)."""
        method = self._method
        if method is None:
            method = self._method = self.environ.get("REQUEST_METHOD", "GET").upper()
        return method

    @property
    def scheme(self) -> str:
        """The URL scheme of the protocol used, ``"http"`` or ``"https"``."""
        return self.environ.get("wsgi.url_scheme", "http")  # type: ignore[no-any-return]

    @property
    def is_secure(self) -> bool:
        """Whether the request was made over HTTPS (or WSS)."""
        return self.environ.get("wsgi.url_scheme", "http") in ("https", "wss")

    @property
    def server(self) -> tuple[str, int | None] | None:
        """The server address ``(host, port)``; port ``None`` for a Unix socket."""
        environ = self.environ
        name = environ.get("SERVER_NAME")
        if name is None:
            return None
        try:
            port: int | None = int(environ.get("SERVER_PORT"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            port = None
        return name, port

    @property
    def path(self) -> str:
        """The path after :attr:`root_path`, decoded, always starting with ``/``.

        :raise BadRequest: ``PATH_INFO`` is not valid UTF-8.
        """
        path = self._path
        if path is None:
            raw = _decode_wsgi_path(self.environ.get("PATH_INFO") or "", "path")
            path = self._path = "/" + raw.lstrip("/")
        return path

    @property
    def root_path(self) -> str:
        """The prefix the app is mounted under (``SCRIPT_NAME``), no trailing slash."""
        root = self._root_path
        if root is None:
            raw = self.environ.get("SCRIPT_NAME") or ""
            root = self._root_path = _decode_wsgi_path(raw, "script name").rstrip("/")
        return root

    script_root = root_path

    @property
    def query_string(self) -> bytes:
        """The raw query string, the part of the URL after ``?``."""
        qs = self._query_string
        if qs is None:
            raw = self.environ.get("QUERY_STRING", "")
            qs = self._query_string = raw.encode("latin-1", "replace")
        return qs

    def _query_text(self) -> str:
        # Raw bytes that are not UTF-8 stay percent-encoded rather than failing.
        return self.query_string.decode("utf-8", "werkzeug.url_quote")

    @property
    def args(self) -> MultiDict[str, str]:
        """The query-string parameters.

        :raise BadRequest: more parameters than :attr:`max_form_parts`.
        """
        args = self._args
        if args is None:
            raw = self.environ.get("QUERY_STRING")
            if raw:
                # An ASCII query string is its own UTF-8 decoding.
                text = raw if raw.isascii() else self._query_text()
                args = parse_query(
                    text, self.max_form_parts, BadRequest, self.parameter_storage_class
                )
            else:
                args = multidict_from_lists(self.parameter_storage_class, {})
            self._args = args
        return args

    @property
    def full_path(self) -> str:
        """The path and the query string, joined by ``?``."""
        full = self._full_path
        if full is None:
            full = self._full_path = f"{self.path}?{self._query_text()}"
        return full

    @property
    def host(self) -> str:
        """The host the request was made to, with the port unless it is the default.

        From the ``Host`` header, else ``SERVER_NAME:SERVER_PORT``. Set
        :attr:`trusted_hosts` (or the ``TRUSTED_HOSTS`` config) to restrict it.

        :raise BadRequest: the ``Host`` header is not a valid ``host[:port]``.
        :raise SecurityError: (a 400) the host is not trusted.
        """
        host = self._host
        if host is None:
            host = self._host = self._get_host()
        return host

    @host.setter
    def host(self, value: str) -> None:
        self._host = value

    def _get_host(self) -> str:
        environ = self.environ
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST")
        from_header = bool(host)
        if not from_header:
            name = environ.get("SERVER_NAME")
            port = str(environ.get("SERVER_PORT", ""))
            if name and port.isascii() and port.isdigit():
                if ":" in name and name[0] != "[":
                    name = f"[{name}]"
                host = f"{name}:{port}"
            else:
                host = ""
        if host:
            if scheme in ("http", "ws"):
                host = host.removesuffix(":80")
            elif scheme in ("https", "wss"):
                host = host.removesuffix(":443")
            match = _HOST_RE.fullmatch(host)
            if match is None or int(match.group(1) or 0) > 65535:
                if from_header:
                    raise BadRequest("The Host header is invalid.")
                host = ""  # a server address that is no host: treat as unknown
        trusted = self.trusted_hosts
        if trusted and not _host_is_trusted(host, trusted):
            raise SecurityError(f"Host {host!r} is not trusted.")
        return host  # type: ignore[no-any-return]

    trusted_hosts = _limit(
        "_trusted_hosts",
        "TRUSTED_HOSTS",
        None,
        """The host names :attr:`host` may have, or ``None`` for any.

        A name starting with ``.`` also allows its subdomains.""",
    )

    def _make_url(self, slot: str, *parts: Any) -> str:
        url = get_current_url(self.scheme, self.host, *parts)
        setattr(self, slot, url)
        return url

    @property
    def url(self) -> str:
        """The full URL: scheme, host, root path, path and query string (an IRI)."""
        return self._url or self._make_url(
            "_url", self.root_path, self.path, self.query_string
        )

    @property
    def base_url(self) -> str:
        """Like :attr:`url` but without the query string."""
        return self._base_url or self._make_url("_base_url", self.root_path, self.path)

    @property
    def root_url(self) -> str:
        """The scheme, host and root path, ending with ``/``."""
        return self._root_url or self._make_url("_root_url", self.root_path)

    url_root = root_url

    @property
    def host_url(self) -> str:
        """The scheme and host, ending with ``/``."""
        return self._host_url or self._make_url("_host_url")

    # -- routing (set by the app) ----------------------------------------------------

    @property
    def endpoint(self) -> str | None:
        """The endpoint of the matched rule, or ``None``."""
        rule = self.url_rule
        if rule is not None:
            return rule.endpoint  # type: ignore[no-any-return]
        return None

    @property
    def blueprint(self) -> str | None:
        """The registered name of the current blueprint (the endpoint's prefix)."""
        endpoint = self.endpoint
        if endpoint is not None and "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    @property
    def blueprints(self) -> list[str]:
        """The current blueprint and its parents, innermost first."""
        name = self.blueprint
        if name is None:
            return []
        names = [name]
        while "." in name:
            name = name.rpartition(".")[0]
            names.append(name)
        return names

    # -- headers ---------------------------------------------------------------------

    @property
    def headers(self) -> EnvironHeaders:
        """The request headers, read-only and case-insensitive."""
        headers = self._headers
        if headers is None:
            headers = self._headers = EnvironHeaders(self.environ)
        return headers

    @property
    def cookies(self) -> MultiDict[str, str]:
        """The cookies sent with the request."""
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = parse_cookie(
                self.environ.get("HTTP_COOKIE"), cls=self.dict_storage_class
            )
        return cookies

    content_type = _environ_value("CONTENT_TYPE", "The ``Content-Type`` header.")
    remote_addr = _environ_value(
        "REMOTE_ADDR", "The client's address, as the server reports it."
    )
    remote_user = _environ_value(
        "REMOTE_USER", "The user the server authenticated (``REMOTE_USER``)."
    )
    is_multithread = _environ_value(
        "wsgi.multithread", "Whether the server runs the app in several threads."
    )
    is_multiprocess = _environ_value(
        "wsgi.multiprocess", "Whether the server runs the app in several processes."
    )
    is_run_once = _environ_value(
        "wsgi.run_once", "Whether the app runs once per process (CGI)."
    )

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` as an int; ``None`` if absent or chunked."""
        environ = self.environ
        value = environ.get("CONTENT_LENGTH")
        if value is None:
            return None
        # PERF: plain digits (the usual value) skip Werkzeug's checks; anything
        # else (blanks, signs, huge numbers, Transfer-Encoding) goes through them.
        if (
            len(value) < 19
            and value.isdigit()
            and value.isascii()
            and "HTTP_TRANSFER_ENCODING" not in environ
        ):
            return int(value)
        return get_content_length(environ)

    # -- limits ----------------------------------------------------------------------

    # Each limit: a value set on the request wins, else the app's config, else
    # Werkzeug's default (Flask 3.1 semantics).
    max_content_length = _limit(
        "_max_content_length",
        "MAX_CONTENT_LENGTH",
        None,
        """The most bytes the body may have (413 past it), or ``None``.

        Without any limit, a body with neither ``Content-Length`` nor a
        server-terminated stream is not read at all.""",
    )
    max_form_memory_size = _limit(
        "_max_form_memory_size",
        "MAX_FORM_MEMORY_SIZE",
        DEFAULT_MAX_FORM_MEMORY_SIZE,
        "The most bytes of one non-file form field (413 past it), or ``None``.",
    )
    max_form_parts = _limit(
        "_max_form_parts",
        "MAX_FORM_PARTS",
        DEFAULT_MAX_FORM_PARTS,
        "The most form parts or query parameters (413/400 past it), or ``None``.",
    )

    def _form_limits(self) -> tuple[Any, Any, Any]:
        """Return the three body limits the form parser needs, as a tuple.

        :attr:`max_content_length`, :attr:`max_form_memory_size` and
        :attr:`max_form_parts`, in that order.
        """
        cls = type(self)
        if (
            cls.max_content_length is not _MAX_CONTENT_LENGTH
            or cls.max_form_memory_size is not _MAX_FORM_MEMORY_SIZE
            or cls.max_form_parts is not _MAX_FORM_PARTS
        ):
            return (
                self.max_content_length,
                self.max_form_memory_size,
                self.max_form_parts,
            )
        # PERF: what the three properties give, with one context lookup.
        content = self._max_content_length
        memory = self._max_form_memory_size
        parts = self._max_form_parts
        if content is None or memory is None or parts is None:
            ctx = _cv_ctx.get(None)
            if ctx is None:
                config: Any = {}
            else:
                config = ctx.app.config
            if content is None:
                content = config.get("MAX_CONTENT_LENGTH", None)
            if memory is None:
                memory = config.get(
                    "MAX_FORM_MEMORY_SIZE", DEFAULT_MAX_FORM_MEMORY_SIZE
                )
            if parts is None:
                parts = config.get("MAX_FORM_PARTS", DEFAULT_MAX_FORM_PARTS)
        return content, memory, parts

    # -- body ------------------------------------------------------------------------

    @property
    def input_stream(self) -> IO[bytes] | None:
        """The raw ``wsgi.input``, unguarded. Prefer :attr:`stream`."""
        return self.environ.get("wsgi.input")

    @property
    def stream(self) -> IO[bytes]:
        """The body stream, cut at ``Content-Length`` and :attr:`max_content_length`.

        It can be read once. Without ``Content-Length`` it is empty unless the
        server marks the input as terminated (``wsgi.input_terminated``).

        :raise RuntimeError: the request is ``shallow``.
        :raise RequestEntityTooLarge: the body is larger than allowed.
        """
        stream = self._stream
        if stream is None:
            if self.shallow:
                raise RuntimeError(
                    "This request was created with 'shallow=True'; reading from"
                    " the input stream is disabled."
                )
            stream = self._stream = get_input_stream(
                self.environ, self.max_content_length
            )
        return stream  # type: ignore[no-any-return]

    @property
    def want_form_data_parsed(self) -> bool:
        """Whether the request has a ``Content-Type``, so a form may be parsed."""
        return bool(self.environ.get("CONTENT_TYPE"))

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        """Return the file an uploaded file is written to; override to change it.

        By default an anonymous temporary file, kept in memory up to 1 MiB.
        """
        return default_stream_factory(
            total_content_length, content_type, filename, content_length
        )

    def _load_form_data(self) -> None:
        """Parse the body into :attr:`form` and :attr:`files`, once."""
        if self._form is not None:
            return
        form = files = None
        try:
            if self.want_form_data_parsed:
                # PERF: parsed again rather than read from the unset cache slot.
                parsed = _parse_content_type(self.environ.get("CONTENT_TYPE", ""))
                self._content_type = parsed
                mimetype, options = parsed
                if mimetype in FORM_MIMETYPES:
                    content_length = self.content_length
                    max_content_length, max_form_memory_size, max_form_parts = (
                        self._form_limits()
                    )
                    data = self._cached_data
                    if (
                        data is None
                        and self._stream is None
                        and not self.shallow
                        and type(self).stream is _STREAM
                    ):
                        # PERF: a small body with a known length is read in one
                        # call and parsed in memory, without stream objects.
                        data = read_small_body(
                            self.environ, content_length, max_content_length
                        )
                        if data is not None:
                            # Consumed, as after reading self.stream to its end.
                            self._stream = BytesIO()
                    if data is not None and mimetype == _URLENCODED:
                        # PERF: the shortest way for the most common form.
                        form = parse_urlencoded(
                            data,
                            max_content_length,
                            max_form_memory_size,
                            max_form_parts,
                            self.parameter_storage_class,
                        )
                        return
                    form, files = parse_form_data(
                        self.stream if data is None else data,
                        mimetype,
                        options,
                        content_length=content_length,
                        max_content_length=max_content_length,
                        max_form_memory_size=max_form_memory_size,
                        max_form_parts=max_form_parts,
                        # PERF: without an override, the parser calls the
                        # factory directly rather than through the method.
                        stream_factory=None
                        if type(self)._get_file_stream is _GET_FILE_STREAM
                        else self._get_file_stream,
                        cls=self.parameter_storage_class,
                    )
        finally:
            # Also on error, so that a 400/413 handler reading the form sees it empty.
            if form is None:
                form = multidict_from_lists(self.parameter_storage_class, {})
            self._form = form
            # PERF: no files (a url-encoded form): :attr:`files` makes the empty
            # multi-dict if it is asked for.
            self._files = files

    @property
    def form(self) -> MultiDict[str, str]:
        """The non-file fields of a url-encoded or multipart body.

        :raise BadRequest: malformed multipart body, or too many query/form fields.
        :raise RequestEntityTooLarge: a field, the parts or the body exceed a limit.
        """
        form = self._form
        if form is None:
            self._load_form_data()
            form = self._form
        return form  # type: ignore[no-any-return]

    @property
    def files(self) -> MultiDict[str, FileStorage]:
        """The uploaded files of a multipart body, as :class:`FileStorage` objects."""
        files = self._files
        if files is None:
            if self._form is None:
                self._load_form_data()
            files = self._files
            if files is None:
                files = multidict_from_lists(self.parameter_storage_class, {})
                self._files = files
        return files  # type: ignore[no-any-return]

    @property
    def values(self) -> CombinedMultiDict[str, str]:
        """:attr:`args` and :attr:`form` combined; only :attr:`args` for GET."""
        values = self._values
        if values is None:
            sources = [self.args]
            if self.method != "GET":
                sources.append(self.form)
            values = self._values = CombinedMultiDict(
                [d if isinstance(d, MultiDict) else MultiDict(d) for d in sources]
            )
        return values  # type: ignore[no-any-return]

    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> Any:
        """Read the whole body and return it as bytes (or text with *as_text*).

        With *parse_form_data*, a form body is parsed first and the result is
        empty. Check :attr:`content_length` or set :attr:`max_content_length`
        before reading untrusted bodies.
        """
        data = self._cached_data
        if data is None:
            if parse_form_data:
                self._load_form_data()
            data = self.stream.read()
            if cache:
                self._cached_data = data
        if as_text:
            return data.decode(errors="replace")
        return data

    @property
    def data(self) -> bytes:
        """The body as bytes; empty if it was a form (see :attr:`form`)."""
        return self.get_data(parse_form_data=True)  # type: ignore[no-any-return]

    # -- JSON ------------------------------------------------------------------------

    @property
    def is_json(self) -> bool:
        """Whether the mimetype is ``application/json`` or ``application/*+json``."""
        mt = self._parsed_content_type()[0]
        return mt == "application/json" or (
            mt.startswith("application/") and mt.endswith("+json")
        )

    @property
    def json(self) -> Any:
        """The body parsed as JSON; same as :meth:`get_json` with no arguments.

        :raise UnsupportedMediaType: (415) the content type is not JSON.
        :raise BadRequest: the body is not valid JSON.
        """
        return self.get_json()

    def get_json(
        self, force: bool = False, silent: bool = False, cache: bool = True
    ) -> Any:
        """Parse the body as JSON.

        :param force: parse even if the content type is not JSON.
        :param silent: return ``None`` instead of raising on a wrong content
            type or invalid JSON.
        :param cache: remember the result for later calls.
        :raise UnsupportedMediaType: (415) not JSON, unless *force* or *silent*.
        :raise BadRequest: invalid JSON, through :meth:`on_json_loading_failed`.
        """
        cached = self._cached_json
        if cache and cached is not None and cached[silent] is not Ellipsis:
            return cached[silent]
        if not (force or self.is_json):
            if silent:
                return None
            return self.on_json_loading_failed(None)
        data = self.get_data(cache=cache)
        normal, quiet = cached if cached is not None else (Ellipsis, Ellipsis)
        try:
            try:
                rv = self.json_module.loads(data)
            except RecursionError:
                # The stdlib parser recurses per "[": "[" * 100_000 must be a 400.
                raise ValueError("JSON nested too deeply to decode.") from None
        except ValueError as e:
            if silent:
                rv = None
                if cache:
                    self._cached_json = (normal, rv)
            else:
                rv = self.on_json_loading_failed(e)
                if cache:
                    self._cached_json = (rv, quiet)
        else:
            if cache:
                self._cached_json = (rv, rv)
        return rv

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """Handle a JSON body that cannot be loaded; a returned value is used instead.

        Raises 415 for a wrong content type (*e* is ``None``) and 400 for invalid
        JSON, with the parser's message only in debug mode. Override to change it.
        """
        if e is None:
            raise UnsupportedMediaType(
                "Did not attempt to load JSON data because the request"
                " Content-Type was not 'application/json'."
            )
        detailed = BadRequest(f"Failed to decode JSON object: {e}")
        ctx = _cv_ctx.get(None)
        if ctx is not None and getattr(ctx.app, "debug", False):
            raise detailed
        raise BadRequest() from detailed


_STREAM = Request.stream
_URLENCODED = "application/x-www-form-urlencoded"
_GET_FILE_STREAM = Request._get_file_stream
_MAX_CONTENT_LENGTH = Request.max_content_length
_MAX_FORM_MEMORY_SIZE = Request.max_form_memory_size
_MAX_FORM_PARTS = Request.max_form_parts
