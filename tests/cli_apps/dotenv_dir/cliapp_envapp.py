import os

import click

from erlen import Erlen

app = Erlen("cliapp_envapp")


@app.cli.command("printenv")
@click.argument("names", nargs=-1)
def printenv(names):
    for name in names:
        click.echo(f"{name}={os.environ.get(name)}")
