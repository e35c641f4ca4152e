"""Sessions: the session objects and the interfaces that load and store them.

:class:`SecureCookieSessionInterface`, the default, keeps the whole session in
a cookie signed with the app's secret key (tagged JSON from :mod:`erlen.json.tag`);
the cookie format is Flask's (itsdangerous' ``URLSafeTimedSerializer``), so Flask
and erlen apps sharing a secret key read each other's sessions. The cookies are
signed and read by a lean equivalent of that serializer, :class:`_CookieSigner`.
:class:`SessionInterface` is the base to implement for other storage.

Imports :mod:`erlen.json.tag`. The app, request and response reach this module
only as arguments: it needs ``app.config``, ``app.secret_key`` and
``app.permanent_session_lifetime``, ``request.cookies``, and the response's
``set_cookie``, ``delete_cookie``, ``headers`` and ``vary``.
"""

from __future__ import annotations

import hashlib
import struct
import time
import warnings
import zlib
from binascii import a2b_base64, b2a_base64
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from hmac import compare_digest
from hmac import digest as hmac_digest
from typing import TYPE_CHECKING, Any, NoReturn

from itsdangerous import BadData, Signer, URLSafeTimedSerializer
from werkzeug.http import dump_cookie

from .json.tag import TaggedJSONSerializer

if TYPE_CHECKING:  # pragma: no cover
    from .app import Erlen
    from .wrappers.request import Request
    from .wrappers.response import Response

__all__ = [
    "NullSession",
    "SecureCookieSession",
    "SecureCookieSessionInterface",
    "SessionInterface",
    "SessionMixin",
    "session_json_serializer",
]


class SessionMixin(MutableMapping[str, Any]):
    """Add the session attributes to a mapping.

    A custom session class can be as small as ``class Session(dict, SessionMixin)``.
    """

    @property
    def permanent(self) -> bool:
        """Whether the session outlives the browser session; stored in the
        ``"_permanent"`` key."""
        return self.get("_permanent", False)  # type: ignore[no-any-return]

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)

    #: Whether the session was created for this request. The cookie session
    #: cannot tell a new session from an emptied one, so it stays ``False``.
    new = False
    #: Whether the session changed; a changed session is saved. Classes that
    #: cannot track changes leave it ``True`` so they are always saved.
    modified = True
    #: Whether the session was read or written; a ``Vary: Cookie`` header is
    #: added to the response then. Classes that cannot track reads leave it
    #: ``True``, which is always safe for caches.
    accessed = True


class SecureCookieSession(dict, SessionMixin):  # type: ignore[type-arg]
    """A dict that records being read (:attr:`accessed`) and changed (:attr:`modified`).

    Every read counts, including ``in``, ``len()``, truth tests, iteration and
    the views from ``keys()``/``items()``/``values()``: any of them makes the
    response depend on the cookie, so the response must carry ``Vary: Cookie``.

    :param initial: the session's starting contents.
    """

    modified = False
    accessed = False

    def __init__(
        self, initial: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
    ) -> None:
        if initial:
            dict.__init__(self, initial)

    # -- reads ------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return dict.__contains__(self, key)

    def __len__(self) -> int:
        self.accessed = True
        return dict.__len__(self)

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        self.accessed = True
        return dict.__reversed__(self)

    def keys(self) -> Any:
        self.accessed = True
        return dict.keys(self)

    def values(self) -> Any:
        self.accessed = True
        return dict.values(self)

    def items(self) -> Any:
        self.accessed = True
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        self.accessed = True
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        self.accessed = True
        return dict.__eq__(self, other)  # type: ignore[no-any-return]

    def __ne__(self, other: object) -> bool:
        self.accessed = True
        return dict.__ne__(self, other)  # type: ignore[no-any-return]

    __hash__ = None  # type: ignore[assignment]

    def __or__(self, other: Any) -> Any:
        self.accessed = True
        return dict.__or__(self, other)

    def __ror__(self, other: Any) -> Any:
        self.accessed = True
        return dict.__ror__(self, other)

    def __repr__(self) -> str:
        self.accessed = True
        return f"<{type(self).__name__} {dict.__repr__(self)}>"

    # -- writes -----------------------------------------------------------------------
    def _changed(self) -> None:
        self.modified = True
        self.accessed = True

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        self._changed()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        dict.__setitem__(self, key, default)
        self.modified = True
        return default

    def pop(self, key: str, *default: Any) -> Any:
        self.accessed = True
        present = dict.__contains__(self, key)
        value = dict.pop(self, key, *default)
        if present:
            self.modified = True
        return value

    def popitem(self) -> tuple[str, Any]:
        item = dict.popitem(self)
        self._changed()
        return item

    def clear(self) -> None:
        dict.clear(self)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        dict.update(self, *args, **kwargs)
        self._changed()

    def __ior__(self, other: Any) -> SecureCookieSession:
        dict.update(self, other)
        self._changed()
        return self


