"""Open311 GeoReport v2: every endpoint in XML and JSON against the standard's field lists and errors."""

import json
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from civicgrid.cases import actions as case_actions
from civicgrid.cases.models import Case, Channel
from civicgrid.core import crypto
from civicgrid.intake import actions
from civicgrid.intake.models import Open311Key, Submission
from civicgrid.intake.tests.test_report import body, post

BASE = "/open311/v2"
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}


@pytest.fixture
def key(db):
    return actions.issue_open311_key(name="测试客户端", key="test-key-1")[1]


def xml(response):
    assert response["Content-Type"].startswith("text/xml"), response["Content-Type"]
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def js(response):
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def new_request(client, key, headers=None, **extra):
    data = {
        "api_key": key,
        "service_code": "CS01",
        "lat": "25.705",
        "long": "104.405",
        "description": "路边垃圾桶满溢",
        "first_name": "三",
        "last_name": "张",
        "phone": "13811112222",
        "email": "zhang@example.com",
        "device_id": "dev-1",
        "account_id": "acct-9",
        "attribute[AMOUNT]": "small",
        **extra,
    }
    return client.post(f"{BASE}/requests.json", data, headers=headers)


@pytest.mark.django_db
def test_discovery(client):
    data = js(client.get(f"{BASE}/discovery.json"))
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(data)
    endpoint = data["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/") and "application/json" in endpoint["formats"]
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery" and root.find("endpoints/endpoint/formats/format") is not None


@pytest.mark.django_db
def test_services_in_both_formats(client, cats):
    data = js(client.get(f"{BASE}/services.json"))
    assert [s["service_code"] for s in data] == ["CS01", "CS02"]  # public leaves only
    garbage = data[0]
    assert set(garbage) == SERVICE_FIELDS
    assert garbage["metadata"] is True and garbage["type"] == "realtime" and garbage["group"] == "市容环境"
    assert data[1]["metadata"] is False
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and {c.tag for c in root.find("service")} == SERVICE_FIELDS
    assert root.find("service/metadata").text == "true"
    # No extension: XML.
    assert xml(client.get(f"{BASE}/services")).tag == "services"


@pytest.mark.django_db
def test_service_definition(client, cats):
    data = js(client.get(f"{BASE}/services/CS01.json"))
    assert data["service_code"] == "CS01"
    attribute = data["attributes"][0]
    assert set(attribute) == ATTRIBUTE_FIELDS and attribute["datatype"] == "singlevaluelist"
    assert attribute["values"] == [{"key": "small", "name": "少量"}, {"key": "large", "name": "大量"}]
    root = xml(client.get(f"{BASE}/services/CS01.xml"))
    assert (
        root.tag == "service_definition"
        and root.find("attributes/attribute/values/value/key").text == "small"
    )
    missing = client.get(f"{BASE}/services/NB01.json")  # not public
    assert missing.status_code == 404 and js(missing)[0]["code"] == 404
    root = xml(client.get(f"{BASE}/services/NOPE.xml"))
    assert (
        root.tag == "errors" and root.find("error/code").text == "404" and root.find("error/description").text
    )


