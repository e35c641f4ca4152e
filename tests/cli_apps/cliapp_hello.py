"""A complete app: routes, a shell context, commands, groups and blueprint CLIs."""

import click

from erlen import Blueprint, Erlen, current_app

app = Erlen("cliapp_hello")


@app.route("/")
def index():
    return "index"


@app.route("/users/<int:uid>", methods=["GET", "POST"])
def user(uid):
    return str(uid)


@app.delete("/users/<int:uid>")
def delete_user(uid):
    return ""


@app.route("/about", endpoint="about_page")
def about():
    return "about"


@app.shell_context_processor
def shell_names():
    return {"answer": 42}


@app.cli.command("hello-cmd")
@click.option("--name", default="world")
def hello_cmd(name):
    """Greet, from inside the app context."""
    click.echo(f"hello {name} from {current_app.name}")


@app.cli.command("show-debug")
def show_debug():
    click.echo(f"debug={current_app.debug}")


@app.cli.command("no-context", with_appcontext=False)
def no_context():
    from erlen.globals import _cv_ctx

    click.echo(f"context={_cv_ctx.get(None) is not None}")


@app.cli.group("db")
def db():
    """Database commands."""


@db.command("init")
def db_init():
    click.echo(f"db init in {current_app.name}")


users = Blueprint("users", __name__)


@users.cli.command("create")
@click.argument("name")
def users_create(name):
    click.echo(f"created {name}")


merged = Blueprint("merged", __name__, cli_group=None)


@merged.cli.command("merged-cmd")
def merged_cmd():
    click.echo("merged command")


named = Blueprint("named", __name__, cli_group="admin")


@named.cli.command("purge")
def purge():
    click.echo("purged")


app.register_blueprint(users)
app.register_blueprint(merged)
app.register_blueprint(named)
