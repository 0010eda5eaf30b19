"""A NUL character anywhere in a request is refused whole, in the form its caller reads.

PostgreSQL cannot hold U+0000 in text: before the refusal these requests answered 500 there."""

import pytest

from civicgrid.cases.models import Case
from civicgrid.people.models import LoginThrottle

pytestmark = pytest.mark.django_db
NUL_MESSAGE = "请求中含有空字符（NUL），请删除后重试"


def refused_by_the_api(response, field):
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["message"] == NUL_MESSAGE
    assert error["details"][0]["field"] == field


def test_the_api_refuses_nul_in_the_body_query_and_path_and_writes_nothing(client, world):
    headers = world.bearer("staff_a1")
    before = Case.objects.count()
    response = client.post(
        "/api/v1/cases", {"description": "路灯\u0000坏了"}, content_type="application/json", headers=headers
    )
    refused_by_the_api(response, "body")
    assert Case.objects.count() == before
    refused_by_the_api(client.get("/api/v1/cases?unit=%00", headers=headers), "unit")
    refused_by_the_api(client.get("/api/v1/cases/CG%00/", headers=headers), "path")
    english = client.get("/api/v1/cases?q=%00", headers={**headers, "Accept-Language": "en"}).json()
    assert english["error"]["message"] == "The request contains a NUL character; remove it and try again"
    # Signing in too (it looked the name up before it checked anything).
    response = client.post("/api/v1/auth/token", {"username": "a\u0000", "password": "x"}, "application/json")
    refused_by_the_api(response, "body")


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(client, world):
    # The JSON string "\\u0000" is six characters, a backslash first: stored as they are.
    body = '{"description": "路灯 \\\\u0000 坏了"}'
    response = client.post(
        "/api/v1/cases", body, content_type="application/json", headers=world.bearer("staff_a1")
    )
    assert response.status_code == 201, response.content
    assert Case.objects.get(number=response.json()["number"]).description == "路灯 \\u0000 坏了"


def test_open311_answers_in_its_own_error_format(client, world):
    response = client.get("/open311/v2/requests.json?service_code=%00")
    assert response.status_code == 400 and response.json() == [{"code": 400, "description": NUL_MESSAGE}]
    response = client.post("/open311/v2/requests.xml", {"api_key": "k", "description": "x\u0000"})
    assert response.status_code == 400 and b"<code>400</code>" in response.content


def test_pages_answer_with_a_page_and_scripts_with_the_error_shape(client, world):
    page = client.get("/cases/CG%00/", headers={"Accept": "text/html"})
    assert page.status_code == 400 and NUL_MESSAGE in page.content.decode()
    login = client.post(
        "/login/", {"username": "staff_a1\u0000", "password": "x"}, headers={"Accept": "text/html"}
    )
    assert login.status_code == 400 and not LoginThrottle.objects.exists()  # refused before the view
    # The report page posts with fetch and reads JSON back, whatever went wrong.
    refused_by_the_api(client.post("/report/submit", {"description": "井盖\u0000丢了"}), "description")
