"""Tests for erlen.signals: the signal set and has_receivers."""

from __future__ import annotations

import gc

import blinker
import flask.signals
import pytest

import erlen.signals
from erlen.signals import has_receivers, request_started

SIGNAL_NAMES = [
    "template_rendered",
    "before_render_template",
    "request_started",
    "request_finished",
    "request_tearing_down",
    "got_request_exception",
    "appcontext_tearing_down",
    "appcontext_pushed",
    "appcontext_popped",
    "message_flashed",
]


@pytest.mark.parametrize("name", SIGNAL_NAMES)
def test_signal_exists_and_matches_flask(name: str) -> None:
    signal = getattr(erlen.signals, name)
    assert isinstance(signal, blinker.NamedSignal)
    assert signal.name == getattr(flask.signals, name).name
    assert signal.name == name.replace("_", "-")
    assert signal.__doc__
    # Not the blinker default namespace's signal of the same name.
    assert signal is not blinker.signal(signal.name)


def test_signal_set_is_flasks() -> None:
    ours = {
        name
        for name, value in vars(erlen.signals).items()
        if isinstance(value, blinker.NamedSignal)
    }
    theirs = {
        name
        for name, value in vars(flask.signals).items()
        if isinstance(value, blinker.NamedSignal)
    }
    assert ours == theirs == set(SIGNAL_NAMES)


def test_namespace_exported() -> None:
    assert erlen.signals.Namespace is blinker.Namespace


def test_signals_are_distinct_from_flasks() -> None:
    assert erlen.signals.request_started is not flask.signals.request_started


def test_has_receivers_connect_disconnect() -> None:
    calls = []

    def receiver(sender: object, **kwargs: object) -> None:
        calls.append((sender, kwargs))

    assert has_receivers(request_started) is False
    request_started.connect(receiver)
    try:
        assert has_receivers(request_started) is True
        request_started.send("app", extra=1)
        assert calls == [("app", {"extra": 1})]
    finally:
        request_started.disconnect(receiver)
    assert has_receivers(request_started) is False


def test_has_receivers_sender_specific() -> None:
    def receiver(sender: object) -> None:
        pass

    sender = object()
    request_started.connect(receiver, sender=sender)
    try:
        # True although a send from another sender would reach nobody: the
        # check is a cheap "maybe", never a false "no".
        assert has_receivers(request_started) is True
        request_started.disconnect(receiver, sender=sender)
        assert has_receivers(request_started) is True
    finally:
        request_started.disconnect(receiver)
    assert has_receivers(request_started) is False


def test_has_receivers_drops_collected_weak_receiver() -> None:
    def receiver(sender: object) -> None:
        pass

    request_started.connect(receiver)  # weak by default
    assert has_receivers(request_started) is True
    del receiver
    gc.collect()
    assert has_receivers(request_started) is False


def test_connected_to_context_manager() -> None:
    def receiver(sender: object) -> None:
        pass

    with request_started.connected_to(receiver):
        assert has_receivers(request_started) is True
    assert has_receivers(request_started) is False
