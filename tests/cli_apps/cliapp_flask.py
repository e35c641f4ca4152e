"""A Flask app, not an erlen one."""

import flask

app = flask.Flask(__name__)
