"""Imports a module that does not exist."""

import erlen_missing_dependency_xyz  # noqa: F401
