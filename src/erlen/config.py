"""The application configuration: :class:`Config`, :class:`ConfigAttribute` and
:data:`DEFAULT_CONFIG`.

``app.config`` is a :class:`Config`, a ``dict`` that can fill itself from Python
files, objects, environment variables and data files (TOML, JSON, ...). Only
UPPERCASE keys are taken from files, objects and mappings, so helper names in a
config module stay out of the configuration.

Imports only :mod:`erlen.typing` from erlen (plus Werkzeug's ``import_string``
and ``ImmutableDict``), so every module may import this one.
"""

from __future__ import annotations

import errno
import json
import os
import types
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import IO, Any, Generic, TypeVar, overload

from werkzeug.datastructures import ImmutableDict
from werkzeug.utils import import_string

T = TypeVar("T")

# OSError numbers that mean "there is no such file here" rather than "the file
# is there but broken": with ``silent=True`` only these are swallowed, so a
# permission problem on an existing config file still surfaces.
_MISSING_FILE_ERRNOS = frozenset((errno.ENOENT, errno.EISDIR, errno.ENOTDIR))


# Flask 3.1's ``Flask.default_config``, key for key (tests/test_config.py
# compares the two), then erlen's additions, each with a comment here and a
# line in docs/config.md.
DEFAULT_CONFIG: ImmutableDict[str, Any] = ImmutableDict(
    {
        "DEBUG": None,
        "TESTING": False,
        "PROPAGATE_EXCEPTIONS": None,
        "SECRET_KEY": None,
        "SECRET_KEY_FALLBACKS": None,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
        "USE_X_SENDFILE": False,
        "TRUSTED_HOSTS": None,
        "SERVER_NAME": None,
        "APPLICATION_ROOT": "/",
        "SESSION_COOKIE_NAME": "session",
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_PATH": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_PARTITIONED": False,
        "SESSION_COOKIE_SAMESITE": None,
        "SESSION_REFRESH_EACH_REQUEST": True,
        "MAX_CONTENT_LENGTH": None,
        "MAX_FORM_MEMORY_SIZE": 500_000,
        "MAX_FORM_PARTS": 1_000,
        "SEND_FILE_MAX_AGE_DEFAULT": None,
        "TRAP_BAD_REQUEST_ERRORS": None,
        "TRAP_HTTP_EXCEPTIONS": False,
        "EXPLAIN_TEMPLATE_LOADING": False,
        "PREFERRED_URL_SCHEME": "http",
        "TEMPLATES_AUTO_RELOAD": None,
        "MAX_COOKIE_SIZE": 4093,
        "PROVIDE_AUTOMATIC_OPTIONS": True,
        # erlen addition: in debug mode, render the debug page (erlen.debug) for
        # an unhandled exception instead of raising it to the server.
        "DEBUG_PAGE": True,
        # erlen addition: the largest WebSocket message a view receives, in bytes;
        # a larger one closes the connection with 1009 (erlen.websockets). None
        # removes the limit.
        "WEBSOCKET_MAX_MESSAGE_SIZE": 1 << 20,
        # erlen addition: origins allowed to open WebSockets. None: a handshake
        # that carries cookies must come from the same host; a list also allows
        # those origins (and then applies to every handshake); "*": no check.
        "WEBSOCKET_ALLOWED_ORIGINS": None,
        # erlen addition: under ASGI, call sync views on the event loop instead
        # of in a worker thread (faster; only for views that never block).
        "ASGI_SYNC_INLINE": False,
        # erlen addition: under ASGI, the most worker threads running sync
        # views, sync streamed bodies and teardown at once (per worker process).
        "ASGI_THREADS": 40,
    }
)


def make_timedelta(value: timedelta | int | float | None) -> timedelta | None:
    """Turn a number of seconds into a :class:`~datetime.timedelta`.

    ``None`` and timedeltas pass through unchanged. This is the converter the
    app uses for ``permanent_session_lifetime``, so
    ``PERMANENT_SESSION_LIFETIME = 3600`` means one hour.

    :param value: ``None``, a timedelta, or seconds as ``int`` or ``float``.
    :raises TypeError: for any other type (``bool`` included), naming what
        was found and what is expected.
    """
    if value is None or isinstance(value, timedelta):
        return value
    # bool is an int subclass, but ``True`` as a lifetime is always a mistake.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise TypeError(
        "Expected a datetime.timedelta or a number of seconds (int or float),"
        f" got {value!r} ({type(value).__name__})."
    )


