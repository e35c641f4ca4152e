"""Tests for erlen.logging: the error stream proxy, has_level_handler, create_logger."""

from __future__ import annotations

import io
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import flask.logging
import pytest

from erlen.globals import ContextProxy, _cv_ctx
from erlen.logging import (
    create_logger,
    default_handler,
    has_level_handler,
    wsgi_errors_stream,
)


@pytest.fixture
def push_ctx() -> Iterator[Any]:
    """Push fake context objects into erlen's context variable; reset after."""
    tokens = []

    def push(request: Any) -> None:
        tokens.append(_cv_ctx.set(SimpleNamespace(request=request)))  # type: ignore[arg-type]

    yield push
    for token in reversed(tokens):
        _cv_ctx.reset(token)


@pytest.fixture
def logger_name() -> Iterator[str]:
    """A fresh top-level logger name; it and its ".child" are reset afterwards."""
    name = f"erlen_test_{uuid.uuid4().hex}"
    yield name
    for logger in (logging.getLogger(name), logging.getLogger(f"{name}.child")):
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


@contextmanager
def root_handlers(*handlers: logging.Handler) -> Iterator[None]:
    """Give the root logger exactly *handlers* inside the block.

    pytest attaches its capture handlers to the root logger (and to loggers
    that exist and do not propagate) when each test phase starts, so the
    tests that need a known handler set use this inside the test body.
    """
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = handlers
    try:
        yield
    finally:
        root.handlers[:] = saved


# -- wsgi_errors_stream --------------------------------------------------------


def test_stream_is_a_context_proxy() -> None:
    assert type(wsgi_errors_stream) is ContextProxy
    assert default_handler.stream is wsgi_errors_stream


def test_stream_outside_context_is_current_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # capsys replaces sys.stderr: the proxy must follow the replacement.
    assert wsgi_errors_stream._get_current_object() is sys.stderr
    wsgi_errors_stream.write("to stderr")
    assert capsys.readouterr().err == "to stderr"


def test_stream_in_app_context_is_stderr(push_ctx: Any) -> None:
    push_ctx(None)
    assert wsgi_errors_stream._get_current_object() is sys.stderr


def test_stream_in_request_context_is_wsgi_errors(push_ctx: Any) -> None:
    errors = io.StringIO()
    push_ctx(SimpleNamespace(environ={"wsgi.errors": errors}))
    assert wsgi_errors_stream._get_current_object() is errors
    wsgi_errors_stream.write("x")
    assert errors.getvalue() == "x"


def test_stream_follows_context_reset(push_ctx: Any) -> None:
    errors = io.StringIO()
    token = _cv_ctx.set(
        SimpleNamespace(request=SimpleNamespace(environ={"wsgi.errors": errors}))  # type: ignore[arg-type]
    )
    try:
        assert wsgi_errors_stream._get_current_object() is errors
    finally:
        _cv_ctx.reset(token)
    assert wsgi_errors_stream._get_current_object() is sys.stderr


@pytest.mark.parametrize(
    "request_obj",
    [
        SimpleNamespace(environ={}),  # WSGI server without wsgi.errors
        SimpleNamespace(environ={"wsgi.errors": None}),
        SimpleNamespace(environ=None),
        SimpleNamespace(),  # ASGI request: no environ at all
    ],
)
def test_stream_falls_back_to_stderr(push_ctx: Any, request_obj: Any) -> None:
    push_ctx(request_obj)
    assert wsgi_errors_stream._get_current_object() is sys.stderr


def test_default_handler_format_in_request(push_ctx: Any, logger_name: str) -> None:
    errors = io.StringIO()
    push_ctx(SimpleNamespace(environ={"wsgi.errors": errors}))
    logger = logging.getLogger(logger_name)
    logger.propagate = False
    logger.addHandler(default_handler)
    logger.warning("hello %s", "there")
    assert re.fullmatch(
        r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] WARNING in test_logging: "
        r"hello there\n",
        errors.getvalue(),
    )


# -- has_level_handler ---------------------------------------------------------


def test_has_level_handler_none(logger_name: str) -> None:
    logger = logging.getLogger(logger_name)
    with root_handlers():
        assert has_level_handler(logger) is False


def test_has_level_handler_own_handler(logger_name: str) -> None:
    logger = logging.getLogger(logger_name)
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(io.StringIO())
    handler.setLevel(logging.ERROR)
    logger.addHandler(handler)
    with root_handlers():
        assert has_level_handler(logger) is False  # handler too strict for INFO
        handler.setLevel(logging.INFO)
        assert has_level_handler(logger) is True