_NO_SECRET_KEY = (
    "The session is unavailable because no secret key was set. Set the"
    " secret_key on the application (SECRET_KEY in its config) to something"
    " unique and secret."
)


class NullSession(SecureCookieSession):
    """The session used when no secret key is set: empty, readable, and any
    attempt to change it raises :class:`RuntimeError` explaining why."""

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError(_NO_SECRET_KEY)

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail  # type: ignore[assignment]
    __ior__ = _fail  # type: ignore[assignment]
    del _fail


def _lifetime(app: Any) -> timedelta:
    """Return the app's permanent session lifetime as a :class:`timedelta`."""
    value = getattr(app, "permanent_session_lifetime", None)
    if value is None:
        value = app.config["PERMANENT_SESSION_LIFETIME"]
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=value)


class SessionInterface:
    """Load and save sessions; subclass it to store sessions elsewhere.

    Implement :meth:`open_session` and :meth:`save_session`; the other methods
    read the session cookie settings from the app config and may be overridden.
    Set an instance on ``app.session_interface`` to use it.

    Requests sharing a session can run concurrently, and sessions are opened
    and saved in whatever order the requests start and finish; a store that
    needs consistency must synchronize itself.
    """

    #: Made by :meth:`make_null_session` when :meth:`open_session` gives ``None``.
    null_session_class: type[SessionMixin] = NullSession
    #: Whether the sessions are pickled (informational; cookies use JSON).
    pickle_based = False

    def make_null_session(self, app: Erlen) -> SessionMixin:
        """Return the stand-in session used when no session could be opened."""
        return self.null_session_class()

    def is_null_session(self, obj: object) -> bool:
        """Return whether ``obj`` is a null session; null sessions are not saved."""
        return isinstance(obj, self.null_session_class)

    def get_cookie_name(self, app: Erlen) -> str:
        """Return the cookie's name (``SESSION_COOKIE_NAME``)."""
        return app.config["SESSION_COOKIE_NAME"]  # type: ignore[no-any-return]

    def get_cookie_domain(self, app: Erlen) -> str | None:
        """Return the cookie's ``Domain`` (``SESSION_COOKIE_DOMAIN``).

        ``None`` limits the cookie to the exact host that set it; a domain
        also sends it to that domain's subdomains.
        """
        return app.config["SESSION_COOKIE_DOMAIN"]  # type: ignore[no-any-return]

    def get_cookie_path(self, app: Erlen) -> str:
        """Return the cookie's ``Path``: ``SESSION_COOKIE_PATH``, else
        ``APPLICATION_ROOT``."""
        config = app.config
        return config["SESSION_COOKIE_PATH"] or config["APPLICATION_ROOT"]  # type: ignore[no-any-return]

    def get_cookie_httponly(self, app: Erlen) -> bool:
        """Return whether the cookie is ``HttpOnly`` (``SESSION_COOKIE_HTTPONLY``)."""
        return app.config["SESSION_COOKIE_HTTPONLY"]  # type: ignore[no-any-return]

    def get_cookie_secure(self, app: Erlen) -> bool:
        """Return whether the cookie is ``Secure`` (``SESSION_COOKIE_SECURE``)."""
        return app.config["SESSION_COOKIE_SECURE"]  # type: ignore[no-any-return]

    def get_cookie_samesite(self, app: Erlen) -> str | None:
        """Return the cookie's ``SameSite`` value (``SESSION_COOKIE_SAMESITE``)."""
        return app.config["SESSION_COOKIE_SAMESITE"]  # type: ignore[no-any-return]

    def get_cookie_partitioned(self, app: Erlen) -> bool:
        """Return whether the cookie is ``Partitioned``
        (``SESSION_COOKIE_PARTITIONED``)."""
        return app.config["SESSION_COOKIE_PARTITIONED"]  # type: ignore[no-any-return]

    def get_expiration_time(self, app: Erlen, session: SessionMixin) -> datetime | None:
        """Return when the cookie expires: now plus the permanent session
        lifetime for a permanent session, ``None`` (end of the browser session)
        otherwise."""
        if session.permanent:
            return datetime.now(UTC) + _lifetime(app)
        return None

    def should_set_cookie(self, app: Erlen, session: SessionMixin) -> bool:
        """Return whether the response must send the cookie again: when the
        session changed, or when it is permanent and
        ``SESSION_REFRESH_EACH_REQUEST`` is on (this moves its expiry forward)."""
        return bool(
            session.modified
            or (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"])
        )

    def open_session(self, app: Erlen, request: Request) -> SessionMixin | None:
        """Return the session for ``request``, or ``None`` if sessions cannot
        work (the app then uses :meth:`make_null_session`).

        Called when the session is first needed during a request.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement open_session() to load sessions."
        )

    def save_session(
        self, app: Erlen, session: SessionMixin, response: Response
    ) -> None:
        """Store ``session`` and update ``response`` accordingly (cookies, ``Vary``).

        Called after the response is made; skipped for null sessions.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement save_session() to store sessions."
        )


