"""A small shop app using every web feature together (see test_webapp.py)."""

from __future__ import annotations

import os
from functools import wraps

from erlen import (
    Blueprint,
    Erlen,
    abort,
    flash,
    g,
    get_flashed_messages,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from erlen.views import MethodView

HERE = os.path.dirname(__file__)

shop = Blueprint(
    "shop",
    __name__,
    url_prefix="/shop",
    static_folder="shop_static",
    template_folder="templates",
)
api = Blueprint("api", __name__, url_prefix="/api")

ITEMS: dict[int, dict] = {}


def login_required(view):
    @wraps(view)
    def wrapped(**kwargs):
        if "user" not in session:
            flash("Please log in first.", "error")
            return redirect(url_for("login", next=request.path))
        return view(**kwargs)

    return wrapped


@shop.context_processor
def shop_globals():
    return {"shop_name": "The Erlen Shop"}


@shop.app_template_filter("money")
def money(cents):
    return f"{cents / 100:.2f} €"


@shop.before_request
def load_cart():
    g.cart = session.get("cart", [])


@shop.route("/")
def index():
    return render_template("shop/index.html", items=sorted(ITEMS.items()))


@shop.post("/cart/<int:item_id>")
@login_required
def add_to_cart(item_id):
    if item_id not in ITEMS:
        abort(404)
    session["cart"] = [*g.cart, item_id]
    flash(f"Added {ITEMS[item_id]['name']}.")
    return redirect(url_for(".index"))


class ItemAPI(MethodView):
    def get(self, item_id=None):
        if item_id is None:
            return jsonify([{"id": k, **v} for k, v in sorted(ITEMS.items())])
        if item_id not in ITEMS:
            abort(404)
        return {"id": item_id, **ITEMS[item_id]}

    def post(self):
        data = request.get_json()
        if not isinstance(data, dict) or not data.get("name"):
            return {"error": "name is required"}, 400
        item_id = max(ITEMS, default=0) + 1
        ITEMS[item_id] = {"name": data["name"], "price": int(data.get("price", 0))}
        return (
            {"id": item_id, **ITEMS[item_id]},
            201,
            {"Location": url_for("api.item", item_id=item_id, _method="GET")},
        )

    def delete(self, item_id):
        if ITEMS.pop(item_id, None) is None:
            abort(404)
        return "", 204


item_view = ItemAPI.as_view("item")
api.add_url_rule("/items", view_func=item_view, methods=["GET", "POST"])
api.add_url_rule("/items/<int:item_id>", view_func=item_view, methods=["GET", "DELETE"])


@api.errorhandler(404)
def api_not_found(e):
    return {"error": "not found"}, 404


def create_app(config=None, app_class=Erlen):
    app = app_class(__name__, root_path=HERE)
    app.config.update(SECRET_KEY="webapp secret", TESTING=True)
    if config:
        app.config.update(config)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            session.clear()
            session["user"] = request.form["user"]
            flash("Welcome!", "success")
            return redirect(request.args.get("next") or url_for("shop.index"))
        return render_template(
            "login.html", messages=get_flashed_messages(with_categories=True)
        )

    app.register_blueprint(shop)
    app.register_blueprint(api)
    return app
