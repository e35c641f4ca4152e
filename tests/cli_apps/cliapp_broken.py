"""Raises while being imported, from a function of its own."""


def load_settings():
    raise RuntimeError("settings file is corrupt")


load_settings()