#: The serializer the cookie session uses; register extra tags on it.
session_json_serializer = TaggedJSONSerializer()


def _sha1(data: bytes = b"") -> Any:
    # Looked up at call time: builds without SHA-1 (FIPS) can still import this
    # module and configure another digest.
    return hashlib.sha1(data)


# -- the signed cookie format -----------------------------------------------------
# Flask's session cookie is what itsdangerous' URLSafeTimedSerializer writes:
#
#     payload "." timestamp "." signature
#
# payload:   base64url(serialized data), or "." + base64url(zlib(data)) when
#            compressing makes it at least two bytes shorter;
# timestamp: base64url(seconds since the epoch, big-endian, leading zero bytes
#            dropped);
# signature: base64url(HMAC(derived key, payload "." timestamp)), where the key is
#            derived from the secret key and the salt (``key_derivation``).
#
# base64url is without "=" padding. Reading accepts what itsdangerous accepts:
# the standard alphabet too, and characters outside the alphabet are skipped.
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
# The "=" padding base64 needs for a text of len(text) % 4 characters.
_PADDING = (b"", b"===", b"==", b"=")
# Compression is used when it saves 2 bytes; zlib adds 6 (header, checksum) to the
# deflate stream, so for data of n <= 11 bytes that stream would have to fit in
# n - 8 <= 3 bytes (24 bits). It cannot: a fixed-code block takes 3 header bits,
# 8+ per distinct byte (a literal), 12+ per repeat (a match) and 7 for the end
# code, so 10 + 8n bits without a repeat and 30+ with one; a dynamic-code block's
# header alone takes 29+ bits, a stored block more than the data.
# PERF: zlib.compress costs 2.5-35 us a call (it sets up ~256 KB of state), which
# this skips for tiny sessions (bench `session` writes 11 bytes). Tested.
_NEVER_COMPRESSES = 11
_INT64 = struct.Struct(">Q")
# Signers kept per session interface: one per app sharing it, plus rotations.
_MAX_SIGNERS = 16
# Verified cookies each signer remembers (see _CookieSigner.loads); at most this
# many, each at most _MAX_SEEN_LENGTH characters long (browsers keep 4 KB).
_MAX_SEEN = 256
_MAX_SEEN_LENGTH = 4096
# Values that are immutable and that no tag changes: a dict of only these can be
# handed out again as a copy.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _b64(data: bytes) -> bytes:
    """Return ``data`` base64url-encoded without padding."""
    return b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


