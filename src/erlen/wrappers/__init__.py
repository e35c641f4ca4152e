"""The request and response objects: :class:`Request` and :class:`Response`.

Imports only its own submodules (which import :mod:`erlen.formparser`,
:mod:`erlen.globals` and the services they document).
"""

from __future__ import annotations

from .request import Request
from .response import Response

__all__ = ["Request", "Response"]