@pytest.mark.django_db
def test_post_creates_a_case_and_get_shows_it_without_the_reporter(client, cats, key, world):
    r = new_request(client, key)
    assert r.status_code == 200, r.content
    reply = js(r)
    assert set(reply[0]) == {"service_request_id", "service_notice", "account_id"}
    number = reply[0]["service_request_id"]
    assert (
        reply[0]["service_notice"] == "环卫部门将在 5 个工作日内清运" and reply[0]["account_id"] == "acct-9"
    )
    case = Case.objects.get(number=number)
    assert case.channel == Channel.RESIDENT and crypto.decrypt(case.reporter_name_enc) == "张三"
    assert case.grid == world.units["grid_a1"] and "【垃圾量】少量" in case.description
    sub = Submission.objects.get(case=case)
    assert (
        sub.source == "open311"
        and sub.device_id == "dev-1"
        and crypto.decrypt(sub.email_enc) == "zhang@example.com"
    )

    detail = js(client.get(f"{BASE}/requests/{number}.json"))
    assert len(detail) == 1 and set(detail[0]) == REQUEST_FIELDS
    item = detail[0]
    assert (
        item["status"] == "open" and item["service_code"] == "CS01" and item["lat"] == pytest.approx(25.705)
    )
    assert item["status_notes"] == "已收到，等待受理"
    english = js(client.get(f"{BASE}/requests/{number}.json", headers={"Accept-Language": "en"}))
    assert english[0]["status_notes"] == "已收到，等待受理"  # the API is not translated
    assert item["requested_datetime"].endswith("+08:00") and "T" in item["requested_datetime"]
    text = json.dumps(detail, ensure_ascii=False)
    for secret in ("张三", "13811112222", "zhang@example.com", "acct-9", "dev-1"):
        assert secret not in text
    root = xml(client.get(f"{BASE}/requests/{number}.xml"))
    assert root.tag == "service_requests" and {c.tag for c in root.find("request")} == REQUEST_FIELDS
    assert b"13811112222" not in client.get(f"{BASE}/requests.xml").content

    token = r["Open311-Token"]
    assert js(client.get(f"{BASE}/tokens/{token}.json")) == [{"service_request_id": number, "token": token}]
    assert xml(client.get(f"{BASE}/tokens/{token}.xml")).find("request/service_request_id").text == number
    assert client.get(f"{BASE}/tokens/nope.json").status_code == 404


@pytest.mark.django_db
def test_post_repeated_within_a_minute_is_the_same_case(client, cats, key):
    first = js(new_request(client, key))[0]["service_request_id"]
    again = js(new_request(client, key))[0]["service_request_id"]
    assert again == first and Case.objects.count() == 1
    other_device = js(new_request(client, key, device_id="dev-2"))[0]["service_request_id"]
    assert other_device != first
    # After a minute the same body is a new report.
    Submission.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert js(new_request(client, key))[0]["service_request_id"] not in (first, other_device)


@pytest.mark.django_db
def test_post_errors(client, cats, key):
    def err(response, status):
        assert response.status_code == status, response.content
        data = js(response)
        assert isinstance(data, list) and data[0]["code"] == status and data[0]["description"]

    err(new_request(client, ""), 400)  # no api_key
    err(new_request(client, "wrong"), 403)
    err(new_request(client, key, service_code=""), 400)
    err(new_request(client, key, service_code="NOPE"), 404)
    err(new_request(client, key, service_code="NB01"), 404)
    err(new_request(client, key, lat="", long=""), 400)  # no location at all
    err(new_request(client, key, lat="abc"), 400)
    err(new_request(client, key, description=""), 400)
    err(new_request(client, key, **{"attribute[AMOUNT]": "huge"}), 400)
    r = client.post(f"{BASE}/requests.xml", {"api_key": "wrong", "service_code": "CS01"})
    assert r.status_code == 403 and xml(r).find("error/code").text == "403"
    revoked = Open311Key.objects.get()
    revoked.revoked_at = timezone.now()
    revoked.save()
    err(new_request(client, key), 403)
    assert Case.objects.count() == 0


@pytest.mark.django_db
def test_post_with_an_address_only(client, cats, key, world):
    r = new_request(client, key, lat="", long="", address_string="甲二社区 菜市场门口")
    number = js(r)[0]["service_request_id"]
    assert Case.objects.get(number=number).community == world.units["com_a2"]
    err = new_request(client, key, lat="", long="", address_string="不知道哪里", device_id="x")
    assert err.status_code == 400


@pytest.mark.django_db
def test_gateway_key_files_as_hotline(client, cats, world):
    row, key = actions.issue_open311_key(name="12345 网关", key="gateway-key")
    Open311Key.objects.filter(pk=row.pk).update(gateway=True, filer=world.users["dispatcher_a"])
    number = js(new_request(client, key))[0]["service_request_id"]
    case = Case.objects.get(number=number)
    assert case.channel == Channel.HOTLINE_12345 and case.created_by == world.users["dispatcher_a"]


