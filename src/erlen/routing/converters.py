"""Hold the URL converters and the parser for converter arguments in rule strings.

A converter turns one variable part of a URL into a Python value (``to_python``)
and back (``to_url``).  The contract is Werkzeug's, so a converter class written
for Flask (a subclass of ``werkzeug.routing.BaseConverter``) can be registered in
``Map.converters`` unchanged: erlen only uses ``regex``, ``weight``,
``part_isolating``, ``to_python``, ``to_url`` and calls ``cls(map, *args, **kwargs)``.

Imports no other erlen module.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.routing import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from .map import Map

__all__ = [
    "DEFAULT_CONVERTERS",
    "AnyConverter",
    "BaseConverter",
    "FloatConverter",
    "IntegerConverter",
    "NumberConverter",
    "PathConverter",
    "UUIDConverter",
    "UnicodeConverter",
    "ValidationError",
    "parse_converter_args",
]

#: Characters left unquoted in a path segment (WHATWG path-segment percent-encode set).
PATH_SAFE = "!$&'()*+,/:;=@"

# PERF: ``urllib.parse.quote`` costs about a microsecond even when nothing needs
# quoting; most URL values are plain ASCII words, so check that with one C call first.
_needs_no_quoting = re.compile(r"[A-Za-z0-9_.~!$&'()*+,/:;=@-]*").fullmatch


def quote_path(value: str) -> str:
    """Percent-encode *value* for use in a URL path, keeping :data:`PATH_SAFE` as is."""
    if _needs_no_quoting(value) is not None:
        return value
    return quote(value, safe=PATH_SAFE)


class BaseConverter:
    """Convert one variable part of a URL; subclass this to write a converter.

    :cvar regex: the regular expression a URL part must match (no anchors).
    :cvar weight: lower weights are tried first when several converters could
        match at the same place (``int`` 50, ``string`` 100, ``path`` 200).
    :cvar part_isolating: ``True`` if the regex never matches a ``/``.  A
        subclass that sets ``regex`` but not ``part_isolating`` gets ``False``
        when its regex contains a ``/``.

    Example::

        class ListConverter(BaseConverter):
            def to_python(self, value):
                return value.split(",")

            def to_url(self, value):
                return ",".join(super().to_url(v) for v in value)

        url_map.converters["list"] = ListConverter
    """

    regex = "[^/]+"
    weight = 100
    part_isolating = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        regex = cls.__dict__.get("regex")
        if isinstance(regex, str) and "part_isolating" not in cls.__dict__:
            cls.part_isolating = "/" not in regex

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        self.map = map

    def to_python(self, value: str) -> Any:
        """Return the Python value for the matched URL part *value*.

        Raise :class:`ValidationError` to say that the rule does not match.
        """
        return value

    def to_url(self, value: Any) -> str:
        """Return *value* as a percent-encoded URL part."""
        return quote_path(str(value))


class UnicodeConverter(BaseConverter):
    """Match one path segment (no slash); the default converter.

    ``<string(minlength=2, maxlength=8):name>`` or ``<string(length=2):code>``.

    :param minlength: the minimum length of the segment (default 1).
    :param maxlength: the maximum length, or ``None`` for no limit.
    :param length: the exact length; overrides the other two.
    """

    def __init__(
        self,
        map: Map,
        minlength: int = 1,
        maxlength: int | None = None,
        length: int | None = None,
    ) -> None:
        super().__init__(map)
        if length is not None:
            self.regex = f"[^/]{{{int(length)}}}"
        else:
            upper = "" if maxlength is None else str(int(maxlength))
            self.regex = f"[^/]{{{int(minlength)},{upper}}}"


class PathConverter(BaseConverter):
    """Match the rest of the path including slashes: ``<path:filename>``."""

    regex = "[^/].*?"
    weight = 200
    part_isolating = False


class NumberConverter(BaseConverter):
    """Share the checks of :class:`IntegerConverter` and :class:`FloatConverter`.

    Digits are ASCII only (``[0-9]``), unlike Werkzeug's ``\\d`` which also
    accepts other scripts' digits: ``/user/`` + Arabic-Indic one (U+0661) must
    not be another spelling of ``/user/1`` that a path-based access rule in
    front of the app would miss.
    """

    weight = 50
    num_convert: Any = int

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map)
        if signed:
            self.regex = f"-?{type(self).regex}"
        self.fixed_digits = fixed_digits
        self.min = min
        self.max = max
        self.signed = signed

    def to_python(self, value: str) -> Any:
        if self.fixed_digits and len(value) != self.fixed_digits:
            raise ValidationError()
        try:
            number = self.num_convert(value)
        except ValueError:
            raise ValidationError() from None
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        text = str(self.num_convert(value))
        if self.fixed_digits:
            text = text.zfill(self.fixed_digits)
        return text


class IntegerConverter(NumberConverter):
    """Match a non-negative integer: ``<int:page>``.

    ``<int(fixed_digits=4):year>`` requires exactly four digits,
    ``<int(min=1, max=99):n>`` bounds the value and ``<int(signed=True):n>``
    accepts a leading ``-``.
    """

    regex = "[0-9]+"


class FloatConverter(NumberConverter):
    """Match a decimal number with a fraction: ``<float:ratio>`` (``1.5``, not ``1``).

    Accepts ``min``, ``max`` and ``signed`` like :class:`IntegerConverter`.
    """

    regex = r"[0-9]+\.[0-9]+"
    num_convert = float

    def __init__(
        self,
        map: Map,
        min: float | None = None,
        max: float | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, min=min, max=max, signed=signed)  # type: ignore[arg-type]


class UUIDConverter(BaseConverter):
    """Match a UUID such as ``6ba7b810-9dad-11d1-80b4-00c04fd430c8``: ``<uuid:id>``."""

    regex = (
        "[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"
    )

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        return str(value)


class AnyConverter(BaseConverter):
    """Match one of the listed words: ``<any(about, help, 'x y'):page>``."""

    def __init__(self, map: Map, *items: str) -> None:
        super().__init__(map)
        if not items:
            raise ValueError("any() needs at least one item, as in <any(a, b):name>.")
        self.items = {str(item) for item in items}
        self.regex = "(?:" + "|".join(re.escape(str(item)) for item in items) + ")"

    def to_url(self, value: Any) -> str:
        if value in self.items:
            # Quoted (Werkzeug inserts the item raw) so that an item with a
            # space still gives a valid URL that matches the rule again.
            return quote_path(str(value))
        choices = ", ".join(f"'{item}'" for item in sorted(self.items))
        raise ValueError(f"'{value}' is not one of {choices}")


#: The converters every :class:`~erlen.routing.Map` starts with.
DEFAULT_CONVERTERS: Mapping[str, type[BaseConverter]] = {
    "default": UnicodeConverter,
    "string": UnicodeConverter,
    "any": AnyConverter,
    "path": PathConverter,
    "int": IntegerConverter,
    "float": FloatConverter,
    "uuid": UUIDConverter,
}


# -- converter arguments: "min=1, signed=True", "about, 'x y'" ------------------

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BARE = re.compile(r"[\w.+-]+")
_NAME = re.compile(r"([A-Za-z_]\w*)\s*=(?!=)")
_CONSTANTS = {"None": None, "True": True, "False": False}


def _bare_value(token: str) -> Any:
    """Turn an unquoted argument into None/True/False, an int, a float or a str."""
    if token in _CONSTANTS:
        return _CONSTANTS[token]
    if _INT.fullmatch(token):
        return int(token)
    if _FLOAT.fullmatch(token):
        return float(token)
    return token


def parse_converter_args(argstr: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Parse the text between the parentheses of ``<conv(...):name>``.

    Values may be ``None``, ``True``, ``False``, integers, floats, quoted strings
    (``'x y'`` or ``"x,y"``, no escapes) or bare words (taken as strings).
    ``name=value`` gives a keyword argument.  One linear left-to-right scan.

    >>> parse_converter_args("about, 'x y', min=1, signed=True")
    (('about', 'x y'), {'min': 1, 'signed': True})

    :raises ValueError: if the text is not a comma-separated list of values.
    """
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    pos, end = 0, len(argstr)
    while True:
        while pos < end and argstr[pos].isspace():
            pos += 1
        if pos >= end:
            break
        start = pos
        name = None
        m = _NAME.match(argstr, pos)
        if m is not None:
            name = m.group(1)
            pos = m.end()
            while pos < end and argstr[pos].isspace():
                pos += 1
        value: Any
        quote_at = pos + 1 if argstr[pos : pos + 1] in ("u", "r", "U", "R") else pos
        if argstr[quote_at : quote_at + 1] in ("'", '"'):
            closing = argstr.find(argstr[quote_at], quote_at + 1)
            if closing < 0:
                raise ValueError(
                    f"Unterminated string in converter arguments {argstr!r}"
                )
            value = argstr[quote_at + 1 : closing]
            pos = closing + 1
        else:
            m = _BARE.match(argstr, pos)
            if m is None:
                raise ValueError(
                    f"Cannot parse converter argument {argstr[start:]!r}: expected a"
                    " number, True/False/None, a word or a quoted string"
                )
            value = _bare_value(m.group())
            pos = m.end()
        while pos < end and argstr[pos].isspace():
            pos += 1
        if pos < end and argstr[pos] != ",":
            raise ValueError(
                f"Cannot parse converter argument {argstr[start:]!r}: separate"
                " arguments with commas"
            )
        pos += 1
        if name is None:
            args.append(value)
        else:
            kwargs[name] = value
    return tuple(args), kwargs
