"""A small demo application for ``make run``: a few routes showing erlen's basics."""

from erlen import Erlen, abort, redirect, request, url_for

app = Erlen(__name__)


@app.route("/")
def index():
    return (
        "<h1>Hello from erlen</h1>"
        f'<p>Try <a href="{url_for("user", uid=7, q="hi")}">a user</a>'
        f' or <a href="{url_for("echo")}?x=1&amp;x=2">an echo</a>.</p>'
    )


@app.route("/user/<int:uid>", methods=["GET", "POST"])
def user(uid):
    return {"id": uid, "q": request.args.get("q")}


@app.get("/echo")
def echo():
    return {
        "args": request.args.to_dict(flat=False),
        "agent": request.user_agent.string,
    }


@app.get("/old")
def old():
    return redirect(url_for("index"))


@app.get("/secret")
def secret():
    abort(403)
