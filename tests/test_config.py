"""Tests for erlen.config: Config loaders, ConfigAttribute, DEFAULT_CONFIG."""

from __future__ import annotations

import errno
import json
import os
import sys
import textwrap
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import flask
import flask.config as flask_config
import pytest
from werkzeug.utils import ImportStringError

from erlen.config import DEFAULT_CONFIG, Config, ConfigAttribute, make_timedelta

# -- DEFAULT_CONFIG --------------------------------------------------------------


#: Keys erlen adds after Flask's (each documented in docs/config.md).
ERLEN_ADDED_KEYS = [
    "DEBUG_PAGE",
    "WEBSOCKET_MAX_MESSAGE_SIZE",
    "WEBSOCKET_ALLOWED_ORIGINS",
    "ASGI_SYNC_INLINE",
    "ASGI_THREADS",
]


def test_default_config_matches_flask() -> None:
    flask_keys = list(flask.Flask.default_config)
    assert list(DEFAULT_CONFIG) == flask_keys + ERLEN_ADDED_KEYS
    flask_part = {k: v for k, v in DEFAULT_CONFIG.items() if k in flask_keys}
    assert flask_part == dict(flask.Flask.default_config)


def test_default_config_is_read_only() -> None:
    with pytest.raises(TypeError):
        DEFAULT_CONFIG["DEBUG"] = True  # type: ignore[index]


def test_defaults_are_copied(tmp_path: Path) -> None:
    config = Config(tmp_path, DEFAULT_CONFIG)
    config["TESTING"] = True
    assert DEFAULT_CONFIG["TESTING"] is False
    assert config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=31)
    assert config.root_path == tmp_path


def test_no_defaults(tmp_path: Path) -> None:
    assert Config(tmp_path) == {}


def test_repr(tmp_path: Path) -> None:
    config = Config(tmp_path, {"A": 1})
    assert repr(config) == "<Config {'A': 1}>"
    assert repr(config) == repr(flask_config.Config(tmp_path, {"A": 1}))

    class Sub(Config):
        pass

    assert repr(Sub(tmp_path)) == "<Sub {}>"


# -- from_mapping / from_object ------------------------------------------------


def test_from_mapping_takes_only_uppercase(tmp_path: Path) -> None:
    config = Config(tmp_path)
    assert config.from_mapping({"A": 1, "b": 2, "C_D": 3}, E=4, f=5) is True
    assert config == {"A": 1, "C_D": 3, "E": 4}


def test_from_mapping_kwargs_win(tmp_path: Path) -> None:
    config = Config(tmp_path)
    config.from_mapping({"A": 1}, A=2)
    assert config["A"] == 2


def test_from_mapping_no_arguments(tmp_path: Path) -> None:
    config = Config(tmp_path)
    assert config.from_mapping() is True
    assert config == {}


def test_from_mapping_rejects_two_mappings(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        Config(tmp_path).from_mapping({"A": 1}, {"B": 2})  # type: ignore[call-arg]


class _Settings:
    DEBUG = True
    SECRET_KEY = "k"
    lower = "ignored"
    _PRIVATE = "kept: isupper() is True"

    @property
    def COMPUTED(self) -> str:
        return "computed"


def test_from_object_class(tmp_path: Path) -> None:
    config = Config(tmp_path)
    config.from_object(_Settings)
    assert config["DEBUG"] is True
    assert config["SECRET_KEY"] == "k"
    assert "lower" not in config
    assert isinstance(config["COMPUTED"], property)
    # Same keys as flask, including the underscore-prefixed one.
    reference = flask_config.Config(tmp_path)
    reference.from_object(_Settings)
    assert config == reference


def test_from_object_instance_evaluates_properties(tmp_path: Path) -> None:
    config = Config(tmp_path)
    config.from_object(_Settings())
    assert config["COMPUTED"] == "computed"


@pytest.fixture
def settings_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pkg = tmp_path / "erlen_cfgpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "settings.py").write_text(
        "DEBUG = True\nhelper = 1\n\nclass Prod:\n    SECRET_KEY = 'prod'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "erlen_cfgpkg.settings"
    for name in ("erlen_cfgpkg.settings", "erlen_cfgpkg"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("", {"DEBUG": True}),
        (".Prod", {"SECRET_KEY": "prod"}),
        (":Prod", {"SECRET_KEY": "prod"}),
    ],
)
def test_from_object_import_string(
    tmp_path: Path, settings_module: str, target: str, expected: dict[str, Any]
) -> None:
    config = Config(tmp_path)
    config.from_object(settings_module + target)
    assert config == expected


def test_from_object_bad_import_string(tmp_path: Path) -> None:
    with pytest.raises(ImportStringError, match="erlen_no_such_module"):
        Config(tmp_path).from_object("erlen_no_such_module:thing")
    with pytest.raises(ImportStringError, match=r"json\.nothing_here"):
        Config(tmp_path).from_object("json:nothing_here")


