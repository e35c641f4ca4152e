"""The context proxies: attribute forwarding, operators and clear errors."""

from __future__ import annotations

import pytest

from erlen import current_app, g, request, session
from erlen.globals import ContextProxy


def test_unbound_proxies_raise_clear_errors():
    with pytest.raises(RuntimeError, match="Working outside of application context"):
        current_app.name  # noqa: B018
    with pytest.raises(RuntimeError, match="Working outside of application context"):
        g.x  # noqa: B018
    with pytest.raises(RuntimeError, match="Working outside of request context"):
        request.args  # noqa: B018
    with pytest.raises(RuntimeError, match="Working outside of request context"):
        session.get("x")


def test_unbound_proxy_is_falsy_and_has_repr():
    assert not current_app
    assert "unbound" in repr(request)
    assert dir(request) == []
    assert type(request) is ContextProxy or request.__class__ is ContextProxy


def test_request_proxy_needs_request_context_not_app_context(app):
    with app.app_context():
        assert current_app._get_current_object() is app
        with pytest.raises(RuntimeError, match="request context"):
            request.method  # noqa: B018
        with pytest.raises(RuntimeError, match="request context"):
            session["x"] = 1


def test_proxies_forward_attributes_and_operators(app):
    with app.test_request_context("/?a=1"):
        assert request.args["a"] == "1"
        assert isinstance(request, app.request_class)
        assert request.__class__ is app.request_class
        assert repr(request).startswith("<Request")
        assert bool(request)
        assert request == request._get_current_object()
        assert (request != request._get_current_object()) is False
        assert hash(request) == hash(request._get_current_object())
        assert "args" in dir(request)
        g.x = 1
        assert "x" in g
        assert list(g) == ["x"]
        assert g.x == 1
        del g.x
        assert "x" not in g
        session["k"] = "v"
        assert session["k"] == "v"
        assert len(session) == 1
        assert "k" in session
        del session["k"]
        assert str(current_app) == str(app)
        assert current_app.__doc__ == type(app).__doc__


def test_call_forwards(app):
    proxy = ContextProxy(lambda: lambda x: x * 2, "double")
    assert proxy(3) == 6
