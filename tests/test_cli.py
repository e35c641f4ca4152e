"""Tests for erlen.cli and erlen.discovery: the ``erlen`` command.

Every command runs through click's CliRunner (or ``app.test_cli_runner()``) with
the working directory set to a fixture folder under tests/cli_apps/.
"""

from __future__ import annotations

import code
import importlib.metadata
import os
import sys
import types
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import erlen.serving
from erlen import Blueprint, Erlen, current_app
from erlen.cli import (
    AppGroup,
    ErlenGroup,
    FlaskGroup,
    NoAppException,
    ScriptInfo,
    cli,
    find_best_app,
    load_dotenv,
    prepare_import,
    version_text,
    with_appcontext,
)
from erlen.discovery import AppImportError, split_import_path
from erlen.testing import ErlenCliRunner

APPS = Path(__file__).parent / "cli_apps"


@pytest.fixture(autouse=True)
def _isolate(monkeypatch):
    """Restore os.environ, sys.path and imported fixture modules after each test."""
    environ = dict(os.environ)
    path = list(sys.path)
    modules = set(sys.modules)
    for name in ("ERLEN_APP", "ERLEN_DEBUG", "FLASK_DEBUG", "ERLEN_SKIP_DOTENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(APPS)
    yield
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


@pytest.fixture
def runner():
    return CliRunner()


def run(runner, *args, **kwargs):
    return runner.invoke(cli, list(args), **kwargs)


# -- discovery ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("import_path", "name"),
    [
        ("cliapp_hello", "cliapp_hello"),
        ("cliapp_hello:app", "cliapp_hello"),
        ("cliapp_multiple:second", "cliapp_multiple_second"),
        ("cliapp_single", "cliapp_single_service"),
        ("cliapp_factory", "cliapp_factory_default"),
        ("cliapp_factory:create_app", "cliapp_factory_default"),
        ("cliapp_factory:create_app()", "cliapp_factory_default"),
        ("cliapp_factory:create_app('custom')", "custom"),
        ("cliapp_factory:make_other('pre', suffix='-post')", "pre-post"),
        ("cliapp_makeapp", "cliapp_makeapp_made"),
        ("cliapp_pkg.web", "cliapp_pkg.web"),
        ("cliapp_pkg/web.py", "cliapp_pkg.web"),
        ("cliapp_pkg/web.py:app", "cliapp_pkg.web"),
    ],
)
def test_app_option_variants(import_path, name):
    app = ScriptInfo(import_path).load_app()
    assert isinstance(app, Erlen)
    assert app.name == name


def test_app_option_and_env_var(runner):
    result = run(runner, "--app", "cliapp_hello", "hello-cmd")
    assert result.exit_code == 0, result.output
    assert result.output == "hello world from cliapp_hello\n"
    result = run(runner, "-A", "cliapp_hello", "hello-cmd", "--name", "x")
    assert result.output == "hello x from cliapp_hello\n"
    result = run(runner, "hello-cmd", env={"ERLEN_APP": "cliapp_hello"})
    assert result.exit_code == 0, result.output
    assert "from cliapp_hello" in result.output


@pytest.mark.parametrize(
    ("folder", "name", "found_in"),
    [
        ("wsgi_dir", "wsgi_dir_app", "wsgi.py"),
        ("appfile_dir", "appfile_dir_app", "app.py"),
        ("both_dir", "both_dir_from_wsgi_py", "wsgi.py"),
        ("factory_dir", "factory_dir_app", "app.py"),
    ],
)
def test_discovery_in_working_directory(monkeypatch, folder, name, found_in):
    monkeypatch.chdir(APPS / folder)
    info = ScriptInfo()
    assert info.load_app().name == name
    assert info.discovered_file == found_in
    assert info.import_path == found_in


def test_load_app_is_cached():
    info = ScriptInfo("cliapp_factory")
    assert info.load_app() is info.load_app()


def test_nothing_found_is_a_short_clear_error(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(runner, "routes")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "Could not locate an erlen application" in result.output
    for tried in ("--app", "ERLEN_APP", "'wsgi.py'", "'app.py'", str(tmp_path)):
        assert tried in result.output


def test_default_files_only_tried_when_present(tmp_path, monkeypatch):
    # No wsgi.py here: an importable module called "wsgi" elsewhere on
    # sys.path must not be picked up.
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(APPS / "wsgi_dir"))
    with pytest.raises(NoAppException, match="Could not locate"):
        ScriptInfo().load_app()