class _CookieSigner:
    """Sign and read session cookies in itsdangerous' URL-safe timed format.

    A lean equivalent of ``URLSafeTimedSerializer.dumps``/``loads`` for one set of
    signing settings: the derived keys are computed once here (itsdangerous derives
    them again for every call), and each call makes only a few Python calls.
    The tests check its output against itsdangerous and Flask byte for byte.

    :param settings: ``(secret_key, fallbacks, salt, key_derivation,
        digest_method, serializer)``, kept to tell when they change.
    """

    __slots__ = (
        "_digest",
        "_keys",
        "_last",
        "_remember",
        "_seen",
        "_serializer",
        "_stamp",
        "_text",
        "settings",
    )

    def __init__(self, settings: tuple[Any, ...]) -> None:
        secret_key, fallbacks, salt, key_derivation, digest_method, serializer = (
            settings
        )
        self.settings = settings
        # Let itsdangerous derive the keys, so every derivation it knows works the
        # same; newest first, as it tries them.
        signer = Signer(
            [*fallbacks, secret_key],
            salt=salt,
            key_derivation=key_derivation,
            digest_method=digest_method,
        )
        #: Derived keys to verify with, newest first; the first one signs.
        self._keys = [signer.derive_key(key) for key in reversed(signer.secret_keys)]
        # PERF: hashlib's own constructor takes OpenSSL's HMAC path; the default
        # wrapper (kept so FIPS builds can import this module) would not.
        self._digest = hashlib.sha1 if digest_method is _sha1 else digest_method
        self._serializer = serializer
        # As itsdangerous: a serializer that returns text gets text to load.
        self._text = isinstance(serializer.dumps({}), str)
        #: (second, b"." + encoded timestamp) of the last cookie signed.
        self._stamp: tuple[int, bytes] = (-1, b"")
        #: (second, encoded payload, cookie value) of the last cookie signed.
        self._last: tuple[int, bytes, str] = (-1, b"", "")
        #: Cookies verified before: value -> (time signed, session data).
        self._seen: dict[str | bytes, tuple[int, dict[str, Any]]] = {}
        # Only the tagged JSON serializer's results are known to depend on the
        # text alone; another serializer's loads runs for every cookie.
        self._remember = type(serializer).loads is TaggedJSONSerializer.loads

    def dumps(self, data: Any) -> str:
        """Return the signed cookie value holding ``data``."""
        payload = self._serializer.dumps(data)
        if type(payload) is str:
            payload = payload.encode()
        # PERF: the base64url encoding is written out (b2a_base64, translate,
        # rstrip) instead of calling a helper, here and below.
        if len(payload) > _NEVER_COMPRESSES:
            packed = zlib.compress(payload)
            if len(packed) < len(payload) - 1:
                payload = b"." + b2a_base64(packed, newline=False)
            else:
                payload = b2a_base64(payload, newline=False)
        else:
            payload = b2a_base64(payload, newline=False)
        body = payload.translate(_TO_URLSAFE).rstrip(b"=")
        now = int(time.time())
        last = self._last
        if last[0] == now and last[1] == body:
            # PERF: the same data signed again within the same second (a
            # refreshed permanent session, a busy page) is the same cookie.
            return last[2]
        stamp = self._stamp
        if stamp[0] != now:
            stamp = self._stamp = (now, b"." + _b64(_INT64.pack(now).lstrip(b"\0")))
        signed = body + stamp[1]
        signature = b2a_base64(
            hmac_digest(self._keys[0], signed, self._digest), newline=False
        )
        value = (signed + b"." + signature.translate(_TO_URLSAFE).rstrip(b"=")).decode(
            "ascii"
        )
        self._last = (now, body, value)
        return value

    def loads(self, value: str | bytes, max_age: int) -> Any:
        """Return the data in the signed cookie ``value``.

        ``None`` when the signature does not match any key, the timestamp is
        older than ``max_age`` seconds or in the future, or the payload does not
        decode — the cases in which itsdangerous raises ``BadSignature``.
        """
        # PERF: a browser sends the same cookie until the session changes (a
        # logged-in user's pages only read it). A cookie that verified before
        # is not verified and parsed again: only its age is checked, and the
        # remembered data (plain values only) is copied. ~9 us (bench `session`).
        seen = self._seen.get(value)
        if seen is not None:
            age = int(time.time()) - seen[0]
            if age > max_age or age < 0:
                return None
            return seen[1].copy()
        cookie = value
        try:
            if type(value) is str:
                value = value.encode()  # type: ignore[assignment]
            signed, sep, signature = value.rpartition(b".")  # type: ignore[arg-type]
            if not sep:
                return None
            signature = a2b_base64(
                signature.translate(_FROM_URLSAFE) + _PADDING[len(signature) & 3]
            )
            digest = self._digest
            for key in self._keys:
                if compare_digest(signature, hmac_digest(key, signed, digest)):
                    break
            else:
                return None
            payload, sep, stamp = signed.rpartition(b".")
            if not sep:
                return None
            stamp = a2b_base64(
                stamp.translate(_FROM_URLSAFE) + _PADDING[len(stamp) & 3]
            )
            if len(stamp) > 8:
                return None
            signed_at = int.from_bytes(stamp, "big")
            age = int(time.time()) - signed_at
            if age > max_age or age < 0:
                return None
            compressed = payload[:1] == b"."
            if compressed:
                payload = payload[1:]
            payload = a2b_base64(
                payload.translate(_FROM_URLSAFE) + _PADDING[len(payload) & 3]
            )
            if compressed:
                payload = zlib.decompress(payload)
        except (ValueError, zlib.error):
            # Not base64, not zlib, or text that is not UTF-8 (UnicodeError).
            return None
        try:
            data = self._serializer.loads(payload.decode() if self._text else payload)
        except Exception:
            # As itsdangerous (BadPayload): whatever the serializer raises means
            # the payload cannot be read.
            return None
        if self._remember and type(data) is dict and len(cookie) <= _MAX_SEEN_LENGTH:
            self._remember_cookie(cookie, signed_at, data)
        return data

    def _remember_cookie(
        self, cookie: str | bytes, signed_at: int, data: dict[str, Any]
    ) -> None:
        # Only a dict of immutable plain values is safe to hand out as a copy,
        # and only if no tag could apply to it: a tag wraps a one-key dict whose
        # key (by convention) starts with a space.
        for item in data.values():
            if type(item) not in _PLAIN_TYPES:
                return
        if len(data) == 1:
            key = next(iter(data))
            if type(key) is not str or key[:1] == " ":
                return
        seen = self._seen
        if len(seen) >= _MAX_SEEN:
            seen.clear()
        seen[cookie] = (signed_at, data.copy())


