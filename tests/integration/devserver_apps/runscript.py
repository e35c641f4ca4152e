"""A script that serves itself with app.run(); the tests copy and edit it."""

import sys

from erlen import Erlen

app = Erlen(__name__)


@app.route("/")
def index():
    return f"script v1 {app.name} debug={app.debug}"


if __name__ == "__main__":
    app.run(port=int(sys.argv[1]), debug=sys.argv[2] == "debug")
