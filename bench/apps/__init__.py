"""List the frameworks the benchmark compares and load their app modules.

Each ``apps/<name>.py`` module exposes ``PROTOCOLS`` (``"wsgi"``, ``"asgi"`` or both),
``version()`` and ``build(scenario, protocol)``, which returns a fresh WSGI or ASGI
callable serving one scenario (see ``scenarios.py``), written the way that framework's
own documentation writes apps. ``build`` raises :class:`Unsupported` when the framework
has no such feature (Falcon has no templates or sessions).

Imports only the standard library; the framework itself is imported when its module is.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> protocols, in table order. "raw" is the floor: a hand-written callable.
FRAMEWORKS: dict[str, tuple[str, ...]] = {
    "raw": ("wsgi", "asgi"),
    "erlen": ("wsgi", "asgi"),
    "flask": ("wsgi",),
    "bottle": ("wsgi",),
    "falcon": ("wsgi",),
    "quart": ("asgi",),
    "starlette": ("asgi",),
    "litestar": ("asgi",),
    "blacksheep": ("asgi",),
}


class Unsupported(Exception):
    """The framework has no idiomatic way to serve this scenario (shown as n/a)."""


def load(name: str) -> ModuleType:
    """Import the app module of framework *name* (its import errors propagate)."""
    if name not in FRAMEWORKS:
        raise KeyError(
            f"unknown framework {name!r}; choose from {', '.join(FRAMEWORKS)}"
        )
    return importlib.import_module(f"apps.{name}")


def frameworks_for(protocol: str) -> list[str]:
    """Return the frameworks serving *protocol*: floor first, then erlen, then peers."""
    return [n for n, protos in FRAMEWORKS.items() if protocol in protos]