class SecureCookieSessionInterface(SessionInterface):
    """Keep the session in a cookie signed the way :mod:`itsdangerous` signs.

    The signature uses the app's ``secret_key``; keys listed in
    ``SECRET_KEY_FALLBACKS`` are accepted for reading, and new cookies are always
    signed with ``secret_key``. A cookie that fails to verify, has expired or
    cannot be decoded yields an empty session, never an error.
    """

    #: Salt mixed into the signing key, separating session signatures from
    #: other uses of the secret key.
    salt = "cookie-session"
    #: Hash function of the HMAC signature.
    digest_method = staticmethod(_sha1)
    #: How itsdangerous derives the signing key from the secret key.
    key_derivation = "hmac"
    #: Turns the session dict into text and back.
    serializer = session_json_serializer
    #: The class of the sessions :meth:`open_session` returns.
    session_class = SecureCookieSession

    _erlen_signer: tuple[tuple[Any, ...], URLSafeTimedSerializer] | None = None
    _erlen_cookie_signers: dict[tuple[Any, ...], _CookieSigner] | None = None

    def _cookie_signer(self, app: Erlen) -> _CookieSigner | None:
        """Return the lean signer for the app's current signing settings, or
        ``None`` when the app has no secret key."""
        secret_key = app.secret_key
        if not secret_key:
            return None
        fallbacks = app.config.get("SECRET_KEY_FALLBACKS")
        settings = (
            secret_key,
            tuple(fallbacks) if fallbacks else (),
            self.salt,
            self.key_derivation,
            self.digest_method,
            self.serializer,
        )
        # PERF: keys are derived once per settings, not per request; a changed
        # key or fallback list (rotation at runtime) gets a new signer. Several
        # apps share the default interface, hence one signer per settings.
        signers = self._erlen_cookie_signers
        if signers is None:
            signers = self._erlen_cookie_signers = {}
        try:
            signer = signers.get(settings)
        except TypeError:  # an unhashable key (a bytearray): no caching
            return _CookieSigner(settings)
        if signer is None:
            if len(signers) >= _MAX_SIGNERS:
                signers.clear()
            signer = signers[settings] = _CookieSigner(settings)
        return signer

    def get_signing_serializer(self, app: Erlen) -> URLSafeTimedSerializer | None:
        """Return the serializer that signs and verifies cookies, or ``None``
        when the app has no secret key.

        The session itself is signed and read by an equivalent, faster signer
        unless a subclass overrides this method; then the serializer it returns
        is used.
        """
        lean = self._cookie_signer(app)
        if lean is None:
            return None
        settings = lean.settings
        # PERF: building the serializer costs ~4.5 us; keep the last one while
        # the settings (keys included) stay the same.
        cached = self._erlen_signer
        if cached is not None and cached[0] == settings:
            return cached[1]
        # itsdangerous signs with the last key and verifies with all of them.
        keys = [*settings[1], settings[0]]
        signer = URLSafeTimedSerializer(
            keys,  # type: ignore[arg-type]
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
            },
        )
        self._erlen_signer = (settings, signer)
        return signer

    def _signer(self, app: Erlen) -> Any:
        # The lean signer, unless a subclass chose the serializer.
        if (
            type(self).get_signing_serializer
            is SecureCookieSessionInterface.get_signing_serializer
        ):
            return self._cookie_signer(app)
        return self.get_signing_serializer(app)

    def open_session(self, app: Erlen, request: Request) -> SecureCookieSession | None:
        """Return the session stored in the request's cookie.

        ``None`` without a secret key; an empty session when there is no
        cookie, or when it is tampered with, expired (older than the permanent
        session lifetime) or otherwise unreadable.
        """
        signer = self._signer(app)
        if signer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(_lifetime(app).total_seconds())
        if type(signer) is _CookieSigner:
            # None when unreadable: a bad signature, expired, not decodable.
            data = signer.loads(value, max_age)
        else:
            try:
                data = signer.loads(value, max_age=max_age)
            except (BadData, ValueError, TypeError):
                # Bad signature, expired, or a payload that does not decode
                # (any error while parsing it arrives as itsdangerous'
                # BadPayload): a cookie we cannot read is no session.
                return self.session_class()
        if not isinstance(data, dict):
            return self.session_class()
        return self.session_class(data)

    def save_session(
        self, app: Erlen, session: SessionMixin, response: Response
    ) -> None:
        """Write the session to the response's cookie, or delete the cookie.

        Adds ``Vary: Cookie`` whenever the session was read or the cookie is
        set or deleted. An emptied session deletes the cookie; otherwise the
        cookie is set when :meth:`should_set_cookie` says so. Warns when the
        cookie exceeds ``MAX_COOKIE_SIZE`` (browsers drop such cookies).
        """
        # Read before anything below touches the session and sets it.
        accessed = session.accessed
        if accessed:
            _vary_cookie(response)

        if not session:
            if session.modified:
                response.delete_cookie(
                    self.get_cookie_name(app),
                    domain=self.get_cookie_domain(app),
                    path=self.get_cookie_path(app),
                    secure=self.get_cookie_secure(app),
                    partitioned=self.get_cookie_partitioned(app),
                    samesite=self.get_cookie_samesite(app),
                    httponly=self.get_cookie_httponly(app),
                )
                if not accessed:
                    _vary_cookie(response)
            return

        if not self.should_set_cookie(app, session):
            return

        signer = self._signer(app)
        if signer is None:
            raise RuntimeError(_NO_SECRET_KEY)
        # PERF: dict.items skips the session's read-tracking overrides (which
        # dict() and dict.copy go through: ~2 + 1 per key Python calls); Flask's
        # dict(session) copies the same stored values.
        value = signer.dumps(
            dict(dict.items(session)) if isinstance(session, dict) else dict(session)
        )
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        secure = self.get_cookie_secure(app)
        partitioned = self.get_cookie_partitioned(app)
        samesite = self.get_cookie_samesite(app)
        httponly = self.get_cookie_httponly(app)
        expires = self.get_expiration_time(app, session)
        limit = app.config.get("MAX_COOKIE_SIZE", 4093)
        if limit and len(name) + len(value) + 1 + _ATTRIBUTE_ALLOWANCE > limit:
            _check_size(
                limit,
                name,
                value,
                expires,
                domain,
                path,
                secure,
                httponly,
                samesite,
                partitioned,
            )
        response.set_cookie(
            name,
            value,
            expires=expires,
            httponly=httponly,
            domain=domain,
            path=path,
            secure=secure,
            partitioned=partitioned,
            samesite=samesite,
        )
        if not accessed:
            _vary_cookie(response)


