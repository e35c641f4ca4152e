"""An app module that calls app.run() when imported, as a careless script would."""

from erlen import Erlen

app = Erlen(__name__)


@app.route("/")
def index():
    return "served by the production server"


app.run(port=1)  # must do nothing (with a warning) under gunicorn
