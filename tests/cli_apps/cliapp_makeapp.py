"""Only a make_app factory."""

from erlen import Erlen


def make_app():
    return Erlen("cliapp_makeapp_made")