@pytest.mark.parametrize(
    ("import_path", "message"),
    [
        ("cliapp_nope_xyz", "Could not import 'cliapp_nope_xyz': no such module"),
        ("cliapp_pkg.nope", "Could not import 'cliapp_pkg.nope'"),
        ("cliapp_noapp", "Failed to find an erlen application or factory"),
        ("cliapp_multiple", "Detected several erlen applications"),
        ("cliapp_hello:nope", "Failed to find attribute 'nope' in 'cliapp_hello'"),
        ("cliapp_hello:app(", "Failed to parse 'app('"),
        ("cliapp_hello:app.x", "Failed to parse 'app.x'"),
        ("cliapp_factory:create_app(x)", "only literal values"),
        ("cliapp_factory:create_app(**{})", "only literal values"),
        ("cliapp_factory:not_an_app", "not obtained from 'cliapp_factory:not_an_app'"),
        ("cliapp_factory:not_an_app()", "'not_an_app' in 'cliapp_factory' is not a"),
        ("cliapp_factory:returns_none", "not obtained from"),
        ("cliapp_factory:create_app(1, 2, 3)", "could not be called with the given"),
        ("cliapp_needs_args", "could not be called without arguments"),
        ("cliapp_flask", "It is a Flask app"),
    ],
)
def test_discovery_errors(import_path, message):
    with pytest.raises(NoAppException) as info:
        ScriptInfo(import_path).load_app()
    assert not isinstance(info.value, AppImportError)
    assert message in info.value.format_message()


def test_no_app_error_on_command_line(runner):
    result = run(runner, "--app", "cliapp_noapp", "routes")
    assert result.exit_code == 2
    assert "Error: Failed to find an erlen application" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("import_path", "label", "own"),
    [
        (
            "cliapp_import_error",
            "While importing 'cliapp_import_error'",
            "No module named 'erlen_missing_dependency_xyz'",
        ),
        (
            "cliapp_broken",
            "While importing 'cliapp_broken'",
            "settings file is corrupt",
        ),
        (
            "cliapp_factory:broken_factory",
            "While calling the factory 'broken_factory'",
            "the factory exploded",
        ),
    ],
)
def test_app_error_is_a_labelled_traceback(runner, import_path, label, own):
    result = run(runner, "--app", import_path, "routes")
    assert result.exit_code == 1
    out = result.output
    assert label in out
    assert "an exception was raised by the app's own code" in out
    assert "Traceback (most recent call last):" in out
    assert own in out
    # Only the app's frames: not the loader's, and no usage text.
    assert "discovery.py" not in out
    assert "importlib" not in out
    assert "Usage:" not in out


def test_labelled_traceback_shows_the_apps_frames(runner):
    result = run(runner, "--app", "cliapp_broken", "routes")
    assert "cliapp_broken.py" in result.output
    assert "in load_settings" in result.output
    assert 'raise RuntimeError("settings file is corrupt")' in result.output


