"""Shared fixtures: a fresh app, a client per protocol, and a context-leak check."""

from __future__ import annotations

import os

import pytest

from erlen import Erlen
from erlen.globals import _cv_ctx

#: The ways behaviour tests drive an app. "wsgi" takes the WSGI driver's inline
#: pipeline; "wsgi-reference" uses an app subclass that overrides a pipeline
#: method, which makes the driver call Flask's method chain instead — so both
#: implementations pass the same tests. "asgi" sends every request through the
#: app's ASGI interface (``app.test_client(asgi=True)``).
PROTOCOLS = ["wsgi", "wsgi-reference", "asgi"]


class ReferencePipelineErlen(Erlen):
    """An app whose overridden hook disables the inline pipeline."""

    def full_dispatch_request(self):
        return super().full_dispatch_request()


def require_service(reason: str) -> None:
    """Skip for a missing service, or fail when ERLEN_REQUIRE_SERVICES=1 (CI)."""
    if os.environ.get("ERLEN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _no_context_leak():
    """Fail any test that leaves an app or request context pushed."""
    before = _cv_ctx.get(None)
    yield
    after = _cv_ctx.get(None)
    if after is not before:
        # Unwind so the leak does not cascade into later tests.
        pytest.fail(f"test left a context pushed: {after!r}")


@pytest.fixture(params=PROTOCOLS)
def protocol(request):
    return request.param


@pytest.fixture
def app(protocol):
    cls = ReferencePipelineErlen if protocol == "wsgi-reference" else Erlen
    app = cls("erlen_test_app", root_path=os.path.dirname(__file__))
    app.config.update(TESTING=True, SECRET_KEY="test key")
    return app


@pytest.fixture
def client(app, protocol):
    return app.test_client(asgi=protocol == "asgi")
