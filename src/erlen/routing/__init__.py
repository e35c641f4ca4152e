"""Route URLs: rules, converters, matching and URL building (a pure component).

erlen's router follows Werkzeug 3.1's routing decisions and converter contract,
but compiles rules into one dict of literal paths and a few combined regular
expressions, so a match costs one dict lookup or one regex call.

Submodules: :mod:`~erlen.routing.converters`, :mod:`~erlen.routing.rules`,
:mod:`~erlen.routing.matcher` (compiling), :mod:`~erlen.routing.map` (matching
and building), :mod:`~erlen.routing.exceptions`.

Imports only its own submodules; the app (dispatch) imports this package.
"""

from .converters import (
    DEFAULT_CONVERTERS,
    AnyConverter,
    BaseConverter,
    FloatConverter,
    IntegerConverter,
    NumberConverter,
    PathConverter,
    UnicodeConverter,
    UUIDConverter,
)
from .exceptions import (
    BuildError,
    RedirectRequired,
    RequestRedirect,
    UpgradeRequired,
    ValidationError,
    WebsocketMismatch,
)
from .map import Map
from .rules import Rule

__all__ = [
    "DEFAULT_CONVERTERS",
    "AnyConverter",
    "BaseConverter",
    "BuildError",
    "FloatConverter",
    "IntegerConverter",
    "Map",
    "NumberConverter",
    "PathConverter",
    "RedirectRequired",
    "RequestRedirect",
    "Rule",
    "UUIDConverter",
    "UnicodeConverter",
    "UpgradeRequired",
    "ValidationError",
    "WebsocketMismatch",
]
