"""The environ of a request served over ASGI, built lazily from the scope.

The Request reads a PEP 3333 environ; :func:`_environ` starts one from an ASGI
``http`` or ``websocket`` scope with only what routing needs, and
:class:`ASGIEnviron` fills in the rest (headers, addresses, ``wsgi.*``) the first
time anything else is asked for.

May import: erlen.typing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

if TYPE_CHECKING:  # pragma: no cover
    from .typing import Scope

_NO_SERVER = ("localhost", 80)

# Header name -> environ key, for the names seen so far (bounded: names only,
# never values, so hostile requests cannot grow it past the cap).
_ENV_KEYS: dict[bytes, str | None] = {
    b"content-type": "CONTENT_TYPE",
    b"content-length": "CONTENT_LENGTH",
}
_ENV_KEYS_MAX = 512

#: Keys an ASGIEnviron holds from the start; any other key fills it in.
_EAGER_KEYS = frozenset({"asgi.scope", "REQUEST_METHOD", "PATH_INFO", "SCRIPT_NAME"})

_dict_get = dict.get
_dict_contains = dict.__contains__
_dict_setdefault = dict.setdefault


class ASGIEnviron(dict):  # type: ignore[type-arg]
    """The environ of a request served over ASGI: a ``dict``, filled in lazily.

    It starts with the method and paths (all routing needs); the headers
    (``HTTP_*``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``), query string, server and
    client addresses and ``wsgi.*`` keys are added from the scope the first time
    anything else is asked for — so a request whose view never reads the request
    never pays for them.
    """

    __slots__ = ()

    def _fill(self) -> None:
        scope = _dict_get(self, "asgi.scope")
        setdefault = _dict_setdefault
        server = scope.get("server") or _NO_SERVER
        client = scope.get("client")
        port = server[1]
        setdefault(self, "QUERY_STRING", scope["query_string"].decode("latin-1"))
        setdefault(self, "SERVER_NAME", server[0])
        setdefault(self, "SERVER_PORT", "" if port is None else str(port))
        setdefault(self, "SERVER_PROTOCOL", "HTTP/" + scope.get("http_version", "1.1"))
        setdefault(self, "REMOTE_ADDR", client[0] if client else "")
        setdefault(self, "wsgi.url_scheme", scope.get("scheme") or "http")
        setdefault(self, "wsgi.errors", sys.stderr)
        setdefault(self, "wsgi.multithread", True)
        setdefault(self, "wsgi.multiprocess", True)
        headers: dict[str, str] = {}
        keys = _ENV_KEYS
        for name, value in scope["headers"]:
            key = keys.get(name, False)
            if key is False:
                key = _env_key(name)
            if key is None:
                continue
            text = value.decode("latin-1")
            old = headers.get(key)
            if old is None:
                headers[key] = text
            else:
                headers[key] = f"{old}{'; ' if key == 'HTTP_COOKIE' else ','}{text}"
        for key, text in headers.items():
            setdefault(self, key, text)
        # Last: its presence marks the environ as filled.
        setdefault(self, "wsgi.run_once", False)

    def _ready(self) -> None:
        if not _dict_contains(self, "wsgi.run_once"):
            self._fill()

    def __getitem__(self, key: str) -> Any:
        if key not in _EAGER_KEYS:
            self._ready()
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        if key not in _EAGER_KEYS:
            self._ready()
        return _dict_get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if key not in _EAGER_KEYS:
            self._ready()
        return _dict_contains(self, key)

    def __iter__(self) -> Any:
        self._ready()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._ready()
        return dict.__len__(self)

    def __repr__(self) -> str:
        self._ready()
        return dict.__repr__(self)

    def __eq__(self, other: object) -> bool:
        self._ready()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def keys(self) -> Any:
        self._ready()
        return dict.keys(self)

    def items(self) -> Any:
        self._ready()
        return dict.items(self)

    def values(self) -> Any:
        self._ready()
        return dict.values(self)

    def copy(self) -> dict[str, Any]:
        self._ready()
        return dict(dict.items(self))

    def pop(self, key: str, *default: Any) -> Any:
        self._ready()
        return dict.pop(self, key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._ready()
        return _dict_setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._ready()
        dict.update(self, *args, **kwargs)

    def __delitem__(self, key: str) -> None:
        self._ready()
        dict.__delitem__(self, key)


def _environ(scope: Scope) -> ASGIEnviron:
    """Start the environ the Request reads, from an HTTP or WebSocket scope.

    ``wsgi.input`` is added only when a body is read (the Request treats its
    absence as an empty body).
    """
    path = scope["path"]
    raw = scope.get("raw_path")
    if raw and b"%" in raw:
        # Decode from the raw bytes so invalid UTF-8 stays detectable (400),
        # as under WSGI; the server's str has already replaced it.
        path_info = unquote_to_bytes(raw).decode("latin-1")
    elif path.isascii():
        path_info = path
    else:
        path_info = path.encode().decode("latin-1")
    root = scope.get("root_path")
    if root:
        root = root.encode().decode("latin-1")
        if path_info.startswith(root):
            path_info = path_info[len(root) :]
    else:
        root = ""
    return ASGIEnviron(
        {
            "asgi.scope": scope,
            "REQUEST_METHOD": scope.get("method", "GET"),
            "PATH_INFO": path_info,
            "SCRIPT_NAME": root,
        }
    )


def _env_key(name: bytes) -> str | None:
    # Names with "_" are dropped, as gunicorn does: "X_Forwarded_For" must not
    # pose as "X-Forwarded-For" once both map to HTTP_X_FORWARDED_FOR.
    text = name.decode("latin-1")
    key = None if "_" in text else "HTTP_" + text.upper().replace("-", "_")
    if len(_ENV_KEYS) < _ENV_KEYS_MAX:
        _ENV_KEYS[name] = key
    return key
