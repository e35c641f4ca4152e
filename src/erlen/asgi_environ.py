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


class FilledEnviron(dict):  # type: ignore[type-arg]
    """What an :class:`ASGIEnviron` becomes once filled: a plain ``dict`` subclass.

    PERF: switching the class (same layout, no overridden methods) makes every
    later environ access a C-level dict operation again (bench "form", ASGI).
    """

    __slots__ = ()

    def _fill(self) -> None:
        """Nothing left to fill (a bound method of the old class may call this)."""


class ASGIEnviron(dict):  # type: ignore[type-arg]
    """The environ of a request served over ASGI: a ``dict``, filled in lazily.

    It starts with the method and paths (all routing needs); the headers
    (``HTTP_*``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``), query string, server and
    client addresses and ``wsgi.*`` keys are added from the scope the first time
    anything else is asked for — so a request whose view never reads the request
    never pays for them. Filling turns the object into a :class:`FilledEnviron`.
    """

    __slots__ = ()

    def _fill(self) -> None:
        # A bound method taken before filling may still call this afterwards.
        if type(self) is not ASGIEnviron:
            return
        scope = _dict_get(self, "asgi.scope")
        server = scope.get("server") or _NO_SERVER
        client = scope.get("client")
        port = server[1]
        values: dict[str, Any] = {
            "QUERY_STRING": scope["query_string"].decode("latin-1"),
            "SERVER_NAME": server[0],
            "SERVER_PORT": "" if port is None else str(port),
            "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
            "REMOTE_ADDR": client[0] if client else "",
            "wsgi.url_scheme": scope.get("scheme") or "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        keys = _ENV_KEYS
        for name, value in scope["headers"]:
            key = keys.get(name, False)
            if key is False:
                key = _env_key(name)
            if key is None:
                continue
            text = value.decode("latin-1")
            old = values.get(key)
            if old is None:
                values[key] = text
            else:
                values[key] = f"{old}{'; ' if key == 'HTTP_COOKIE' else ','}{text}"
        # Keys set before filling (a read body, a changed length) win.
        values.update(dict.items(self))
        dict.update(self, values)
        self.__class__ = FilledEnviron  # type: ignore[assignment]

    def __getitem__(self, key: str) -> Any:
        if key not in _EAGER_KEYS:
            self._fill()
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        if key not in _EAGER_KEYS:
            self._fill()
        return _dict_get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if key not in _EAGER_KEYS:
            self._fill()
        return _dict_contains(self, key)

    def __iter__(self) -> Any:
        self._fill()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._fill()
        return dict.__len__(self)

    def __repr__(self) -> str:
        self._fill()
        return dict.__repr__(self)

    def __eq__(self, other: object) -> bool:
        self._fill()
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def keys(self) -> Any:
        self._fill()
        return dict.keys(self)

    def items(self) -> Any:
        self._fill()
        return dict.items(self)

    def values(self) -> Any:
        self._fill()
        return dict.values(self)

    def copy(self) -> dict[str, Any]:
        self._fill()
        return dict(dict.items(self))

    def pop(self, key: str, *default: Any) -> Any:
        self._fill()
        return dict.pop(self, key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._fill()
        return _dict_setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._fill()
        dict.update(self, *args, **kwargs)

    def __delitem__(self, key: str) -> None:
        self._fill()
        dict.__delitem__(self, key)


def _environ(scope: Scope) -> ASGIEnviron:
    """Start the environ the Request reads, from an HTTP or WebSocket scope.

    ``wsgi.input`` is added only when a body is read (the Request treats its
    absence as an empty body).
    """
    # PERF: ``in`` + subscript instead of .get(): no calls (bench "hello", ASGI).
    path = scope["path"]
    raw = scope["raw_path"] if "raw_path" in scope else None  # noqa: SIM401
    if raw and b"%" in raw:
        # Decode from the raw bytes so invalid UTF-8 stays detectable (400),
        # as under WSGI; the server's str has already replaced it.
        path_info = unquote_to_bytes(raw).decode("latin-1")
    elif path.isascii():
        path_info = path
    else:
        path_info = path.encode().decode("latin-1")
    root = scope["root_path"] if "root_path" in scope else None  # noqa: SIM401
    if root:
        root = root.encode().decode("latin-1")
        if path_info.startswith(root):
            path_info = path_info[len(root) :]
    else:
        root = ""
    return ASGIEnviron(
        {
            "asgi.scope": scope,
            "REQUEST_METHOD": scope["method"] if "method" in scope else "GET",  # noqa: SIM401
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
