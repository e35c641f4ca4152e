"""Tagged JSON: a compact JSON encoding that keeps tuples, bytes, Markup, UUIDs and
datetimes intact. The session cookie stores its data in this format.

A value JSON cannot represent is written as a one-key object whose key names its
type, for example ``{" t": [1, 2]}`` for the tuple ``(1, 2)``. Keys start with a
space, which ordinary data keys seldom do; a real one-key dict whose key happens
to be a tag is itself wrapped (``" di"``) so it survives the round trip. The wire
format is the one Flask uses, so cookies move between Flask and erlen apps.

Add a type by subclassing :class:`JSONTag` and registering it::

    class TagSet(JSONTag):
        key = " s"

        def check(self, value):
            return isinstance(value, set)

        def to_json(self, value):
            return [self.serializer.tag(item) for item in sorted(value)]

        def to_python(self, value):
            return set(value)

    app.session_interface.serializer.register(TagSet)

Imports :mod:`erlen.json`.
"""

from __future__ import annotations

from base64 import b64decode, b64encode
from datetime import datetime
from typing import Any
from uuid import UUID

from markupsafe import Markup
from werkzeug.http import http_date, parse_date

from . import dumps as _dumps
from . import loads as _loads

__all__ = [
    "JSONTag",
    "PassDict",
    "PassList",
    "TagBytes",
    "TagDateTime",
    "TagDict",
    "TagMarkup",
    "TagTuple",
    "TagUUID",
    "TaggedJSONSerializer",
]


class JSONTag:
    """Describe how one Python type is tagged in JSON.

    Set :attr:`key` to a string starting with a space (an empty key means the
    tag converts values without wrapping them), and implement :meth:`check`,
    :meth:`to_json` and :meth:`to_python`.

    :param serializer: the :class:`TaggedJSONSerializer` the tag belongs to;
        use it to tag values nested inside the one being converted.
    """

    __slots__ = ("serializer",)

    #: The tag's name in the JSON object; ``""`` for tags that do not wrap.
    key: str = ""

    def __init__(self, serializer: TaggedJSONSerializer) -> None:
        self.serializer = serializer

    def check(self, value: Any) -> bool:
        """Return whether this tag handles ``value``."""
        raise NotImplementedError(f"{type(self).__name__} must implement check().")

    def to_json(self, value: Any) -> Any:
        """Return ``value`` in a JSON-compatible form; :meth:`tag` adds the key."""
        raise NotImplementedError(f"{type(self).__name__} must implement to_json().")

    def to_python(self, value: Any) -> Any:
        """Rebuild the Python value from the JSON form :meth:`to_json` produced."""
        raise NotImplementedError(f"{type(self).__name__} must implement to_python().")

    def tag(self, value: Any) -> Any:
        """Return ``value`` converted and wrapped as ``{key: json_form}``."""
        return {self.key: self.to_json(value)}


class TagDict(JSONTag):
    """Protect a one-key dict whose key equals a registered tag.

    The key gets ``"__"`` appended on the way out and removed on the way in,
    so the dict is not mistaken for a tagged value.
    """

    __slots__ = ()
    key = " di"

    def check(self, value: Any) -> bool:
        if not isinstance(value, dict) or len(value) != 1:
            return False
        return next(iter(value)) in self.serializer.tags

    def to_json(self, value: Any) -> Any:
        ((name, item),) = value.items()
        return {name + "__": self.serializer.tag(item)}

    def to_python(self, value: Any) -> Any:
        ((name, item),) = value.items()
        return {name[:-2]: item}


class PassDict(JSONTag):
    """Tag the values inside any other dict; the dict itself stays a JSON object."""

    __slots__ = ()

    def check(self, value: Any) -> bool:
        return isinstance(value, dict)

    def to_json(self, value: Any) -> Any:
        tag = self.serializer.tag
        return {name: tag(item) for name, item in value.items()}

    tag = to_json


class TagTuple(JSONTag):
    """Keep tuples as tuples (JSON has only arrays)."""

    __slots__ = ()
    key = " t"

    def check(self, value: Any) -> bool:
        return isinstance(value, tuple)

    def to_json(self, value: Any) -> Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]

    def to_python(self, value: Any) -> Any:
        return tuple(value)


class PassList(JSONTag):
    """Tag the items inside a list; the list itself stays a JSON array."""

    __slots__ = ()

    def check(self, value: Any) -> bool:
        return isinstance(value, list)

    def to_json(self, value: Any) -> Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]

    tag = to_json


class TagBytes(JSONTag):
    """Store bytes as standard base64 text."""

    __slots__ = ()
    key = " b"

    def check(self, value: Any) -> bool:
        return isinstance(value, bytes)

    def to_json(self, value: Any) -> Any:
        return b64encode(value).decode("ascii")

    def to_python(self, value: Any) -> Any:
        return b64decode(value)


class TagMarkup(JSONTag):
    """Store anything with an ``__html__`` method as its HTML; load it as
    :class:`~markupsafe.Markup`."""

    __slots__ = ()
    key = " m"

    def check(self, value: Any) -> bool:
        return callable(getattr(value, "__html__", None))

    def to_json(self, value: Any) -> Any:
        return str(value.__html__())

    def to_python(self, value: Any) -> Any:
        return Markup(value)


