"""erlen.serving without a real server: app.run()'s rules, serve()'s set-up.

The servers themselves run in tests/integration/test_dev_server.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import types
import warnings
from pathlib import Path

import pytest

import erlen.cli
from erlen import Erlen, serving

CLI_APPS = Path(__file__).parent / "cli_apps"

#: Module globals, so that the reloader can find them by name.
module_app = Erlen(__name__)
factory_app = Erlen(__name__)


def create_module_app():
    return factory_app


@pytest.fixture
def served(monkeypatch):
    """Record what would be served instead of starting uvicorn."""
    calls = []

    def fake_serve(app, child, host, port, **kwargs):
        calls.append({"app": app, "child": child, "host": host, "port": port, **kwargs})

    monkeypatch.setattr(serving, "_serve", fake_serve)
    for name in (
        "ERLEN_RUN_FROM_CLI",
        "ERLEN_DEV_SERVER",
        "ERLEN_DEBUG",
        "FLASK_DEBUG",
    ):
        # setenv first: monkeypatch then restores the variable's absence too,
        # undoing what app.run() loads from a .env file.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "argv", ["/home/me/proj/hello.py"])
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    return calls


# -- app.run() -----------------------------------------------------------------------------
def test_run_defaults_and_banner(served, capsys):
    app = Erlen("run_defaults")
    app.run(load_dotenv=False)
    (call,) = served
    assert call == {
        "app": app,
        "child": None,
        "host": "127.0.0.1",
        "port": 5000,
        "debug": False,
        "config": {},
        "ssl_certfile": None,
        "ssl_keyfile": None,
        "extra_files": [],
        "exclude_patterns": [],
    }
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        " * Serving erlen app 'run_defaults'",
        " * Debug mode: off",
        " * Running on http://127.0.0.1:5000 (Press CTRL+C to quit)",
    ]
    assert captured.err.startswith("WARNING: This is a development server.")


def test_run_options(served, capsys):
    app = Erlen("run_options")
    app.config["SERVER_NAME"] = "localhost:8123"
    app.run(
        load_dotenv=False,
        threaded=False,
        use_debugger=False,
        use_evalex=True,
        ssl_context=("cert.pem", "key.pem"),
        extra_files=["a.cfg"],
        exclude_patterns=["*.tmp"],
    )
    call = served[-1]
    assert (call["host"], call["port"]) == ("localhost", 8123)
    assert call["config"] == {"ASGI_THREADS": 1, "DEBUG_PAGE": False}
    assert (call["ssl_certfile"], call["ssl_keyfile"]) == ("cert.pem", "key.pem")
    assert call["extra_files"] == ["a.cfg"]
    assert call["exclude_patterns"] == ["*.tmp"]
    assert "https://localhost:8123" in capsys.readouterr().out
    app.run("0.0.0.0", "8001", load_dotenv=False)
    assert (served[-1]["host"], served[-1]["port"]) == ("0.0.0.0", 8001)


def test_run_debug_reloads_a_module_global(served):
    try:
        module_app.run(debug=True, load_dotenv=False)
    finally:
        module_app.debug = False
    call = served[-1]
    assert call["debug"] is True
    assert call["child"] == {"module": __name__, "name": "module_app"}
    module_app.run(debug=True, use_reloader=False, load_dotenv=False)
    assert served[-1]["child"] is None
    module_app.debug = False


def test_run_debug_without_a_global_serves_without_reload(served):
    app = Erlen("local_app")
    with pytest.warns(RuntimeWarning, match="Reloading is off"):
        app.run(debug=True, load_dotenv=False)
    assert served[-1]["child"] is None
    assert served[-1]["debug"] is True


def test_run_loads_dotenv(served, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("ERLEN_DEBUG=1\n")
    app = Erlen("dotenv_app")
    app.run(load_dotenv=False)
    assert app.debug is False
    app.run(use_reloader=False)
    assert app.debug is True
    assert os.environ["ERLEN_DEBUG"] == "1"


def test_run_under_the_erlen_command_does_nothing(served, monkeypatch):
    monkeypatch.setenv("ERLEN_RUN_FROM_CLI", "true")
    with pytest.warns(RuntimeWarning, match="the 'erlen' command is serving"):
        Erlen("cli_app").run()
    assert not served


def test_run_in_the_reloaded_process_does_nothing_quietly(served, monkeypatch):
    monkeypatch.setenv("ERLEN_DEV_SERVER", "{}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Erlen("child_app").run()
    assert not served


def test_run_under_a_production_server_does_nothing(served, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/srv/venv/bin/gunicorn", "app:app"])
    with pytest.warns(RuntimeWarning, match=r"already serving \(gunicorn\)"):
        Erlen("prod_app").run()
    assert not served


def test_run_inside_an_event_loop_does_nothing(served):
    async def main():
        Erlen("loop_app").run()

    with pytest.warns(RuntimeWarning, match="event loop is running"):
        asyncio.run(main())
    assert not served


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"processes": 2}, "unsupported option(s) processes"),
        ({"reloader_type": "stat"}, "reloader_type"),
        ({"ssl_context": "adhoc"}, "openssl req"),
        ({"ssl_context": ("only-cert.pem",)}, "(certfile, keyfile)"),
    ],
)
def test_run_rejects_what_the_server_cannot_do(served, kwargs, message):
    with pytest.raises(TypeError) as info:
        Erlen("bad_options").run(load_dotenv=False, **kwargs)
    assert message in str(info.value)
    assert not served


@pytest.mark.parametrize(
    ("argv0", "main_file", "spec_name", "expected"),
    [
        ("/srv/venv/bin/gunicorn", None, None, "gunicorn"),
        ("/srv/venv/bin/granian", None, None, "granian"),
        ("/usr/lib/python3/site-packages/uvicorn/__main__.py", None, None, "uvicorn"),
        ("-c", "/srv/venv/bin/hypercorn", None, "hypercorn"),  # a worker process
        ("-m", None, "hypercorn.__main__", "hypercorn"),
        ("/srv/venv/bin/waitress-serve", None, None, "waitress-serve"),
        ("/home/me/proj/hello.py", "/home/me/proj/hello.py", None, None),
        ("/home/me/proj/gunicorn_conf_test.py", None, None, None),
    ],
)
def test_production_server_by_program(
    monkeypatch, argv0, main_file, spec_name, expected
):
    main = types.ModuleType("__main__")
    if main_file is not None:
        main.__file__ = main_file
    if spec_name is not None:
        main.__spec__ = types.SimpleNamespace(name=spec_name)  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", [argv0])
    assert serving.production_server() == expected


@pytest.mark.parametrize("module", ["uwsgi", "mod_wsgi"])
def test_production_server_embedded(monkeypatch, module):
    monkeypatch.setattr(sys, "argv", ["/home/me/proj/hello.py"])
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    monkeypatch.setitem(sys.modules, module, types.ModuleType(module))
    assert serving.production_server() == module


# -- serve() -------------------------------------------------------------------------------
def test_serve_reuses_the_app_the_command_loaded(served):
    app = Erlen("cli_loaded")
    result = app.test_cli_runner().invoke(erlen.cli.run_command, ["--without-threads"])
    assert result.exit_code == 0, result.output
    call = served[-1]
    assert call["app"] is app
    assert call["child"] is None
    assert call["config"] == {"ASGI_THREADS": 1}


def test_serve_reload_of_a_lambda_factory_is_off(served):
    app = Erlen("lambda_app")
    with pytest.warns(RuntimeWarning, match="cannot be imported by name"):
        serving.serve(lambda: app, reload=True)
    assert served[-1]["app"] is app
    assert served[-1]["child"] is None


def test_serve_reload_of_a_module_factory(served):
    serving.serve(create_module_app, reload=True, debug=True, port=0)
    call = served[-1]
    assert call["app"] is factory_app
    assert call["child"] == {"module": __name__, "name": "create_module_app"}
    assert (call["debug"], call["port"]) == (True, 0)


def test_serve_reload_of_an_import_path(served, monkeypatch):
    monkeypatch.chdir(CLI_APPS)
    monkeypatch.syspath_prepend(str(CLI_APPS))
    serving.serve("cliapp_hello", reload=True, extra_files=["x.cfg"])
    call = served[-1]
    assert call["app"].name == "cliapp_hello"
    assert call["child"] == {"path": "cliapp_hello"}
    assert call["extra_files"] == ["x.cfg"]


def test_serve_factory_must_return_an_app(served):
    with pytest.raises(erlen.cli.NoAppException, match="not an erlen app"):
        serving.serve(lambda: "nope")


# -- the reloaded process ------------------------------------------------------------------
def test_reload_factory_builds_the_app_from_the_environment(monkeypatch):
    spec = {
        "module": __name__,
        "name": "factory_app",
        "debug": True,
        "config": {"ASGI_THREADS": 3},
    }
    monkeypatch.setenv("ERLEN_DEV_SERVER", json.dumps(spec))
    try:
        assert serving._reload_factory() is factory_app
        assert factory_app.debug is True
        assert factory_app.config["ASGI_THREADS"] == 3
    finally:
        factory_app.debug = False
        factory_app.config["ASGI_THREADS"] = 40


def test_reload_factory_needs_the_environment(monkeypatch):
    monkeypatch.delenv("ERLEN_DEV_SERVER", raising=False)
    with pytest.raises(RuntimeError, match="erlen run"):
        serving._reload_factory()


def test_reload_factory_serves_an_error_when_the_app_fails(monkeypatch, capsys):
    spec = {"path": "no_such_module_here", "debug": False, "config": {}}
    monkeypatch.setenv("ERLEN_DEV_SERVER", json.dumps(spec))
    assert serving._reload_factory() is serving._failed_app
    err = capsys.readouterr().err
    assert "no_such_module_here" in err
    assert "fix it and save to reload" in err


async def _drive(scope, incoming):
    sent = []
    queue = list(incoming)

    async def receive():
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    await serving._failed_app(scope, receive, send)
    return sent


def test_failed_app_answers_500_and_handles_lifespan():
    sent = asyncio.run(_drive({"type": "http"}, []))
    assert sent[0]["status"] == 500
    assert b"failed to load" in sent[1]["body"]
    sent = asyncio.run(
        _drive(
            {"type": "lifespan"},
            [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}],
        )
    )
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    sent = asyncio.run(_drive({"type": "websocket"}, []))
    assert sent == [{"type": "websocket.close", "code": 1011}]


# -- helpers -------------------------------------------------------------------------------
def test_watched_dirs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app" / "templates").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    app = Erlen("watched", root_path=str(tmp_path / "app"))
    installed = Erlen("installed", root_path=os.path.dirname(os.__file__))
    extra = tmp_path / "elsewhere" / "x.cfg"
    dirs = serving._watched_dirs(app, [str(extra)])
    root = os.path.realpath(tmp_path)
    assert dirs == [
        root,
        os.path.join(root, "app"),
        os.path.join(root, "app", "templates"),
        os.path.join(root, "elsewhere"),
    ]
    # The standard library (under sys.base_prefix) is never watched.
    assert serving._watched_dirs(installed, []) == [root]


def test_file_pattern(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert serving._file_pattern(str(tmp_path / "sub" / "b.toml")) == "sub/b.toml"
    assert serving._file_pattern("/etc/myapp/app.cfg") == "myapp/app.cfg"


@pytest.mark.parametrize(
    ("host", "scheme", "url"),
    [
        ("127.0.0.1", "http", "http://127.0.0.1:5000"),
        ("0.0.0.0", "http", "http://127.0.0.1:5000"),
        ("::1", "https", "https://[::1]:5000"),
        ("localhost", "http", "http://localhost:5000"),
    ],
)
def test_server_url(host, scheme, url):
    assert serving.server_url(host, 5000, scheme) == url


def test_log_config_hides_a_forced_exit_but_not_errors():
    flt = serving._DropForcedLifespanError()

    def record(msg, exc):
        return logging.LogRecord(
            "uvicorn.error", logging.ERROR, __file__, 1, msg, (), (type(exc), exc, None)
        )

    assert not flt.filter(
        record("Exception in 'lifespan' protocol\n", asyncio.CancelledError())
    )
    assert flt.filter(record("Exception in 'lifespan' protocol\n", ValueError("x")))
    assert flt.filter(record("Exception in ASGI application", asyncio.CancelledError()))
    config = serving._log_config()
    assert config["loggers"]["uvicorn.error"]["level"] == "WARNING"
    assert config["loggers"]["uvicorn.access"]["level"] == "INFO"
