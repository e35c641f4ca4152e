"""Factories: create_app (found automatically), one with arguments, broken ones."""

from erlen import Erlen

not_an_app = 42


def create_app(name="cliapp_factory_default"):
    return Erlen(name)


def make_other(prefix, *, suffix=""):
    return Erlen(f"{prefix}{suffix}")


def broken_factory():
    raise RuntimeError("the factory exploded")


def returns_none():
    return None
