"""No app at all."""

VALUE = 1
