"""A create_app that cannot be called without arguments."""

from erlen import Erlen


def create_app(config_name):
    return Erlen(config_name)