class ConfigAttribute(Generic[T]):
    """Expose ``app.config[name]`` as an attribute of the app.

    Reading the attribute returns the config value, passed through
    *get_converter* when one is given; assigning to it writes the config value
    as is. Used on the app class for ``testing``, ``secret_key`` and
    ``permanent_session_lifetime``::

        class Erlen:
            testing = ConfigAttribute[bool]("TESTING")

    :param name: the config key.
    :param get_converter: called with the stored value on every read.
    """

    __slots__ = ("__name__", "get_converter")

    def __init__(
        self, name: str, get_converter: Callable[[Any], T] | None = None
    ) -> None:
        self.__name__ = name
        self.get_converter = get_converter

    @overload
    def __get__(self, obj: None, owner: None = None) -> ConfigAttribute[T]: ...

    @overload
    def __get__(self, obj: Any, owner: Any = None) -> T: ...

    def __get__(self, obj: Any, owner: Any = None) -> T | ConfigAttribute[T]:
        if obj is None:
            return self
        value = obj.config[self.__name__]
        converter = self.get_converter
        if converter is None:
            return value  # type: ignore[no-any-return]
        try:
            return converter(value)
        except Exception as e:
            # The converter's message cannot know which key it was reading.
            e.add_note(f"while reading app.config[{self.__name__!r}]")
            raise

    def __set__(self, obj: Any, value: Any) -> None:
        obj.config[self.__name__] = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__!r}>"