@pytest.mark.django_db
def test_get_requests_filters(client, cats, key, world):
    a = js(new_request(client, key))[0]["service_request_id"]
    b = js(new_request(client, key, device_id="d2", service_code="CS02", **{"attribute[AMOUNT]": ""}))[0][
        "service_request_id"
    ]
    hidden = case_actions.create_case(
        by=world.users["staff_a1"], description="内部", category=cats["hidden"], lat=25.705, lng=104.405
    )
    # The case of a public category is closed through the lifecycle.
    u = world.users
    case_actions.register_case(a, by=u["staff_a1"])
    case_actions.dispatch_case(a, by=u["dispatcher_a"], lead_unit=world.units["dept_cg"])
    case_actions.sign_case(a, by=u["handler_cg"])
    case_actions.feedback_case(a, by=u["handler_cg"], result="已清运")
    case_actions.recheck_case(a, by=u["grid_a1"], passed=True)

    def ids(**params):
        return [r["service_request_id"] for r in js(client.get(f"{BASE}/requests.json", params))]

    assert ids() == [b, a] and hidden.number not in ids()
    assert ids(status="open") == [b] and ids(status="closed") == [a] and ids(status="open,closed") == [b, a]
    assert ids(service_code="CS01") == [a]
    assert ids(service_request_id=f"{a},{hidden.number}") == [a]
    assert ids(page_size=1) == [b] and ids(page_size=1, page=2) == [a]
    closed = js(client.get(f"{BASE}/requests/{a}.json"))[0]
    assert closed["status"] == "closed" and closed["status_notes"] == "已清运"
    assert closed["agency_responsible"] == "测试县城市管理局" and closed["expected_datetime"]
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert ids(start_date=future) == []
    old = (timezone.now() - timedelta(days=200)).isoformat()
    assert ids(start_date=old, end_date=(timezone.now() - timedelta(days=150)).isoformat()) == []
    for params in (
        {"status": "pending"},
        {"start_date": "yesterday"},
        {"start_date": old, "end_date": timezone.now().isoformat()},  # more than 90 days
        {"page_size": "1001"},
        {"page": "0"},
    ):
        r = client.get(f"{BASE}/requests.json", params)
        assert r.status_code == 400 and js(r)[0]["code"] == 400, params
    r = client.get(f"{BASE}/requests.xml", {"status": "pending"})
    assert r.status_code == 400 and xml(r).tag == "errors"
    assert client.get(f"{BASE}/requests/{hidden.number}.json").status_code == 404
    assert client.get(f"{BASE}/requests.csv").status_code == 400
    assert client.get(f"{BASE}/nothing-here.json").status_code == 404


@pytest.mark.django_db
def test_web_photos_become_media_url(client, cats, key):
    from civicgrid.intake.tests.conftest import jpeg

    number = post(Client(), body(), photos=[jpeg()]).json()["number"]
    item = js(client.get(f"{BASE}/requests/{number}.json"))[0]
    assert item["media_url"].startswith("http://testserver/photos/cases/") and "&s=" in item["media_url"]


@pytest.mark.django_db
def test_demo_key_is_issued_once(db):
    assert actions.issue_demo_key() == "open311-demo-key"
    actions.issue_demo_key()
    assert Open311Key.objects.count() == 1 and actions.open311_key("open311-demo-key") is not None


@pytest.mark.django_db
def test_errors_are_not_translated(client, cats, key):
    """Errors are translated when raised; Open311 still answers in the message ids, whatever the language."""
    for headers in ({}, {"Accept-Language": "en"}):
        r = new_request(client, key, **{"attribute[AMOUNT]": "huge"}, headers=headers)
        assert r.status_code == 400 and js(r)[0]["description"] == "“垃圾量”的选项无效", r.content


@pytest.mark.django_db
def test_control_characters_in_a_description_leave_the_xml_well_formed(client, cats, key):
    """XML 1.0 cannot hold C0 controls but tab and line breaks; one pasted into a report (a vertical tab
    from a word processor) made every requests.xml listing it unreadable."""
    number = js(new_request(client, key, description="路灯\x0b不亮\x01\n已三天\x1f了"))[0][
        "service_request_id"
    ]
    stored = Case.objects.get(number=number).description
    assert stored.startswith("路灯\x0b不亮\x01\n已三天\x1f了")  # stored as sent
    for path in (f"{BASE}/requests.xml", f"{BASE}/requests/{number}.xml"):
        request = xml(client.get(path)).find("request")
        assert request.findtext("description") == stored.translate({0x0B: None, 0x01: None, 0x1F: None}), path
    assert js(client.get(f"{BASE}/requests/{number}.json"))[0]["description"] == stored
