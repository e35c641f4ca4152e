"""One app using the web features together: blueprints with templates and static
files, sessions, flash, a MethodView JSON API — driven through the test client
under every protocol the suite knows."""

from __future__ import annotations

import pytest
import webapp


@pytest.fixture
def shop_client(app):
    # The shared `app` fixture's class carries the protocol variant under test.
    webapp.ITEMS.clear()
    return webapp.create_app(app_class=type(app)).test_client()


def test_api_crud_and_errors(shop_client):
    assert shop_client.get("/api/items").json == []
    rv = shop_client.post("/api/items", json={"name": "Kettle", "price": 2599})
    assert rv.status_code == 201
    assert rv.json == {"id": 1, "name": "Kettle", "price": 2599}
    assert rv.headers["Location"] == "/api/items/1"
    assert shop_client.get("/api/items/1").json["name"] == "Kettle"
    assert shop_client.post("/api/items", json={}).status_code == 400
    rv = shop_client.post("/api/items", data="{nope", content_type="application/json")
    assert rv.status_code == 400
    assert shop_client.post("/api/items", data="x").status_code == 415
    assert shop_client.get("/api/items/9").json == {"error": "not found"}
    assert shop_client.delete("/api/items/1").status_code == 204
    assert shop_client.delete("/api/items/1").status_code == 404
    assert shop_client.put("/api/items/1").status_code == 405


def test_pages_templates_static_and_blueprint_context(shop_client):
    shop_client.post("/api/items", json={"name": "<Cup>", "price": 450})
    page = shop_client.get("/shop/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<title>The Erlen Shop</title>" in html
    assert "&lt;Cup&gt; — 4.50 €" in html  # autoescape + app-wide filter + macro
    assert '"\\u003cCup\\u003e"' in html  # tojson safe inside <script>
    assert 'href="/static/site.css"' in html
    assert 'href="/shop/shop_static/shop.css"' in html
    assert "user: guest" in html
    assert "Vary" not in page.headers or "Cookie" in page.headers["Vary"]
    assert shop_client.get("/static/site.css").data.startswith(b"body")
    assert shop_client.get("/shop/shop_static/shop.css").mimetype == "text/css"
    assert shop_client.get("/shop/shop_static/../__init__.py").status_code == 404
    # The blueprint's context processor is not applied to app pages.
    assert "<title>Erlen</title>" in shop_client.get("/login").get_data(as_text=True)


def test_login_flow_session_and_flash(shop_client):
    shop_client.post("/api/items", json={"name": "Tea", "price": 300})
    rv = shop_client.post("/shop/cart/1")
    assert rv.status_code == 302
    assert rv.location == "/login?next=/shop/cart/1"
    login_page = shop_client.get("/login").get_data(as_text=True)
    assert '<p class="error">Please log in first.</p>' in login_page

    rv = shop_client.post("/login?next=/shop/", data={"user": "ada"})
    assert rv.location == "/shop/"
    rv = shop_client.post("/shop/cart/1", follow_redirects=True)
    html = rv.get_data(as_text=True)
    assert "Cart: 1" in html and "user: ada" in html
    assert '<p class="flash">Welcome!</p>' in html
    assert '<p class="flash">Added Tea.</p>' in html
    # Flashes are shown once.
    assert "Added Tea." not in shop_client.get("/shop/").get_data(as_text=True)
    with shop_client.session_transaction() as sess:
        assert sess["user"] == "ada"
        assert sess["cart"] == [1]
    assert shop_client.post("/shop/cart/99").status_code == 404


def test_login_clears_a_fixated_session(shop_client):
    with shop_client.session_transaction() as sess:
        sess["planted"] = "by attacker"
    shop_client.post("/login", data={"user": "ada"})
    with shop_client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["user"] == "ada"