# -- from_pyfile / from_envvar -------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_from_pyfile_relative_to_root_path(tmp_path: Path) -> None:
    _write(
        tmp_path / "settings.py",
        """\
        import os
        SECRET_KEY = "s3"
        PATH = __file__
        helper = os.sep
        """,
    )
    config = Config(tmp_path)
    assert config.from_pyfile("settings.py") is True
    assert config == {"SECRET_KEY": "s3", "PATH": str(tmp_path / "settings.py")}


def test_from_pyfile_absolute_path_ignores_root(tmp_path: Path) -> None:
    path = _write(tmp_path / "abs.cfg", "X = 1\n")
    config = Config("/nonexistent-root")
    assert config.from_pyfile(path) is True
    assert config["X"] == 1


def test_from_pyfile_honours_coding_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes("# -*- coding: latin-1 -*-\nNAME = 'café'\n".encode("latin-1"))
    config = Config(tmp_path)
    config.from_pyfile("latin.py")
    assert config["NAME"] == "café"


def test_from_pyfile_missing_raises_with_filename(tmp_path: Path) -> None:
    config = Config(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        config.from_pyfile("missing.py")
    message = str(info.value)
    assert "Unable to load configuration file" in message
    assert str(tmp_path / "missing.py") in message
    assert info.value.errno == errno.ENOENT
    with pytest.raises(FileNotFoundError) as reference:
        flask_config.Config(tmp_path).from_pyfile("missing.py")
    assert message == str(reference.value)


@pytest.mark.parametrize("name", ["missing.py", ".", "afile.py/inner.py"])
def test_from_pyfile_silent(tmp_path: Path, name: str) -> None:
    # ENOENT, EISDIR and ENOTDIR respectively.
    (tmp_path / "afile.py").write_text("X = 1\n")
    config = Config(tmp_path)
    assert config.from_pyfile(name, silent=True) is False
    assert config == {}


def test_from_pyfile_directory_not_silent(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="Unable to load configuration file"):
        Config(tmp_path).from_pyfile(".")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_from_pyfile_other_os_errors_not_silenced(tmp_path: Path) -> None:
    # A symlink loop fails with ELOOP: the file name exists but cannot be read,
    # which silent=True must not hide (unlike ENOENT/EISDIR/ENOTDIR).
    os.symlink(tmp_path / "b.py", tmp_path / "a.py")
    os.symlink(tmp_path / "a.py", tmp_path / "b.py")
    with pytest.raises(OSError, match="Unable to load configuration file") as info:
        Config(tmp_path).from_pyfile("a.py", silent=True)
    assert info.value.errno == errno.ELOOP
    with pytest.raises(OSError) as info:
        Config(tmp_path).from_file("a.py", load=json.load, silent=True)
    assert info.value.errno == errno.ELOOP


def test_from_pyfile_errors_in_file_propagate(tmp_path: Path) -> None:
    _write(tmp_path / "boom.py", "X = 1 / 0\n")
    _write(tmp_path / "syntax.py", "X = (\n")
    config = Config(tmp_path)
    with pytest.raises(ZeroDivisionError):
        config.from_pyfile("boom.py", silent=True)
    with pytest.raises(SyntaxError) as info:
        config.from_pyfile("syntax.py")
    assert info.value.filename == str(tmp_path / "syntax.py")
    assert config == {}


def test_from_envvar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "env.cfg", "TESTING = True\n")
    monkeypatch.setenv("ERLEN_TEST_SETTINGS", "env.cfg")
    config = Config(tmp_path)
    assert config.from_envvar("ERLEN_TEST_SETTINGS") is True
    assert config["TESTING"] is True


@pytest.mark.parametrize("value", [None, ""])
def test_from_envvar_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("ERLEN_TEST_SETTINGS", raising=False)
    else:
        monkeypatch.setenv("ERLEN_TEST_SETTINGS", value)
    config = Config(tmp_path)
    assert config.from_envvar("ERLEN_TEST_SETTINGS", silent=True) is False
    with pytest.raises(RuntimeError) as info:
        config.from_envvar("ERLEN_TEST_SETTINGS")
    assert "'ERLEN_TEST_SETTINGS' is not set" in str(info.value)
    with pytest.raises(RuntimeError) as reference:
        flask_config.Config(tmp_path).from_envvar("ERLEN_TEST_SETTINGS")
    assert str(info.value) == str(reference.value)


def test_from_envvar_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERLEN_TEST_SETTINGS", "missing.cfg")
    config = Config(tmp_path)
    assert config.from_envvar("ERLEN_TEST_SETTINGS", silent=True) is False
    with pytest.raises(FileNotFoundError, match=r"missing\.cfg"):
        config.from_envvar("ERLEN_TEST_SETTINGS")