class TagUUID(JSONTag):
    """Store a :class:`~uuid.UUID` as 32 hex digits."""

    __slots__ = ()
    key = " u"

    def check(self, value: Any) -> bool:
        return isinstance(value, UUID)

    def to_json(self, value: Any) -> Any:
        return value.hex

    def to_python(self, value: Any) -> Any:
        return UUID(value)


class TagDateTime(JSONTag):
    """Store a :class:`~datetime.datetime` as an HTTP date (whole seconds, UTC);
    it loads as an aware UTC datetime."""

    __slots__ = ()
    key = " d"

    def check(self, value: Any) -> bool:
        return isinstance(value, datetime)

    def to_json(self, value: Any) -> Any:
        return http_date(value)

    def to_python(self, value: Any) -> Any:
        return parse_date(value)


# Values of these exact types match none of the default tags; skipping the
# checks for them is safe until a custom tag is registered.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


class TaggedJSONSerializer:
    """Serialize values to tagged JSON and back; the session cookie's serializer.

    Understands, besides JSON's own types, tuples, bytes,
    :class:`~markupsafe.Markup`, :class:`~uuid.UUID`, :class:`~datetime.datetime`
    and one-key dicts whose key looks like a tag.
    """

    __slots__ = ("_own_untag", "_plain_fast", "order", "tags")

    #: Tag classes every new serializer registers, in checking order.
    default_tags: list[type[JSONTag]] = [
        TagDict,
        PassDict,
        TagTuple,
        PassList,
        TagBytes,
        TagMarkup,
        TagUUID,
        TagDateTime,
    ]

    def __init__(self) -> None:
        #: Registered tags by key (tags with an empty key are not listed).
        self.tags: dict[str, JSONTag] = {}
        #: All registered tags in the order :meth:`tag` tries them.
        self.order: list[JSONTag] = []
        for tag_class in self.default_tags:
            self.register(tag_class)
        cls = type(self)
        self._plain_fast = (
            cls.default_tags == TaggedJSONSerializer.default_tags
            and cls.tag is TaggedJSONSerializer.tag
        )
        self._own_untag = cls.untag is TaggedJSONSerializer.untag

    def register(
        self,
        tag_class: type[JSONTag],
        force: bool = False,
        index: int | None = None,
    ) -> None:
        """Add a tag type to this serializer.

        :param tag_class: the :class:`JSONTag` subclass; it is instantiated with
            this serializer.
        :param force: replace a tag already registered under the same key.
        :param index: position in the checking order; ``None`` appends. Put a
            tag for a subtype of a handled type (an ``OrderedDict`` tag, say)
            before the general one.
        :raise KeyError: if the key is taken and ``force`` is false.
        """
        tag = tag_class(self)
        key = tag.key
        if key:
            if key in self.tags and not force:
                raise KeyError(f"Tag '{key}' is already registered.")
            self.tags[key] = tag
        if index is None:
            self.order.append(tag)
        else:
            self.order.insert(index, tag)
        # A custom tag may claim plain strings or numbers; check everything now.
        self._plain_fast = False

    def tag(self, value: Any) -> Any:
        """Return ``value`` in tagged form (unchanged if no tag applies)."""
        # PERF: most session values are plain strings and numbers.
        if self._plain_fast and type(value) in _PLAIN_TYPES:
            return value
        for tag in self.order:
            if tag.check(value):
                return tag.tag(value)
        return value

    def untag(self, value: dict[str, Any]) -> Any:
        """Return the Python value for the JSON object ``value`` if it is a tag,
        else ``value`` itself."""
        if len(value) == 1:
            ((key, item),) = value.items()
            tag = self.tags.get(key) if type(key) is str else None
            if tag is not None:
                return tag.to_python(item)
        return value

    def _untag_scan(self, value: Any) -> Any:
        # Innermost values first, so a tag's to_python sees finished values.
        if isinstance(value, dict):
            scan = self._untag_scan
            return self.untag({key: scan(item) for key, item in value.items()})
        if isinstance(value, list):
            scan = self._untag_scan
            return [scan(item) for item in value]
        return value

    def dumps(self, value: Any) -> str:
        """Return ``value`` tagged and serialized as compact JSON."""
        # PERF: a dict of plain values (a typical session) needs no tagging: no
        # default tag claims its values, and only a one-key dict whose key is a
        # tag name is wrapped. Skips ~10 Python calls (bench `session`).
        if self._plain_fast and type(value) is dict:
            for item in value.values():
                if type(item) not in _PLAIN_TYPES:
                    break
            else:
                if len(value) != 1 or value.keys().isdisjoint(self.tags):
                    return _dumps(value, separators=(",", ":"))
        return _dumps(self.tag(value), separators=(",", ":"))

    def loads(self, value: str | bytes) -> Any:
        """Parse JSON text and rebuild the tagged values in it."""
        data = _loads(value)
        # PERF: a JSON object of plain values is only checked for being a tag
        # itself; the walk over it would find nothing else to rebuild.
        if type(data) is dict:
            for item in data.values():
                if type(item) not in _PLAIN_TYPES:
                    break
            else:
                if self._own_untag and (
                    len(data) != 1 or data.keys().isdisjoint(self.tags)
                ):
                    return data
                return self.untag(data)
        return self._untag_scan(data)