def test_has_level_handler_walks_parents(logger_name: str) -> None:
    parent = logging.getLogger(logger_name)
    child = logging.getLogger(f"{logger_name}.child")
    with root_handlers():
        assert has_level_handler(child) is False
        parent.addHandler(logging.StreamHandler(io.StringIO()))
        assert has_level_handler(child) is True
        child.propagate = False
        assert has_level_handler(child) is False


def test_has_level_handler_reaches_root(logger_name: str) -> None:
    logger = logging.getLogger(logger_name)
    with root_handlers(logging.StreamHandler(io.StringIO())):
        assert has_level_handler(logger) is True
    strict = logging.StreamHandler(io.StringIO())
    strict.setLevel(logging.CRITICAL)
    with root_handlers(strict):
        assert has_level_handler(logger) is False


def test_has_level_handler_stops_at_non_propagating_parent(logger_name: str) -> None:
    parent = logging.getLogger(logger_name)
    child = logging.getLogger(f"{logger_name}.child")
    parent.propagate = False
    with root_handlers(logging.StreamHandler(io.StringIO())):
        assert has_level_handler(child) is False


def test_has_level_handler_matches_flask(logger_name: str) -> None:
    logger = logging.getLogger(logger_name)
    with root_handlers():
        for level in (logging.DEBUG, logging.WARNING, logging.CRITICAL):
            handler = logging.StreamHandler(io.StringIO())
            handler.setLevel(level)
            logger.handlers[:] = [handler]
            for logger_level in (logging.DEBUG, logging.ERROR):
                logger.setLevel(logger_level)
                ours = has_level_handler(logger)
                assert ours == flask.logging.has_level_handler(logger)


# -- create_logger ---------------------------------------------------------------


def test_create_logger_debug_sets_level(logger_name: str) -> None:
    with root_handlers():
        logger = create_logger(SimpleNamespace(name=logger_name, debug=True))
    assert logger is logging.getLogger(logger_name)
    assert logger.level == logging.DEBUG
    assert logger.handlers == [default_handler]


def test_create_logger_no_debug_keeps_level(logger_name: str) -> None:
    with root_handlers():
        logger = create_logger(SimpleNamespace(name=logger_name, debug=False))
    assert logger.level == logging.NOTSET
    assert logger.handlers == [default_handler]


def test_create_logger_debug_keeps_explicit_level(logger_name: str) -> None:
    logging.getLogger(logger_name).setLevel(logging.ERROR)
    with root_handlers():
        logger = create_logger(SimpleNamespace(name=logger_name, debug=True))
    assert logger.level == logging.ERROR


def test_create_logger_respects_existing_handler(logger_name: str) -> None:
    with root_handlers(logging.StreamHandler(io.StringIO())):
        logger = create_logger(SimpleNamespace(name=logger_name, debug=False))
    assert logger.handlers == []


def test_create_logger_adds_handler_when_existing_too_strict(logger_name: str) -> None:
    strict = logging.StreamHandler(io.StringIO())
    strict.setLevel(logging.CRITICAL)
    with root_handlers(strict):
        logger = create_logger(SimpleNamespace(name=logger_name, debug=True))
    assert logger.handlers == [default_handler]


def test_create_logger_twice_adds_handler_once(logger_name: str) -> None:
    app = SimpleNamespace(name=logger_name, debug=True)
    with root_handlers():
        create_logger(app)
        logger = create_logger(app)
    assert logger.handlers == [default_handler]


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("preset_level", [logging.NOTSET, logging.WARNING])
@pytest.mark.parametrize("root_has_handler", [True, False])
def test_create_logger_matches_flask(
    logger_name: str, debug: bool, preset_level: int, root_has_handler: bool
) -> None:
    handlers = [logging.StreamHandler(io.StringIO())] if root_has_handler else []
    logger = logging.getLogger(logger_name)
    with root_handlers(*handlers):
        logger.setLevel(preset_level)
        flask.logging.create_logger(
            SimpleNamespace(name=logger_name, debug=debug)  # type: ignore[arg-type]
        )
        expected = (logger.level, len(logger.handlers))
        logger.handlers.clear()
        logger.setLevel(preset_level)
        create_logger(SimpleNamespace(name=logger_name, debug=debug))
    assert (logger.level, len(logger.handlers)) == expected


def test_create_logger_output_goes_to_request_stream(
    logger_name: str, push_ctx: Any
) -> None:
    errors = io.StringIO()
    push_ctx(SimpleNamespace(environ={"wsgi.errors": errors}))
    with root_handlers():
        logger = create_logger(SimpleNamespace(name=logger_name, debug=True))
        logger.debug("dbg")
    assert errors.getvalue().endswith("] DEBUG in test_logging: dbg\n")