# -- from_file -------------------------------------------------------------------


def test_from_file_json(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(
        json.dumps({"SECRET_KEY": "j", "lower": 1, "NESTED": {"a": 1}})
    )
    config = Config(tmp_path)
    assert config.from_file("c.json", load=json.load) is True
    assert config == {"SECRET_KEY": "j", "NESTED": {"a": 1}}


def test_from_file_json_is_utf8(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_bytes('{"NAME": "Grüße"}'.encode())
    config = Config(tmp_path)
    config.from_file("c.json", load=json.load)
    assert config["NAME"] == "Grüße"


def test_from_file_toml_binary(tmp_path: Path) -> None:
    _write(
        tmp_path / "c.toml",
        """\
        SECRET_KEY = "t"
        MAX_CONTENT_LENGTH = 1024
        lower = true

        [DATABASE]
        host = "db"
        """,
    )
    config = Config(tmp_path)
    assert config.from_file("c.toml", load=tomllib.load, text=False) is True
    assert config == {
        "SECRET_KEY": "t",
        "MAX_CONTENT_LENGTH": 1024,
        "DATABASE": {"host": "db"},
    }
    reference = flask_config.Config(tmp_path)
    reference.from_file("c.toml", load=tomllib.load, text=False)
    assert config == reference


def test_from_file_toml_text_mode_fails_like_tomllib(tmp_path: Path) -> None:
    _write(tmp_path / "c.toml", "A = 1\n")
    with pytest.raises(TypeError):
        Config(tmp_path).from_file("c.toml", load=tomllib.load)


def test_from_file_missing(tmp_path: Path) -> None:
    config = Config(tmp_path)
    assert config.from_file("missing.json", load=json.load, silent=True) is False
    assert config.from_file(".", load=json.load, silent=True) is False
    with pytest.raises(FileNotFoundError) as info:
        config.from_file("missing.json", load=json.load)
    assert "Unable to load configuration file" in str(info.value)
    assert str(tmp_path / "missing.json") in str(info.value)


def test_from_file_loader_errors_propagate(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(json.JSONDecodeError):
        Config(tmp_path).from_file("bad.json", load=json.load, silent=True)


def test_from_file_top_level_not_mapping(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(TypeError, match=r"must hold a mapping.*list"):
        Config(tmp_path).from_file("list.json", load=json.load)


# -- from_prefixed_env -----------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith(("ERLEN_", "FLASK_", "APP_")):
            monkeypatch.delenv(key)
    return monkeypatch


def test_from_prefixed_env_json_and_raw(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    env = {
        "ERLEN_INT": "1",
        "ERLEN_BOOL": "true",
        "ERLEN_NULL": "null",
        "ERLEN_OBJ": '{"k": [1, 2]}',
        "ERLEN_QUOTED": '"q"',
        "ERLEN_WORDS": "not json",
        "ERLEN_URL": "postgresql://db/x",
        "ERLEN_lower": "kept",
        "OTHER_X": "1",
        "ERLENX": "1",
    }
    for key, value in env.items():
        clean_env.setenv(key, value)
    config = Config(tmp_path, {"INT": 0})
    assert config.from_prefixed_env() is True
    assert config == {
        "INT": 1,
        "BOOL": True,
        "NULL": None,
        "OBJ": {"k": [1, 2]},
        "QUOTED": "q",
        "WORDS": "not json",
        "URL": "postgresql://db/x",
        "lower": "kept",
    }
    # The same variables under flask's prefix give the same config.
    for key, value in env.items():
        if key.startswith("ERLEN_"):
            clean_env.setenv("FLASK_" + key[len("ERLEN_") :], value)
    reference = flask_config.Config(tmp_path, {"INT": 0})
    reference.from_prefixed_env()
    assert config == reference


def test_from_prefixed_env_nested(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("ERLEN_DB__HOST", "db")
    clean_env.setenv("ERLEN_DB__PORT", "5432")
    clean_env.setenv("ERLEN_A__B__C", "null")
    clean_env.setenv("ERLEN_EXISTING__NEW", "1")
    config = Config(tmp_path, {"EXISTING": {"OLD": 0}})
    config.from_prefixed_env()
    assert config == {
        "DB": {"HOST": "db", "PORT": 5432},
        "A": {"B": {"C": None}},
        "EXISTING": {"OLD": 0, "NEW": 1},
    }


def test_from_prefixed_env_sorted_parent_before_child(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    # ERLEN_DB sorts before ERLEN_DB__HOST, so the child lands in the object.
    clean_env.setenv("ERLEN_DB__HOST", "h")
    clean_env.setenv("ERLEN_DB", '{"PORT": 1}')
    config = Config(tmp_path)
    config.from_prefixed_env()
    assert config == {"DB": {"PORT": 1, "HOST": "h"}}


def test_from_prefixed_env_nested_into_non_dict(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("ERLEN_DB__HOST", "h")
    config = Config(tmp_path, {"DB": "sqlite://"})
    with pytest.raises(TypeError, match=r"'ERLEN_DB__HOST'.*'DB' is a str"):
        config.from_prefixed_env()


def test_from_prefixed_env_custom_prefix_and_loads(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("APP_NAME", "x")
    clean_env.setenv("APP_BAD", "boom")
    clean_env.setenv("ERLEN_IGNORED", "1")

    def loads(value: str) -> str:
        if value == "boom":
            raise ValueError(value)
        return value.upper()

    config = Config(tmp_path)
    config.from_prefixed_env("APP", loads=loads)
    assert config == {"NAME": "X", "BAD": "boom"}


# -- get_namespace -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"type": "fs", "path": "/p"}),
        ({"lowercase": False}, {"TYPE": "fs", "PATH": "/p"}),
        ({"trim_namespace": False}, {"store_type": "fs", "store_path": "/p"}),
        (
            {"lowercase": False, "trim_namespace": False},
            {"STORE_TYPE": "fs", "STORE_PATH": "/p"},
        ),
    ],
)
def test_get_namespace(
    tmp_path: Path, kwargs: dict[str, bool], expected: dict[str, str]
) -> None:
    values = {"STORE_TYPE": "fs", "STORE_PATH": "/p", "OTHER": 1, "store_x": 2}
    config = Config(tmp_path, values)
    assert config.get_namespace("STORE_", **kwargs) == expected
    reference = flask_config.Config(tmp_path, values)
    assert reference.get_namespace("STORE_", **kwargs) == expected


def test_get_namespace_is_case_sensitive_and_skips_non_str(tmp_path: Path) -> None:
    config = Config(tmp_path, {"STORE_A": 1, "store_b": 2, 3: "int key"})
    assert config.get_namespace("store_") == {"b": 2}
    assert config.get_namespace("NOPE_") == {}


# -- ConfigAttribute / make_timedelta ------------------------------------------


class _App:
    testing = ConfigAttribute[bool]("TESTING")
    secret_key = ConfigAttribute[str | bytes | None]("SECRET_KEY")
    permanent_session_lifetime = ConfigAttribute[timedelta](
        "PERMANENT_SESSION_LIFETIME", get_converter=make_timedelta
    )

    def __init__(self) -> None:
        self.config = Config(".", DEFAULT_CONFIG)


def test_config_attributes_match_flask() -> None:
    names = {
        name: attr.__name__
        for cls in flask.Flask.__mro__
        for name, attr in vars(cls).items()
        if isinstance(attr, flask_config.ConfigAttribute)
    }
    assert names == {
        "testing": "TESTING",
        "secret_key": "SECRET_KEY",
        "permanent_session_lifetime": "PERMANENT_SESSION_LIFETIME",
    }


def test_config_attribute_reads_and_writes_config() -> None:
    app = _App()
    assert app.testing is False
    app.testing = True
    assert app.config["TESTING"] is True
    app.config["SECRET_KEY"] = "abc"
    assert app.secret_key == "abc"


def test_config_attribute_on_class_returns_descriptor() -> None:
    attr = _App.testing
    assert isinstance(attr, ConfigAttribute)
    assert attr.__name__ == "TESTING"
    assert repr(attr) == "<ConfigAttribute 'TESTING'>"


def test_config_attribute_converter() -> None:
    app = _App()
    assert app.permanent_session_lifetime == timedelta(days=31)
    app.permanent_session_lifetime = 3600  # type: ignore[assignment]
    # The raw value is stored; conversion happens on read.
    assert app.config["PERMANENT_SESSION_LIFETIME"] == 3600
    assert app.permanent_session_lifetime == timedelta(hours=1)
    app.config["PERMANENT_SESSION_LIFETIME"] = 1.5
    assert app.permanent_session_lifetime == timedelta(seconds=1.5)


def test_config_attribute_converter_error_names_key() -> None:
    app = _App()
    app.config["PERMANENT_SESSION_LIFETIME"] = "one day"
    with pytest.raises(TypeError, match="number of seconds") as info:
        _ = app.permanent_session_lifetime
    assert info.value.__notes__ == [
        "while reading app.config['PERMANENT_SESSION_LIFETIME']"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (timedelta(minutes=5), timedelta(minutes=5)),
        (60, timedelta(minutes=1)),
        (0.25, timedelta(milliseconds=250)),
    ],
)
def test_make_timedelta(value: Any, expected: timedelta | None) -> None:
    assert make_timedelta(value) == expected


@pytest.mark.parametrize("value", ["60", True, [1], b"1"])
def test_make_timedelta_rejects(value: Any) -> None:
    with pytest.raises(TypeError, match="timedelta or a number of seconds"):
        make_timedelta(value)
