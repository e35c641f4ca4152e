"""Copied to a temporary folder and edited while the dev server runs."""

import os

from erlen import Erlen, render_template

app = Erlen(__name__)

with open(os.path.join(app.root_path, "settings.txt"), encoding="utf-8") as f:
    SETTING = f.read().strip()


@app.route("/")
def index():
    return "v1"


@app.route("/page")
def page():
    return render_template("page.html")


@app.route("/setting")
def setting():
    return SETTING
