"""Login page, throttling, password change, tokens through the API and the page."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from civicgrid.people.models import ApiToken
from civicgrid.testing import PASSWORD


def test_login_page_is_chinese(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    assert "登录" in response.content.decode()
    assert response.headers["Content-Language"] == "zh-hans"


def test_login_reaches_desk_and_logout(client, world):
    response = client.post("/login/", {"username": "staff_a1", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/desk/"
    desk = client.get("/desk/")
    assert "社区工作者" in desk.content.decode() and "甲一社区" in desk.content.decode()
    client.post("/logout/")
    assert client.get("/desk/").status_code == 302


def test_login_refuses_offsite_next(client, world):
    response = client.post(
        "/login/?next=https://evil.example/", {"username": "staff_a1", "password": PASSWORD}
    )
    assert response.url == "/desk/"


def test_wrong_password_then_throttled(client, world, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        response = client.post("/login/", {"username": "staff_a1", "password": "wrong"})
        assert response.status_code == 401
        assert "用户名或密码错误" in response.content.decode()
    # Even the right password waits now.
    locked = client.post("/login/", {"username": "staff_a1", "password": PASSWORD})
    assert locked.status_code == 429 and "登录失败次数过多" in locked.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.LOGIN_LOCK_SECONDS + 1)):
        assert client.post("/login/", {"username": "staff_a1", "password": PASSWORD}).status_code == 302


def test_an_address_waits_only_after_its_own_higher_limit(client, world, settings):
    # Colleagues behind one gateway: a few mistakes on one account do not lock the others out.
    settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_ADDRESS_FAILURE_LIMIT = 2, 4
    for _ in range(2):
        assert client.post("/login/", {"username": "staff_a1", "password": "wrong"}).status_code == 401
    assert client.post("/login/", {"username": "staff_a1", "password": PASSWORD}).status_code == 429
    assert client.post("/login/", {"username": "grid_a1", "password": PASSWORD}).status_code == 302
    # One machine guessing across accounts is stopped at the address's limit.
    client.post("/logout/")
    for name in ["dispatcher_a", "handler_cg"]:
        assert client.post("/login/", {"username": name, "password": "wrong"}).status_code == 401
    assert client.post("/login/", {"username": "resident", "password": PASSWORD}).status_code == 429


def test_api_token_throttled_too(client, world, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    for _ in range(2):
        r = client.post(
            "/api/v1/auth/token", {"username": "grid_a1", "password": "x"}, content_type="application/json"
        )
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = client.post(
        "/api/v1/auth/token", {"username": "grid_a1", "password": PASSWORD}, content_type="application/json"
    )
    assert r.status_code == 429 and r.json()["error"]["code"] == "throttled"


def test_password_change(client, world):
    client.force_login(world.users["staff_a1"])
    bad = client.post(
        "/password/", {"old_password": PASSWORD, "new_password": "123", "new_password_again": "123"}
    )
    assert bad.status_code == 422
    assert world.users["staff_a1"].__class__.objects.get(username="staff_a1").check_password(PASSWORD)
    wrong_old = client.post(
        "/password/",
        {
            "old_password": "nope",
            "new_password": "Gr1d-worker-2026!",
            "new_password_again": "Gr1d-worker-2026!",
        },
    )
    assert wrong_old.status_code == 422 and "原密码不正确" in wrong_old.content.decode()
    ok = client.post(
        "/password/",
        {
            "old_password": PASSWORD,
            "new_password": "Gr1d-worker-2026!",
            "new_password_again": "Gr1d-worker-2026!",
        },
    )
    assert ok.status_code == 302
    assert client.get("/desk/").status_code == 200  # the session survives the change


def test_token_issue_use_list_revoke(client, world):
    r = client.post(
        "/api/v1/auth/token", {"username": "staff_a1", "password": PASSWORD}, content_type="application/json"
    )
    assert r.status_code == 200
    token = r.json()["token"]
    assert not ApiToken.objects.filter(digest=token).exists()  # only the hash is stored
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["username"] == "staff_a1" and me["roles"] == ["community_staff"]
    assert me["units"][0]["unit_name"] == "甲一社区"
    rows = client.get("/api/v1/auth/tokens", headers=headers).json()
    assert len(rows) == 1 and token.startswith(rows[0]["prefix"])
    assert rows[0]["created_at"].endswith("Z")  # every moment of the API in UTC, as docs/api.md says
    revoked = client.delete(f"/api/v1/auth/tokens/{rows[0]['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_token_notes_its_use_at_most_once_a_minute_and_inactive_users_are_refused(client, world):
    from civicgrid.people.actions import create_token

    row, token = create_token(world.users["staff_a1"], name="phone")
    headers = {"Authorization": f"Bearer {token}"}
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    row.refresh_from_db()
    assert row.last_used_at == start
    with time_machine.travel(start + timedelta(seconds=50), tick=False):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    row.refresh_from_db()
    assert row.last_used_at == start  # not rewritten within the minute
    later = start + timedelta(seconds=70)
    with time_machine.travel(later, tick=False):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    row.refresh_from_db()
    assert row.last_used_at == later
    world.users["staff_a1"].is_active = False
    world.users["staff_a1"].save(update_fields=["is_active"])
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_cannot_revoke_someone_elses_token(client, world):
    other, _ = ApiToken.objects.get_or_create(user=world.users["staff_a2"], prefix="cg_x", digest="0" * 64)
    response = client.delete(f"/api/v1/auth/tokens/{other.pk}", headers=world.bearer("staff_a1"))
    assert response.status_code == 404
    client.force_login(world.users["staff_a1"])
    assert client.post(f"/tokens/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_tokens_page_shows_new_token_once(client, world):
    client.force_login(world.users["grid_a1"])
    page = client.post("/tokens/", {"name": "手机"}).content.decode()
    assert "只显示这一次" in page and "cg_" in page
    again = client.get("/tokens/").content.decode()
    assert "只显示这一次" not in again and "手机" in again


def test_api_requires_token(client, db):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "unauthorized", "message": "未登录或令牌无效", "details": None}
    }
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer cg_forged"}).status_code == 401


def test_login_page_in_english(client, db):
    client.cookies["django_language"] = "en"
    page = client.get("/login/", headers={"Accept-Language": "en"}).content.decode()
    assert "User name" in page and "Password" in page