def _vary_cookie(response: Any) -> None:
    """Add ``Cookie`` to the response's ``Vary`` header (BAD_INPUTS 28)."""
    headers = response.headers
    # PERF: without a Vary header yet (the usual case) append one; the live
    # ``response.vary`` set costs ~20 Python calls per change.
    for header, _ in headers:
        if header.lower() == "vary":
            response.vary.add("Cookie")
            return
    headers.add("Vary", "Cookie")


# Attributes add at most a few hundred bytes; closer than this to the limit,
# the full Set-Cookie value is built to measure it exactly (_check_size).
_ATTRIBUTE_ALLOWANCE = 512


def _check_size(
    limit: int,
    name: str,
    value: str,
    expires: datetime | None,
    domain: str | None,
    path: str,
    secure: bool,
    httponly: bool,
    samesite: str | None,
    partitioned: bool,
) -> None:
    """Warn when the session cookie is larger than browsers accept.

    Browsers ignore a cookie above about 4 KB without telling anyone, which
    looks like a session that silently forgets everything (BAD_INPUTS 33).
    The size is measured the way Werkzeug does: the whole ``Set-Cookie`` value.
    """
    header = dump_cookie(
        name,
        value,
        expires=expires,
        domain=domain,
        path=path,
        secure=secure,
        httponly=httponly,
        samesite=samesite,
        partitioned=partitioned,
        max_size=0,
    )
    size = len(header.encode("latin-1", "replace"))
    if size > limit:
        warnings.warn(
            f"The session cookie {name!r} is {size} bytes, more than the"
            f" {limit}-byte limit (MAX_COOKIE_SIZE); browsers will ignore it and"
            " the session will appear empty. Store less in the session, or keep"
            " the data server-side and only an id in the session.",
            UserWarning,
            stacklevel=3,
        )