def test_syntax_error_in_app(runner, tmp_path, monkeypatch):
    (tmp_path / "app.py").write_text("def broken(:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    result = run(runner, "routes")
    assert result.exit_code == 1
    assert "While importing 'app'" in result.output
    assert "SyntaxError" in result.output


def test_create_app_callback_wins_and_debug_flag(monkeypatch):
    app = Erlen("callback_app")
    app.debug = True
    info = ScriptInfo("cliapp_hello", create_app=lambda: app)
    assert info.load_app() is app
    assert app.debug is False  # set from ERLEN_DEBUG, unset, as Flask does
    monkeypatch.setenv("ERLEN_DEBUG", "1")
    other = Erlen("callback_app2")
    ScriptInfo(create_app=lambda: other).load_app()
    assert other.debug is True
    third = Erlen("callback_app3")
    third.debug = True
    ScriptInfo(create_app=lambda: third, set_debug_flag=False).load_app()
    monkeypatch.setenv("ERLEN_DEBUG", "0")
    assert third.debug is True


def test_prepare_import(tmp_path):
    assert prepare_import("cliapp_hello") == "cliapp_hello"
    assert prepare_import("cliapp_pkg/web.py") == "cliapp_pkg.web"
    assert sys.path[0] == str(APPS)
    pkg = tmp_path / "outer" / "inner"
    pkg.mkdir(parents=True)
    (tmp_path / "outer" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    assert prepare_import(str(pkg / "__init__.py")) == "outer.inner"
    assert sys.path[0] == str(tmp_path)


def test_split_import_path():
    assert split_import_path("mod") == ("mod", None)
    assert split_import_path("mod:create_app('a:b')") == ("mod", "create_app('a:b')")
    assert split_import_path("C:\\apps\\x.py:app") == ("C:\\apps\\x.py", "app")
    assert split_import_path("C:/apps/x.py") == ("C:/apps/x.py", None)


def test_find_best_app_prefers_app_attribute():
    module = types.ModuleType("m")
    module.other = Erlen("other")
    module.application = Erlen("application")
    assert find_best_app(module).name == "application"
    module.app = Erlen("app")
    assert find_best_app(module).name == "app"


def test_factory_type_error_from_inside_is_the_apps_error():
    module = types.ModuleType("factory_mod")

    def create_app():
        return len(1)  # TypeError raised inside the factory

    module.create_app = create_app
    with pytest.raises(AppImportError, match="While calling the factory"):
        find_best_app(module)


# -- .env files ---------------------------------------------------------------------------
def test_dotenv_files_are_loaded(runner, monkeypatch):
    monkeypatch.chdir(APPS / "dotenv_dir")
    names = ["SHARED", "DOTENV_ONLY", "ERLENENV_ONLY", "ERLEN_APP"]
    result = run(runner, "printenv", *names)  # ERLEN_APP comes from .env
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "SHARED=from-dotenv",  # .env wins over .erlenenv
        "DOTENV_ONLY=yes",
        "ERLENENV_ONLY=yes",
        "ERLEN_APP=cliapp_envapp",
    ]


def test_env_file_option_wins_over_defaults(runner, monkeypatch):
    monkeypatch.chdir(APPS / "dotenv_dir")
    result = run(
        runner, "--env-file", "custom.env", "printenv", "SHARED", "DOTENV_ONLY"
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["SHARED=from-custom", "DOTENV_ONLY=yes"]
    result = run(runner, "-e", "missing.env", "printenv")
    assert result.exit_code == 2
    assert "missing.env" in result.output


def test_environment_wins_over_env_files(runner, monkeypatch):
    monkeypatch.chdir(APPS / "dotenv_dir")
    monkeypatch.setenv("SHARED", "from-shell")
    result = run(runner, "-e", "custom.env", "printenv", "SHARED")
    assert result.output == "SHARED=from-shell\n"


def test_skip_dotenv(runner, monkeypatch):
    monkeypatch.chdir(APPS / "dotenv_dir")
    monkeypatch.setenv("ERLEN_SKIP_DOTENV", "1")
    result = run(runner, "printenv", "DOTENV_ONLY")
    assert "No such command 'printenv'" in result.output
    assert "Could not locate an erlen application" in result.output
    assert "DOTENV_ONLY" not in os.environ


def test_load_dotenv_function(monkeypatch):
    monkeypatch.chdir(APPS / "dotenv_dir")
    monkeypatch.delenv("SHARED", raising=False)
    assert load_dotenv("custom.env", load_defaults=False) is True
    assert os.environ["SHARED"] == "from-custom"
    assert "DOTENV_ONLY" not in os.environ


def test_without_python_dotenv(runner, monkeypatch):
    monkeypatch.setitem(sys.modules, "dotenv", None)  # import dotenv fails
    monkeypatch.chdir(APPS / "dotenv_dir")
    assert load_dotenv() is False
    result = run(runner, "--app", "cliapp_envapp", "printenv", "DOTENV_ONLY")
    assert "Install python-dotenv to use them" in result.output
    assert "DOTENV_ONLY=None" in result.output
    result = run(runner, "-e", "custom.env", "printenv")
    assert result.exit_code == 2
    assert "python-dotenv must be installed" in result.output


# -- routes -------------------------------------------------------------------------------
def _routes(runner, *args):
    result = run(runner, "--app", "cliapp_hello", "routes", *args)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_routes_columns_are_aligned(runner):
    lines = _routes(runner)
    assert lines[0].split() == ["Endpoint", "Methods", "Rule"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    methods_at = lines[0].index("Methods")
    rule_at = lines[0].index("Rule")
    # Each dash run is as wide as its column's widest cell.
    assert lines[1].index("-", methods_at) == methods_at
    for line in lines[2:]:
        assert line[methods_at - 2 : methods_at] == "  "
        assert line[rule_at - 1] == " " and line[rule_at] == "/"
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["user"].split(None, 1)[1].split() == [
        "GET,",
        "POST",
        "/users/<int:uid>",
    ]
    assert "HEAD" not in lines[0] + "".join(lines[2:])
    assert "OPTIONS" not in "".join(lines[2:])
    assert rows["about_page"].endswith("/about")


def test_routes_sort_options(runner):
    def endpoints(lines):
        return [line.split()[0] for line in lines[2:]]

    assert endpoints(_routes(runner)) == sorted(endpoints(_routes(runner)))
    by_rule = _routes(runner, "--sort", "rule")
    rules = [line.split()[-1] for line in by_rule[2:]]
    assert rules == sorted(rules)
    by_methods = _routes(runner, "-s", "methods")
    methods = [line.split(None, 1)[1].rsplit(None, 1)[0] for line in by_methods[2:]]
    assert methods == sorted(methods)
    by_match = endpoints(_routes(runner, "--sort", "match"))
    assert sorted(by_match) == endpoints(_routes(runner))
    result = run(runner, "--app", "cliapp_hello", "routes", "--sort", "nope")
    assert result.exit_code == 2


def test_routes_match_order_is_the_routers():
    app = Erlen("order", static_folder=None)
    app.add_url_rule("/<name>", "var", lambda name: name)
    app.add_url_rule("/fixed", "fixed", lambda: "")
    runner = app.test_cli_runner()
    from erlen.cli import routes_command

    result = runner.invoke(routes_command, ["--sort", "match"])
    assert [line.split()[0] for line in result.output.splitlines()[2:]] == [
        "fixed",
        "var",
    ]
    with app.test_request_context("/fixed"):
        app.match_request()
        from erlen import request

        assert request.url_rule.endpoint == "fixed"


def test_routes_all_methods(runner):
    lines = _routes(runner, "--all-methods")
    index_row = next(line for line in lines if line.startswith("index"))
    assert "GET, HEAD, OPTIONS" in index_row


def test_routes_none_registered():
    app = Erlen("empty", static_folder=None)
    from erlen.cli import routes_command

    result = app.test_cli_runner().invoke(routes_command)
    assert result.output == "No routes were registered.\n"


def test_routes_subdomain_and_websocket_columns():
    app = Erlen("subs", static_folder=None, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"
    app.add_url_rule("/", "home", lambda: "")
    app.add_url_rule("/", "api_home", lambda: "", subdomain="api")
    app.add_url_rule("/ws", "socket", lambda: "", websocket=True)
    from erlen.cli import routes_command

    result = app.test_cli_runner().invoke(routes_command, ["--sort", "domain"])
    lines = result.output.splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Subdomain", "Rule"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["api_home"] == ["api_home", "GET", "api", "/"]
    assert rows["socket"] == ["socket", "WEBSOCKET", "/ws"]
    assert [line.split()[0] for line in lines[2:]][-1] == "api_home"


# -- shell -----------------------------------------------------------------------------
@pytest.fixture
def fake_interact(monkeypatch):
    calls = []

    def interact(banner=None, local=None, **kwargs):
        calls.append(
            {
                "banner": banner,
                "local": local,
                "current": current_app._get_current_object(),
            }
        )

    monkeypatch.setattr(code, "interact", interact)
    # The site module's hook would set up readline history in the home folder.
    monkeypatch.delattr(sys, "__interactivehook__", raising=False)
    monkeypatch.setitem(sys.modules, "IPython", None)  # not installed
    return calls


def test_shell(runner, fake_interact):
    result = run(runner, "--app", "cliapp_hello", "shell")
    assert result.exit_code == 0, result.output
    (call,) = fake_interact
    banner = call["banner"]
    assert banner.startswith(f"Python {sys.version} on {sys.platform}")
    assert "App: cliapp_hello (import path: cliapp_hello)" in banner
    assert "Instance: " in banner
    namespace = call["local"]
    assert namespace["app"] is call["current"]
    assert namespace["app"].name == "cliapp_hello"
    assert namespace["answer"] == 42
    assert "g" in namespace


def test_shell_runs_pythonstartup(runner, fake_interact, tmp_path, monkeypatch):
    startup = tmp_path / "startup.py"
    startup.write_text("from_startup = 'yes'\nanswer = 'overridden by the app'\n")
    monkeypatch.setenv("PYTHONSTARTUP", str(startup))
    result = run(runner, "--app", "cliapp_hello", "shell")
    assert result.exit_code == 0, result.output
    namespace = fake_interact[0]["local"]
    assert namespace["from_startup"] == "yes"
    assert namespace["answer"] == 42


def test_shell_uses_ipython_when_installed(runner, fake_interact, monkeypatch):
    started = []
    fake = types.ModuleType("IPython")
    fake.__version__ = "9.9"
    fake.start_ipython = lambda argv, user_ns: started.append((argv, user_ns))
    monkeypatch.setitem(sys.modules, "IPython", fake)
    result = run(runner, "--app", "cliapp_hello", "shell")
    assert result.exit_code == 0, result.output
    assert not fake_interact
    ((argv, namespace),) = started
    assert argv == ["--no-banner"]
    assert namespace["answer"] == 42
    assert "IPython 9.9" in result.output
    assert "App: cliapp_hello" in result.output
    result = run(runner, "--app", "cliapp_hello", "shell", "--no-ipython")
    assert len(fake_interact) == 1 and len(started) == 1


def test_shell_ipython_requested_but_missing(runner, fake_interact):
    result = run(runner, "--app", "cliapp_hello", "shell", "--ipython")
    assert result.exit_code == 2
    assert "IPython is not installed" in result.output


# -- custom commands, groups, blueprints -------------------------------------------------
def test_app_group_and_blueprint_commands(runner):
    def out(*args):
        result = run(runner, "--app", "cliapp_hello", *args)
        assert result.exit_code == 0, result.output
        return result.output

    assert out("db", "init") == "db init in cliapp_hello\n"
    assert out("users", "create", "ann") == "created ann\n"  # group named after bp
    assert out("merged-cmd") == "merged command\n"  # cli_group=None
    assert out("admin", "purge") == "purged\n"  # cli_group="admin"
    # `erlen` pushes the app context for every app command, as `flask` does...
    assert out("no-context") == "context=True\n"
    help_text = out("--help")
    for name in ("hello-cmd", "db", "users", "merged-cmd", "admin", "run", "routes"):
        assert name in help_text


def test_command_without_appcontext():
    # ...while app.cli alone only wraps commands that want the context.
    app = ScriptInfo("cliapp_hello").load_app()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["no-context"]).output == "context=False\n"
    assert runner.invoke(args=["show-debug"]).output == "debug=False\n"


def test_blueprint_cli_group_option_on_register():
    app = Erlen("bp_options")
    bp = Blueprint("tools", __name__)

    @bp.cli.command("go")
    def go():
        click.echo("went")

    app.register_blueprint(bp, cli_group="renamed")
    assert "renamed" in app.cli.commands
    assert app.cli.commands["renamed"].commands["go"].name == "go"
    empty = Blueprint("empty", __name__)
    app.register_blueprint(empty)
    assert "empty" not in app.cli.commands  # no commands, no group


def test_help_with_broken_app_still_lists_builtins(runner):
    result = run(runner, "--app", "cliapp_broken", "--help")
    assert result.exit_code == 0
    assert "settings file is corrupt" in result.output
    for name in ("run", "routes", "shell"):
        assert name in result.output


def test_unknown_command_without_app(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(runner, "frobnicate")
    assert result.exit_code == 2
    assert "Could not locate an erlen application" in result.output
    assert "No such command 'frobnicate'" in result.output


def test_no_args_shows_help_with_app_commands(runner):
    result = run(runner, env={"ERLEN_APP": "cliapp_hello"})
    assert "hello-cmd" in result.output
    assert "Usage:" in result.output


def test_with_appcontext_on_plain_click_command(runner):
    @click.command()
    @with_appcontext
    def plain():
        click.echo(current_app.name)

    result = runner.invoke(plain, obj=ScriptInfo("cliapp_hello"))
    assert result.output == "cliapp_hello\n"
    app = Erlen("already")
    with app.app_context():  # a pushed context is used as it is
        result = runner.invoke(plain, obj=ScriptInfo("cliapp_hello"))
    assert result.output == "already\n"


def test_app_group_without_parentheses_and_nested_groups():
    group = AppGroup("top")

    @group.command
    def bare():
        click.echo(current_app.name)

    sub = group.group("sub")(lambda: None)
    assert isinstance(sub, AppGroup)
    assert "bare" in group.commands
    app = Erlen("bare_app")
    result = app.test_cli_runner().invoke(group, ["bare"])
    assert result.output == "bare_app\n"


def test_test_cli_runner():
    app = Erlen("runner_app")

    @app.cli.command("greet")
    @click.argument("who")
    def greet(who):
        click.echo(f"{current_app.name} greets {who}")

    runner = app.test_cli_runner()
    assert isinstance(runner, ErlenCliRunner)
    result = runner.invoke(args=["greet", "you"])
    assert result.exit_code == 0, result.output
    assert result.output == "runner_app greets you\n"

    @click.command()
    @with_appcontext
    def other():
        click.echo(current_app.name)

    assert runner.invoke(other).output == "runner_app\n"


def test_test_cli_runner_class():
    class MyRunner(ErlenCliRunner):
        pass

    app = Erlen("custom_runner")
    app.test_cli_runner_class = MyRunner
    runner = app.test_cli_runner()
    assert type(runner) is MyRunner and runner.app is app


def test_custom_group_with_create_app(runner):
    app = Erlen("scripted")

    @app.cli.command("who")
    def who():
        click.echo(current_app.name)

    group = ErlenGroup(create_app=lambda: app)
    assert FlaskGroup is ErlenGroup
    result = runner.invoke(group, ["who"])
    assert result.output == "scripted\n"
    bare = ErlenGroup(add_default_commands=False, add_version_option=False)
    assert "run" not in bare.commands
    assert not any(p.name == "version" for p in bare.params)


def test_plugin_commands(runner, monkeypatch):
    @click.command("from-plugin")
    def plugin():
        click.echo("plugin ran")

    class EntryPoint:
        name = "from-plugin"

        def load(self):
            return plugin

    def entry_points(group):
        return [EntryPoint()] if group == "erlen.commands" else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    group = ErlenGroup()
    result = runner.invoke(group, ["from-plugin"])
    assert result.output == "plugin ran\n"


# -- --version, --debug ------------------------------------------------------------------
def test_version(runner):
    result = run(runner, "--version")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"Python {sys.version.split()[0]}"
    assert lines[1] == f"erlen {importlib.metadata.version('erlen')}"
    for dist in ("Werkzeug", "Jinja2", "click", "itsdangerous", "blinker"):
        assert f"{dist} {importlib.metadata.version(dist)}" in lines
    assert result.output == version_text() + "\n"


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, "debug=False"),
        (["--debug"], {}, "debug=True"),
        (["--no-debug"], {"ERLEN_DEBUG": "1"}, "debug=False"),
        ([], {"ERLEN_DEBUG": "1"}, "debug=True"),
        ([], {"FLASK_DEBUG": "1"}, "debug=True"),
    ],
)
def test_debug_flag(runner, args, env, expected):
    result = run(runner, *args, "--app", "cliapp_hello", "show-debug", env=env)
    assert result.output == f"{expected}\n"


def test_run_from_cli_flag(runner):
    run(runner, "--app", "cliapp_hello", "hello-cmd")
    assert os.environ["ERLEN_RUN_FROM_CLI"] == "true"


# -- run ---------------------------------------------------------------------------------
@pytest.fixture
def served(monkeypatch):
    calls = []

    def serve(target, host, port, **kwargs):
        calls.append({"target": target, "host": host, "port": port, **kwargs})

    monkeypatch.setattr(erlen.serving, "serve", serve)
    return calls


def test_run_defaults_and_banner(runner, served):
    result = run(runner, "--app", "cliapp_hello", "run")
    assert result.exit_code == 0, result.output
    (call,) = served
    assert call == {
        "target": "cliapp_hello",
        "host": "127.0.0.1",
        "port": 5000,
        "reload": False,
        "debug": False,
        "threaded": True,
        "ssl_certfile": None,
        "ssl_keyfile": None,
        "extra_files": [],
        "exclude_patterns": [],
    }
    lines = result.output.splitlines()
    assert " * Serving erlen app 'cliapp_hello'" in lines
    assert " * Debug mode: off" in lines
    assert " * Running on http://127.0.0.1:5000 (Press CTRL+C to quit)" in lines
    warning = [line for line in lines if line.startswith("WARNING")]
    assert len(warning) == 1 and "development server" in warning[0]
    assert "production" in warning[0]


def test_run_debug_turns_reload_on(runner, served):
    result = run(runner, "--app", "cliapp_hello", "run", "--debug", "-h", "0.0.0.0",
                 "-p", "8080")  # fmt: skip
    assert result.exit_code == 0, result.output
    call = served[-1]
    assert (call["host"], call["port"], call["debug"], call["reload"]) == (
        "0.0.0.0",
        8080,
        True,
        True,
    )
    assert " * Debug mode: on" in result.output
    assert "all addresses (0.0.0.0), e.g. http://127.0.0.1:8080" in result.output
    run(runner, "--debug", "--app", "cliapp_hello", "run", "--no-reload")
    assert served[-1]["debug"] is True and served[-1]["reload"] is False
    os.environ.pop("ERLEN_DEBUG")  # --debug set it for the rest of the process
    run(runner, "--app", "cliapp_hello", "run", "--reload", "--without-threads")
    assert served[-1]["reload"] is True and served[-1]["threaded"] is False
    assert served[-1]["debug"] is False


def test_run_debug_option_sets_the_app(runner, served):
    app = Erlen("run_debug")

    result = app.test_cli_runner().invoke(erlen.cli.run_command, ["--debug"])
    assert result.exit_code == 0, result.output
    assert app.debug is True
    assert served[-1]["target"]() is app  # a factory when there is no import path
    assert " * Serving erlen app 'run_debug'" in result.output


def test_run_ipv6_and_env_port(runner, served):
    result = run(runner, "--app", "cliapp_hello", "run", "--host", "::1",
                 env={"ERLEN_RUN_PORT": "6001"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert served[-1]["port"] == 6001
    assert "http://[::1]:6001" in result.output


def test_run_tls(runner, served, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    result = run(runner, "-A", "cliapp_hello", "run", "--cert", str(cert), "--key",
                 str(key))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert served[-1]["ssl_certfile"] == str(cert)
    assert served[-1]["ssl_keyfile"] == str(key)
    assert "https://127.0.0.1:5000" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cert", "{cert}"], '"--key" is required'),
        (["--key", "{key}"], '"--cert" must also be given'),
        (["--cert", "adhoc", "--key", "{key}"], "'adhoc' certificates are not"),
        (["--cert", "{missing}", "--key", "{key}"], "does not exist"),
        (["--port", "70000"], "70000"),
    ],
)
def test_run_option_errors(runner, served, tmp_path, args, message):
    (tmp_path / "cert.pem").write_text("c")
    (tmp_path / "key.pem").write_text("k")
    paths = {
        "cert": str(tmp_path / "cert.pem"),
        "key": str(tmp_path / "key.pem"),
        "missing": str(tmp_path / "nope.pem"),
    }
    args = [a.format(**paths) for a in args]
    result = run(runner, "--app", "cliapp_hello", "run", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not served


def test_run_reloader_files(runner, served):
    sep = os.pathsep
    result = run(runner, "--app", "cliapp_hello", "run",
                 "--extra-files", f"a.cfg{sep}sub/b.toml{sep}",
                 "--exclude-patterns", f"*.tmp{sep}build/*")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert served[-1]["extra_files"] == [str(APPS / "a.cfg"), str(APPS / "sub/b.toml")]
    assert served[-1]["exclude_patterns"] == ["*.tmp", "build/*"]


def test_run_discovered_app_passes_its_file(runner, served, monkeypatch):
    monkeypatch.chdir(APPS / "appfile_dir")
    result = run(runner, "run")
    assert result.exit_code == 0, result.output
    assert served[-1]["target"] == "app.py"
    assert " * Serving erlen app 'appfile_dir_app'" in result.output


def test_run_app_import_error(runner, served):
    result = run(runner, "--app", "cliapp_broken", "run")
    assert result.exit_code == 1
    assert "settings file is corrupt" in result.output
    assert not served