class Config(dict):  # type: ignore[type-arg]
    """A ``dict`` of configuration values that can load itself from sources.

    Relative file names given to :meth:`from_pyfile` and :meth:`from_file` are
    resolved against *root_path* (the app's root folder)::

        app.config.from_mapping(SECRET_KEY="dev")
        app.config.from_pyfile("settings.cfg", silent=True)
        app.config.from_prefixed_env()

    :param root_path: folder that relative file names are resolved against.
    :param defaults: initial values, copied into the new config.
    """

    def __init__(
        self,
        root_path: str | os.PathLike[str],
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(defaults or {})
        self.root_path = root_path

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """Load the Python config file named by an environment variable.

        Shorthand for ``from_pyfile(os.environ[variable_name])``::

            app.config.from_envvar("YOURAPP_SETTINGS")

        :param variable_name: the environment variable holding the file name.
        :param silent: return ``False`` instead of raising when the variable
            is unset or empty, or the file does not exist.
        :return: ``True`` if a file was loaded.
        :raises RuntimeError: if the variable is unset or empty and not *silent*.
        """
        filename = os.environ.get(variable_name)
        if not filename:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set"
                " and as such configuration could not be loaded. Set"
                " this variable and make it point to a configuration"
                " file"
            )
        return self.from_pyfile(filename, silent=silent)

    def from_prefixed_env(
        self, prefix: str = "ERLEN", *, loads: Callable[[str], Any] = json.loads
    ) -> bool:
        """Load every environment variable named ``{prefix}_KEY`` as ``KEY``.

        Each value goes through *loads* (JSON by default) so that ``1``,
        ``true`` or ``{"a": 1}`` arrive typed; a value *loads* rejects is kept
        as the raw string. A double underscore reaches into nested dicts,
        creating them as needed: ``ERLEN_DB__HOST=db`` sets
        ``config["DB"]["HOST"] = "db"``. Variables are applied in sorted order
        of their names, so ``ERLEN_DB`` is set before ``ERLEN_DB__HOST``.

        :param prefix: the name prefix, without the trailing underscore.
        :param loads: turns each value string into a Python value.
        :return: always ``True``.
        :raises TypeError: if a nested key goes through a value that is not a
            dict.
        """
        prefix = f"{prefix}_"
        cut = len(prefix)
        environ = os.environ
        for env_key in sorted(environ):
            if not env_key.startswith(prefix):
                continue
            raw = environ[env_key]
            try:
                value = loads(raw)
            except Exception:
                # Not valid for the loader (plain words, paths, URLs ...):
                # keep the string the user wrote.
                value = raw
            key = env_key[cut:]
            if "__" not in key:
                self[key] = value
                continue
            *parents, leaf = key.split("__")
            target: Any = self
            for part in parents:
                if part not in target:
                    target[part] = {}
                target = target[part]
                if not isinstance(target, dict):
                    raise TypeError(
                        f"Cannot apply environment variable {env_key!r}: the"
                        f" value at {part!r} is a {type(target).__name__}, not a"
                        " dict. Remove the nested variable or make the outer"
                        " value a JSON object."
                    )
            target[leaf] = value
        return True

    def from_pyfile(
        self, filename: str | os.PathLike[str], silent: bool = False
    ) -> bool:
        """Run a Python file and load its UPPERCASE globals.

        The file is executed as if it were a module named ``config``;
        exceptions it raises propagate unchanged. Afterwards this behaves like
        :meth:`from_object` on that module::

            app.config.from_pyfile("settings.py")

        :param filename: path of the file, relative to :attr:`root_path`.
        :param silent: return ``False`` instead of raising when the file does
            not exist.
        :return: ``True`` if the file was loaded.
        :raises OSError: if the file cannot be read (its message starts with
            "Unable to load configuration file").
        """
        path = os.path.join(self.root_path, filename)
        module = types.ModuleType("config")
        module.__file__ = path
        try:
            # Binary mode lets a PEP 263 coding line in the file take effect.
            with open(path, mode="rb") as f:
                code = compile(f.read(), path, "exec")
        except OSError as e:
            if silent and e.errno in _MISSING_FILE_ERRNOS:
                return False
            e.strerror = f"Unable to load configuration file ({e.strerror})"
            raise
        exec(code, module.__dict__)
        self.from_object(module)
        return True

    def from_object(self, obj: object | str) -> None:
        """Copy the UPPERCASE attributes of an object (or module, or class).

        A string is imported first: ``"pkg.settings"``, ``"pkg.settings.Prod"``
        or ``"pkg.settings:Prod"``. Lowercase names are ignored, so a config
        class can hold helpers::

            class Production:
                DEBUG = False
                DATABASE_URI = "postgresql://db/prod"

            app.config.from_object(Production)

        Properties on a class come back as property objects; pass an instance
        to have them evaluated.

        :param obj: an object, or an import string naming one.
        :raises werkzeug.utils.ImportStringError: if the string cannot be
            imported.
        """
        if isinstance(obj, str):
            obj = import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: Callable[[IO[Any]], Mapping[str, Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load the UPPERCASE keys of a data file parsed by *load*::

            import tomllib
            app.config.from_file("config.toml", load=tomllib.load, text=False)

            import json
            app.config.from_file("config.json", load=json.load)

        :param filename: path of the file, relative to :attr:`root_path`.
        :param load: called with the open file; must return a mapping.
        :param silent: return ``False`` instead of raising when the file does
            not exist.
        :param text: open the file as UTF-8 text (``True``) or as bytes
            (``False``, which ``tomllib.load`` requires).
        :return: ``True`` if the file was loaded.
        :raises OSError: if the file cannot be read.
        :raises TypeError: if *load* does not return a mapping.
        """
        path = os.path.join(self.root_path, filename)
        try:
            # Text mode uses UTF-8, not the locale's encoding: JSON and TOML
            # are UTF-8 by their specifications.
            if text:
                with open(path, encoding="utf-8") as f:
                    obj = load(f)
            else:
                with open(path, mode="rb") as f:
                    obj = load(f)
        except OSError as e:
            if silent and e.errno in _MISSING_FILE_ERRNOS:
                return False
            e.strerror = f"Unable to load configuration file ({e.strerror})"
            raise
        if not isinstance(obj, Mapping):
            raise TypeError(
                f"Configuration file {os.fspath(path)!r} must hold a mapping"
                f" (a JSON object or TOML table) at the top level, but"
                f" {load!r} returned {type(obj).__name__}."
            )
        return self.from_mapping(obj)

    def from_mapping(
        self, mapping: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> bool:
        """Copy the UPPERCASE keys of a mapping and of the keyword arguments::

            app.config.from_mapping({"SECRET_KEY": "dev"}, TESTING=True)

        Keyword arguments win over the mapping for the same key.

        :return: always ``True``.
        """
        merged: dict[str, Any] = {}
        if mapping is not None:
            merged.update(mapping)
        merged.update(kwargs)
        for key, value in merged.items():
            if key.isupper():
                self[key] = value
        return True

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, Any]:
        """Return the options whose keys start with *namespace*, as a new dict.

        Handy for passing a group of settings as keyword arguments::

            app.config["IMAGE_STORE_TYPE"] = "fs"
            app.config["IMAGE_STORE_PATH"] = "/var/app/images"
            app.config.get_namespace("IMAGE_STORE_")
            # {'type': 'fs', 'path': '/var/app/images'}

        :param namespace: the key prefix, matched case-sensitively.
        :param lowercase: lowercase the returned keys.
        :param trim_namespace: drop the prefix from the returned keys.
        """
        result: dict[str, Any] = {}
        cut = len(namespace) if trim_namespace else 0
        for key, value in self.items():
            if not isinstance(key, str) or not key.startswith(namespace):
                continue
            key = key[cut:]
            if lowercase:
                key = key.lower()
            result[key] = value
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


__all__ = ["DEFAULT_CONFIG", "Config", "ConfigAttribute", "make_timedelta"]
