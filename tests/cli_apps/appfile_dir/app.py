from erlen import Erlen

app = Erlen("appfile_dir_app")


@app.route("/")
def index():
    return "appfile"
