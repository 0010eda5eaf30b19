"""The public report page: filing, photos, retry safety, abuse control, on-behalf and mobile reporters."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from civicgrid.cases.models import Case, CasePhoto, Category, Channel, Status
from civicgrid.core import crypto
from civicgrid.core.models import Unit
from civicgrid.intake import actions
from civicgrid.intake.models import Block, BlockKind, MobileReporterProfile, Submission, Ticket
from civicgrid.intake.tests.conftest import IN_GRID_A1, jpeg
from civicgrid.people.actions import add_membership, create_user
from civicgrid.people.models import Role

PHONE = "13912345678"


def body(**extra):
    data = {
        "description": "小区门口垃圾堆积三天",
        "category": "CS01",
        "attributes": json.dumps({"AMOUNT": "large"}),
        "name": "王小二",
        "phone": PHONE,
        "idempotency_key": "k-1",
        **IN_GRID_A1,
    }
    data.update(extra)
    return data


def post(client, data, photos=()):
    files = [SimpleUploadedFile(f"p{i}.jpg", content, "image/jpeg") for i, content in enumerate(photos)]
    payload = dict(data)
    if files:
        payload["photos"] = files
    return client.post("/report/submit", payload)


@pytest.mark.django_db
def test_page_lists_only_public_categories(client, cats):
    page = client.get("/report/")
    assert page.status_code == 200
    listed = json.loads(page.context["categories"] and json.dumps(page.context["categories"]))
    codes = {c["code"] for c in listed}
    assert codes == {"CS01", "CS02"}  # the parent is picked through its children; NB01 is not public


@pytest.mark.django_db
def test_anonymous_visitor_files_a_report_with_photos(client, cats, world):
    r = post(client, body(), photos=[jpeg(), jpeg(color=(0, 0, 200))])
    assert r.status_code == 201, r.content
    data = r.json()
    case = Case.objects.get(number=data["number"])
    assert case.channel == Channel.RESIDENT and case.status == Status.RECEIVED
    assert case.grid == world.units["grid_a1"]
    assert "【垃圾量】大量" in case.description
    assert crypto.decrypt(case.reporter_phone_enc) == PHONE
    assert case.created_by.username == actions.WEB_ACCOUNT and not case.created_by.is_active
    photos = list(CasePhoto.objects.filter(case=case))
    assert len(photos) == 2
    with Image.open(photos[0].image.path) as image:
        assert not image.getexif()  # EXIF removed
    assert photos[0].thumbnail.name.endswith(".thumb.jpg")
    assert len(data["code"]) == 11 and data["url"].startswith("/track/")
    # The submitting browser may open its case at once (session grant).
    page = client.get(data["url"])
    assert page.status_code == 200 and "已收到" in page.content.decode()
    assert PHONE not in page.content.decode() and "王小二" not in page.content.decode()
    sub = Submission.objects.get(case=case)
    assert sub.ip == "127.0.0.1" and sub.location_source == "" and sub.attributes == {"AMOUNT": "large"}


@pytest.mark.django_db
def test_replay_returns_the_same_case_and_a_different_body_conflicts(client, cats):
    first = post(client, body(), photos=[jpeg()])
    again = post(client, body(), photos=[jpeg()])
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["number"] == first.json()["number"] and again.json()["replayed"]
    assert again.json()["code"] == first.json()["code"]
    assert Case.objects.count() == 1 and CasePhoto.objects.count() == 1
    other = post(client, body(description="别的事"), photos=[jpeg()])
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    other_photo = post(client, body(), photos=[jpeg(color=(1, 2, 3))])
    assert other_photo.status_code == 409
    assert Case.objects.count() == 1


@pytest.mark.django_db
def test_a_bad_photo_saves_nothing(client, cats, settings):
    r = post(client, body(), photos=[jpeg(), b"not an image at all"])
    assert r.status_code == 422
    assert "不是有效的图片" in r.json()["error"]["message"]
    assert Case.objects.count() == 0 and Submission.objects.count() == 0 and Ticket.objects.count() == 0
    media = settings.MEDIA_ROOT
    assert not any(p.is_file() for p in media.rglob("*")) if media.exists() else True


@pytest.mark.django_db
def test_photo_count_limit(client, cats):
    r = post(client, body(), photos=[jpeg()] * 6)
    assert r.status_code == 422 and "5" in r.json()["error"]["message"]
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_validation_messages_are_chinese(client, cats):
    r = post(client, body(category="NB01"))
    assert r.status_code == 422 and r.json()["error"]["message"] == "请选择问题分类"
    r = post(client, body(description=" ", idempotency_key="k-2"))
    assert r.status_code == 422 and r.json()["error"]["message"] == "请描述问题"
    r = post(client, body(attributes="{}", idempotency_key="k-3"))
    assert r.status_code == 422 and "垃圾量" in r.json()["error"]["message"]
    r = post(client, body(lat="", lng="", idempotency_key="k-4"))
    assert r.status_code == 422 and "位置" in r.json()["error"]["message"]
    r = post(client, body(category="CS02", anonymous="1", idempotency_key="k-5"))
    assert r.status_code == 422 and "匿名" in r.json()["error"]["message"]


@pytest.mark.django_db
def test_community_choice_places_a_report_without_a_point(client, cats, world):
    r = post(client, body(lat="", lng="", community="520281001002", address="甲二社区菜市场门口"))
    assert r.status_code == 201, r.content
    case = Case.objects.get(number=r.json()["number"])
    assert case.community == world.units["com_a2"]
    assert Submission.objects.get(case=case).location_source == "address"


@pytest.mark.django_db
def test_gcj02_points_are_converted(client, cats, world):
    from civicgrid.core import coords

    g_lat, g_lng = coords.wgs84_to_gcj02(25.705, 104.405)
    r = post(client, body(lat=str(g_lat), lng=str(g_lng), coord="gcj02"))
    case = Case.objects.get(number=r.json()["number"])
    assert abs(case.lat - 25.705) < 1e-6 and abs(case.lng - 104.405) < 1e-6


@pytest.mark.django_db
def test_anonymous_report_keeps_no_name_or_phone(client, cats):
    r = post(client, body(anonymous="1"))
    case = Case.objects.get(number=r.json()["number"])
    assert case.anonymous and case.reporter_phone_enc == "" and case.reporter_name_enc == ""
    assert Submission.objects.get(case=case).phone_index == ""


@pytest.mark.django_db
def test_honeypot_and_block_list(client, cats):
    r = post(client, body(website="http://spam.example"))
    assert r.status_code == 400 and Case.objects.count() == 0
    Block.objects.create(kind=BlockKind.PHONE, phone_index=crypto.blind_index(PHONE))
    r = post(client, body(idempotency_key="k-9"))
    assert r.status_code == 403 and "限制" in r.json()["error"]["message"]
    Block.objects.all().delete()
    Block.objects.create(kind=BlockKind.IP, network="127.0.0.0/24")
    r = post(client, body(idempotency_key="k-10", phone=""))
    assert r.status_code == 403
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_rate_limits_per_ip_and_per_phone(client, cats, settings):
    settings.CIVICGRID_INTAKE_LIMITS = {"submit_ip": (4, 3600), "submit_phone": (2, 86400)}
    codes = [post(client, body(idempotency_key=f"p{i}")).status_code for i in range(3)]
    assert codes == [201, 201, 429]  # the third is over the phone's limit (2)
    codes = [post(client, body(idempotency_key=f"q{i}", phone="")).status_code for i in range(2)]
    assert codes == [201, 429]  # the address has used 4 of 4 (refused attempts count too)
    # A replay of a filed report is not a new submission: it is answered even when limited.
    assert post(client, body(idempotency_key="p0")).status_code == 200
    assert Case.objects.count() == 3


@pytest.mark.django_db
def test_logged_in_resident_is_the_reporter_and_sees_it_under_my(client, cats, world):
    client.force_login(world.users["resident"])
    r = post(client, body())
    case = Case.objects.get(number=r.json()["number"])
    assert case.reporter_user == world.users["resident"] and case.channel == Channel.RESIDENT
    page = client.get("/my/")
    assert case.number in page.content.decode()
    assert client.get(f"/my/{case.number}/").status_code == 200
    client.force_login(world.users["staff_b1"])
    assert client.get(f"/my/{case.number}/").status_code == 404


@pytest.mark.django_db
def test_household_leader_files_for_a_neighbour(client, cats, world):
    leader = create_user(username="hh_leader", password=None)
    add_membership(leader, world.units["grid_a1"], Role.HOUSEHOLD_LEADER)
    client.force_login(leader)
    r = post(client, body(on_behalf="1", name="邻居老李", phone="13700001111"))
    assert r.status_code == 201, r.content
    case = Case.objects.get(number=r.json()["number"])
    assert case.channel == Channel.HOUSEHOLD_LEADER and case.created_by == leader
    assert crypto.decrypt(case.reporter_name_enc) == "邻居老李"
    sub = Submission.objects.get(case=case)
    assert sub.on_behalf and sub.filer == leader
    # The neighbour follows with the code and the last four digits of their own phone.
    anonymous = client.__class__()
    r2 = anonymous.post("/track/", {"code": r.json()["code"], "digits": "1111"})
    assert r2.status_code == 302
    # A plain resident may not file for others.
    client.force_login(world.users["resident"])
    assert post(client, body(on_behalf="1", idempotency_key="x")).status_code == 403


@pytest.mark.django_db
def test_grid_worker_on_behalf_is_a_patrol_case(client, cats, world):
    client.force_login(world.users["grid_a1"])
    r = post(client, body(on_behalf="1"))
    case = Case.objects.get(number=r.json()["number"])
    assert case.channel == Channel.GRID_PATROL and Submission.objects.get(case=case).on_behalf


@pytest.mark.django_db
def test_mobile_reporter_registers_and_reports_with_the_company(client, cats, world):
    r = client.post(
        "/report/join/",
        {
            "kind": "courier",
            "company": "顺丰速运盘州站",
            "username": "kuaidi1",
            "display_name": "小王",
            "password": "a-long-pass-2026",
        },
    )
    assert r.status_code == 302, r.content.decode()[:500]
    profile = MobileReporterProfile.objects.get(user__username="kuaidi1")
    assert profile.company == "顺丰速运盘州站"
    r = post(client, body())
    case = Case.objects.get(number=r.json()["number"])
    assert case.channel == Channel.MOBILE_REPORTER
    assert Submission.objects.get(case=case).company == "顺丰速运盘州站"
    page = client.get(r.json()["url"]).content.decode()
    assert "流动网格员（顺丰速运盘州站）" in page


@pytest.mark.django_db
def test_heic_is_converted_when_pillow_heif_is_installed(client, cats):
    pillow_heif = pytest.importorskip("pillow_heif")
    import io

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 10)).save(out, format="HEIF")
    r = post(client, body(), photos=[out.getvalue()])
    assert r.status_code == 201, r.content
    assert CasePhoto.objects.get().content_type == "image/jpeg"


@pytest.mark.django_db
def test_report_and_track_pages_in_english(client, cats):
    client.cookies["django_language"] = "en"
    en = {"Accept-Language": "en"}
    report = client.get("/report/", headers=en).content.decode()
    track = client.get("/track/", headers=en).content.decode()
    for text in ["Report a problem", "Use my location", "Contact details (optional)", "Photos (up to 5)"]:
        assert text in report
    for text in ["Track a report", "Tracking code", "Last four digits of the mobile number", "log in"]:
        assert text in track
    data = [*Category.objects.values_list("name", flat=True), "简体中文"]  # the language switch names itself
    for html in (report, track):
        for chinese in ["我要反映", "随手拍", "问题描述", "联系方式", "查询码", "提交", "匿名"]:
            assert chinese not in html
        for text in data:
            html = html.replace(text, "")
        assert not re.findall(r"[\u3400-\u9fff]", html)


def script_json(html: str, element_id: str):
    """The value a page hands its script through `json_script`."""
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert found, element_id
    return json.loads(found.group(1))


@pytest.mark.django_db
def test_report_script_messages_follow_the_language(client, cats):
    """report.js shows only what the page gives it: English under English, the Chinese ids otherwise."""
    chinese = script_json(client.get("/report/").content.decode(), "report-messages")
    client.cookies["django_language"] = "en"
    english_page = client.get("/report/", headers={"Accept-Language": "en"}).content.decode()
    english = script_json(english_page, "report-messages")
    assert english.keys() == chinese.keys()
    assert chinese["chosen"] == "已选：%(category)s"
    assert chinese["pending"] == "%(n)s 条反映尚未发出，联网后将自动提交。"
    assert chinese["submit"] == "提交" and chinese["distance"] == "%(m)s 米"
    assert all(re.search(r"[\u3400-\u9fff]", text) for text in chinese.values())
    assert english["chosen"] == "Chosen: %(category)s" and english["submit"] == "Submit"
    assert english["tooManyPhotos"] == "You can upload at most %(n)s photos"
    assert not [text for text in english.values() if re.search(r"[\u3400-\u9fff]", text)]
    for key, text in chinese.items():  # the script fills the same placeholders in both languages
        assert re.findall(r"%\((\w+)\)s", text) == re.findall(r"%\((\w+)\)s", english[key]), key


def test_page_scripts_carry_no_chinese():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for script in ("intake/static/intake/report.js", "cases/static/cases/desk.js"):
        assert not re.findall(r"[\u3400-\u9fff]", (root / script).read_text(encoding="utf-8")), script


@pytest.mark.django_db
def test_resident_case_page_in_english(client, cats, world):
    """Status, timeline and source of the tracking page (and the submit answer) follow the language."""
    from civicgrid.intake.tests.test_follow import close

    client.cookies["django_language"] = "en"
    en = {"Accept-Language": "en"}
    filed = client.post("/report/submit", body(), headers=en).json()
    assert filed["status"] == "Received; waiting to be accepted"
    page = client.get(filed["url"], headers=en).content.decode()
    for text in ["Received; waiting to be accepted", "We received your report", "Resident request"]:
        assert text in page
    case = close(world, filed["number"])
    page = client.get(filed["url"], headers=en).content.decode()
    for text in [
        '<p class="status-big">Done</p>',
        "We received your report",
        "Accepted",
        "Passed to the handling unit",
        "The handling unit took it on (测试县城市管理局)",
        "Handled (测试县城市管理局)",
        "Rechecked; done",
    ]:
        assert text in page
    for chinese in ["已办结", "已收到您的反映", "已受理", "已转交办理单位", "已核查", "群众点单"]:
        assert chinese not in page
    data = [
        *Unit.objects.values_list("name", flat=True),
        *Category.objects.values_list("name", flat=True),
        *case.description.splitlines(),  # shown with line breaks
        case.address,
        *case.feedback_result.splitlines(),
        "简体中文",
    ]
    for text in sorted({t for t in data if t}, key=len, reverse=True):
        page = page.replace(text, "")
    assert not re.findall(r"[\u3400-\u9fff]", page)
    # The same page in Chinese: the ids, unchanged.
    client.cookies["django_language"] = "zh-hans"
    page = client.get(filed["url"]).content.decode()
    for text in ['<p class="status-big">已办结</p>', "已收到您的反映", "已受理", "已转交办理单位", "核查"]:
        assert text in page


@pytest.mark.django_db
def test_validation_messages_in_english(client, cats):
    """The same checks as above, asked for in English; the values are filled into the English text."""
    en = {"Accept-Language": "en"}
    r = client.post("/report/submit", body(category="NB01"), headers=en)
    assert r.status_code == 422 and r.json()["error"]["message"] == "Please choose a category"
    r = client.post(
        "/report/submit",
        body(description="长" * (actions.MAX_DESCRIPTION + 1), idempotency_key="k-2"),
        headers=en,
    )
    assert r.status_code == 422, r.content
    assert (
        r.json()["error"]["message"]
        == f"Please keep the description within {actions.MAX_DESCRIPTION} characters"
    )
    assert r.json()["error"]["details"] == {"description": "too long"}
    r = client.post("/report/submit", body(attributes="{}", idempotency_key="k-3"), headers=en)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("Please answer: ")
    r = client.post(
        "/report/submit", body(description="长" * (actions.MAX_DESCRIPTION + 1), idempotency_key="k-4")
    )
    assert r.json()["error"]["message"] == f"问题描述请勿超过 {actions.MAX_DESCRIPTION} 字"
