"""The app the gunicorn integration test serves."""

import hashlib
import time

from erlen import Erlen, request

app = Erlen(__name__)


@app.route("/")
def index():
    return "hello"


@app.route("/json/<int:n>")
def as_json(n):
    return {"n": n, "q": request.args.get("q")}


@app.route("/stream")
def stream():
    def gen():
        for i in range(5):
            yield f"chunk {i}\n"
            time.sleep(0.05)

    return gen()


@app.route("/upload", methods=["POST"])
def upload():
    # Read the body as a stream: memory stays bounded whatever its size.
    digest = hashlib.sha256()
    total = 0
    while chunk := request.stream.read(1 << 16):
        digest.update(chunk)
        total += len(chunk)
    return {"size": total, "sha256": digest.hexdigest()}


@app.route("/form", methods=["POST"])
def form():
    f = request.files["file"]
    digest = hashlib.sha256()
    while chunk := f.stream.read(1 << 16):
        digest.update(chunk)
    return {"name": f.filename, "sha256": digest.hexdigest(), "x": request.form["x"]}


@app.route("/rss")
def rss():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return {"hwm_kb": int(line.split()[1])}
    return {"hwm_kb": None}
