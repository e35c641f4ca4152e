"""The curated public surface: ``__all__`` matches the reference docs."""

from __future__ import annotations

import re
from pathlib import Path

import erlen

DOCS = Path(__file__).parent.parent / "docs" / "api.md"


def test_every_exported_name_is_documented():
    documented = set(re.findall(r"^### `([^`]+)`", DOCS.read_text(), re.M))
    assert set(erlen.__all__) == documented


def test_every_exported_name_exists():
    for name in erlen.__all__:
        assert hasattr(erlen, name), name


def test_flask_alias_and_version():
    assert erlen.Flask is erlen.Erlen
    assert isinstance(erlen.__version__, str)
