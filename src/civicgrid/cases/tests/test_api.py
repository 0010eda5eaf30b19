"""Input validation, unknown actions, categories, channels and the OpenAPI document."""

import pytest

from civicgrid.cases.models import Case, Category
from civicgrid.cases.tests.factories import IN_GRID_A1, case_in_state


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "description"),
        ({"description": ""}, "description"),
        ({"description": "x", "urgency": "very"}, "urgency"),
        ({"description": "x", "type": "rant"}, "type"),
        ({"description": "x", "lat": 91, "lng": 104}, "lat"),
        ({"description": "x", "coord": "bd09"}, "coord"),
        ({"description": "x", "channel": "fax"}, "channel"),
        ({"description": "x", "category": "NOPE"}, "category"),
    ],
)
def test_malformed_create_names_the_field(api, world, cats, body, field):
    status, data = api.post("staff_a1", "/cases", body)
    assert status == 422, data
    assert data["error"]["code"] == "invalid_input"
    assert any(d["field"].split(".")[-1] == field for d in data["error"]["details"]), data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("dispatch", {}, "lead_unit"),
        ("dispatch", {"lead_unit": "NOPE"}, "lead_unit"),
        ("return", {"reason_code": "lazy"}, "reason_code"),
        ("request_extension", {"working_days": 0, "reason": "x"}, "working_days"),
        ("request_extension", {"working_days": "two", "reason": "x"}, "working_days"),
        ("rate", {"satisfaction": "meh", "resolved": True}, "satisfaction"),
        ("recheck", {}, "passed"),
        ("reject", {"reason": ""}, "reason"),
        ("arrive", {"lat": 25.7}, "lng"),
        ("feedback", {"result": "x", "photo_ids": [10**20]}, "photo_ids.0"),
    ],
)
def test_malformed_action_bodies_name_the_field(api, world, cats, action, body, field):
    case = case_in_state(world, "registered")
    status, data = api.act("dispatcher_a", case.number, action, body)
    assert status == 422, data
    assert any(f".{d['field']}".endswith(f".{field}") for d in data["error"]["details"]), data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "who", "action", "body", "field"),
    [
        ("registered", "dispatcher_a", "reject", {"reason": "   "}, "reason"),
        ("fed_back", "grid_a1", "recheck", {"passed": False, "note": " \n "}, "note"),
        ("signed", "handler_cg", "request_extension", {"working_days": 2, "reason": "  "}, "reason"),
        ("signed", "handler_cg", "feedback", {"result": "\t"}, "result"),
        ("signed", "dispatcher_a", "defer", {"reason": " "}, "reason"),
    ],
)
def test_what_an_action_refuses_is_named_as_the_schemas_name_it_and_changes_nothing(
    api, world, cats, state, who, action, body, field
):
    """A reason of blanks is no reason (it would reach the reporter or the unit empty), and an action's
    own 422 lists {"field", "message"} as the request schema's do (docs/api.md)."""
    case = case_in_state(world, state)
    before = api.get(who, f"/cases/{case.number}")[1]
    status, data = api.act(who, case.number, action, body)
    assert status == 422, data
    message = data["error"]["message"]
    assert data["error"]["code"] == "invalid_input" and message
    assert data["error"]["details"] == [{"field": field, "message": message, "problem": "required"}], data
    assert api.get(who, f"/cases/{case.number}")[1] == before


@pytest.mark.django_db
def test_an_actions_refused_value_is_named_with_it(api, world, cats):
    case = case_in_state(world, "registered")
    body = {"lead_unit": "D-CG", "assisting_units": ["D-CG"]}
    status, data = api.act("dispatcher_a", case.number, "dispatch", body)
    assert status == 422, data
    assert data["error"]["details"] == [
        {"field": "assisting_units", "message": "同一单位不能重复派遣", "problem": "D-CG"}
    ], data


@pytest.mark.django_db
def test_dispatch_targets_are_checked(api, world, cats):
    case = case_in_state(world, "registered")
    for target in ["520281002001", world.units["sub_a"].code, "O-A-CJ"]:
        status, data = api.act("dispatcher_a", case.number, "dispatch", {"lead_unit": target})
        if target == "O-A-CJ":
            assert status == 200
        else:
            assert status == 422, (target, data)


@pytest.mark.django_db
def test_unknown_action_is_404(api, world, cats):
    case = case_in_state(world, "registered")
    status, data = api.act("dispatcher_a", case.number, "teleport", {})
    assert status == 404 and data["error"]["details"]["action"] == "teleport"


@pytest.mark.django_db
def test_action_body_may_be_omitted_when_all_fields_are_optional(api, world, cats):
    case = case_in_state(world, "received")
    r = api.client.post(
        f"/api/v1/cases/{case.number}/actions/register",
        "",
        content_type="application/json",
        headers=api.headers("staff_a1"),
    )
    assert r.status_code == 200, r.content


@pytest.mark.django_db
def test_channel_rules(api, world, cats):
    status, data = api.post(
        "resident", "/cases", {"description": "x", "channel": "hotline_12345", **IN_GRID_A1}
    )
    assert status == 403
    status, data = api.post("staff_a1", "/cases", {"description": "x", "channel": "hotline_12345"})
    assert status == 201 and data["channel"] == "hotline_12345"


@pytest.mark.django_db
def test_gcj02_input_is_stored_as_wgs84(api, world, cats):
    from civicgrid.core.coords import wgs84_to_gcj02

    lat, lng = wgs84_to_gcj02(IN_GRID_A1["lat"], IN_GRID_A1["lng"])
    status, data = api.post(
        "staff_a1", "/cases", {"description": "x", "lat": lat, "lng": lng, "coord": "gcj02"}
    )
    assert status == 201
    assert abs(data["lat"] - IN_GRID_A1["lat"]) < 1e-5 and abs(data["lng"] - IN_GRID_A1["lng"]) < 1e-5
    assert data["territory"]["code"] == world.units["grid_a1"].code


@pytest.mark.django_db
def test_categories(api, world, cats):
    status, data = api.get("staff_a1", "/categories")
    codes = {c["code"]: c for c in data}
    assert status == 200 and "NB01" in codes
    assert codes["CS01"]["parent"] == "CS" and codes["CS01"]["default_lead_unit"] == "D-CG"
    assert codes["SD01"]["handle_limit_unit"] == "clock_hours"
    defaults = {
        "sign_limit_hours": 1,
        "urgent_sign_limit_minutes": 30,
        "answer_limit_hours": 2,
        "recheck_limit_days": 1,
        "rating_window_days": 7,
    }
    assert {k: codes["CS01"][k] for k in defaults} == defaults
    Category.objects.filter(code="CS01").update(sign_limit_hours=4, rating_window_days=10)
    shown = {c["code"]: c for c in api.get("staff_a1", "/categories")[1]}["CS01"]
    assert {k: shown[k] for k in defaults} == {**defaults, "sign_limit_hours": 4, "rating_window_days": 10}
    resident = {c["code"] for c in api.get("resident", "/categories")[1]}
    assert "NB01" not in resident and "CS01" in resident


@pytest.mark.django_db
def test_categories_take_the_same_queries_for_few_and_many(api, world, cats):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            status, data = api.get("staff_a1", "/categories")
        assert status == 200
        return len(ctx.captured_queries), len(data)

    cost()  # the token's first use
    few = cost()
    parent = Category.objects.get(code="CS")
    for i in range(20):
        Category.objects.create(
            code=f"CS9{i:02d}", name=f"分类{i}", parent=parent, default_lead_unit=world.units["dept_sc"]
        )
    many = cost()
    assert many[1] == few[1] + 20 and many[0] == few[0]


@pytest.mark.django_db
def test_openapi_lists_each_action_with_its_body(client):
    schema = client.get("/api/v1/openapi.json").json()
    dispatch = schema["paths"]["/api/v1/cases/{number}/actions/dispatch"]["post"]
    assert "requestBody" in dispatch
    assert "/api/v1/cases/{number}/actions/{action}" not in schema["paths"]


@pytest.mark.django_db
def test_unauthenticated_is_401(client, world, cats):
    assert client.get("/api/v1/cases").status_code == 401


@pytest.mark.django_db
def test_error_messages_follow_the_language(api, world, cats):
    """`error.message` follows the request's language (Chinese without one), as a field's message in
    `details` does; the rest of `details` keeps its codes."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    def upload(**headers):
        r = api.client.post(
            f"/api/v1/cases/{case.number}/photos",
            {"photos": [SimpleUploadedFile("notes.txt", b"not an image")]},
            headers={**api.headers("staff_a1"), **headers},
        )
        return r.status_code, r.json()

    case = case_in_state(world, "dispatched")
    en = {"Accept-Language": "en"}
    calls = {
        409: lambda **h: api.post(
            "dispatcher_a",
            f"/cases/{case.number}/actions/dispatch",
            {"lead_unit": world.units["dept_cg"].code},
            **h,
        ),
        403: lambda **h: api.post(
            "resident", "/cases", {"description": "x", "channel": "hotline_12345", **IN_GRID_A1}, **h
        ),
        422: upload,
    }
    english = {
        409: "This case cannot be dispatched now",
        403: "You may not file through this channel",
        422: "The file “notes.txt” is not a valid image; only JPEG, PNG and WebP are accepted",
    }
    chinese = {
        409: "该工单当前不能派遣",
        403: "无权以该渠道提交",
        422: "文件“notes.txt”不是有效的图片，只接受 JPEG、PNG、WebP 格式",
    }
    for status, call in calls.items():
        got, data = call(**en)
        assert got == status, data
        assert data["error"]["message"] == english[status]
        got, plain = call()
        assert got == status, plain
        assert plain["error"]["message"] == chinese[status]
        if status == 409:  # `status_name` is the status's display name, in the request's language too
            assert plain["error"]["details"].pop("status_name") == "已派遣"
            assert data["error"]["details"].pop("status_name") == "Dispatched"
        if status == 422:  # a field's message follows the language; its field and problem do not
            assert [d.pop("message") for d in plain["error"]["details"]] == [chinese[422]]
            assert [d.pop("message") for d in data["error"]["details"]] == [english[422]]
        assert plain["error"]["details"] == data["error"]["details"]
        assert plain["error"]["code"] == data["error"]["code"]
    status, data = api.post("dispatcher_a", "/cases", {"description": "x", "urgency": "very"}, **en)
    assert status == 422 and data["error"]["message"] == "Invalid request parameters"


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["received", "pending", "closed"])
def test_a_case_is_rendered_as_the_schema_would_render_it(api, world, cats, state):
    """Step replies and the case read skip re-validating case_detail against CaseOut (for speed): the
    bytes must equal what the validated rendering gives, field for field."""
    import json

    from civicgrid.cases import schemas
    from civicgrid.cases.queries import get_case_for
    from civicgrid.cases.tests.test_photos import png, upload
    from civicgrid.core.rendering import ApiJSONEncoder

    case = case_in_state(world, state)
    if state != "closed":  # no photos are added to a closed case
        assert upload(api, "staff_a1", case.number, [("a.png", png())])[0] == 201
    for who in ["staff_a1", "dispatcher_a", "handler_cg"]:
        if state == "received" and who == "handler_cg":
            continue  # not assigned yet: out of the department's sight
        user = world.users[who]
        data = schemas.case_detail(get_case_for(user, case.number), user)
        validated = schemas.CaseOut.model_validate(data).model_dump()
        assert json.dumps(data, cls=ApiJSONEncoder) == json.dumps(validated, cls=ApiJSONEncoder)
        status, body = api.get(who, f"/cases/{case.number}")
        assert status == 200 and body == json.loads(json.dumps(validated, cls=ApiJSONEncoder))
    assert data["timeline"] and (data["photos"] or state == "closed")
    if state == "pending":
        assert data["pending_extension"] and data["assisting_units"]


@pytest.mark.django_db
def test_every_step_reply_equals_the_case_read_after_it(api, world, cats):
    """A step reply is built from what the step held (its assignments, whether the case has photos or
    a pending extension request) rather than read again: it must equal a fresh read, step after step."""
    from civicgrid.cases.models import ExtensionRequest, ExtensionStatus
    from civicgrid.cases.tests.test_photos import png, upload

    def step(who, action, body=None):
        status, reply = api.act(who, number, action, body or {})
        assert status == 200, reply
        assert reply == api.get(who, f"/cases/{number}")[1], action
        return reply

    status, created = api.post(
        "staff_a1", "/cases", {"description": "路灯不亮", "category": "CS01", **IN_GRID_A1}
    )
    number = created["number"]
    assert status == 201 and created == api.get("staff_a1", f"/cases/{number}")[1]
    assert created["photos"] == [] and [s["action"] for s in created["timeline"]] == ["create"]
    step("staff_a1", "register")
    reply = step("dispatcher_a", "dispatch", {"lead_unit": "D-CG", "assisting_units": ["D-SC"]})
    assert [a["unit"]["code"] for a in reply["assignments"]] == ["D-CG", "D-SC"]
    assert upload(api, "staff_a1", number, [("a.png", png())])[0] == 201
    assert step("handler_sc", "sign")["photos"]  # the photo uploaded after the last step
    assert [bool(a["signed_at"]) for a in step("handler_cg", "sign")["assignments"]] == [True, True]
    assert step("handler_cg", "request_extension", {"working_days": 2, "reason": "需采购灯具"})[
        "pending_extension"
    ]
    assert step("dispatcher_a", "deny_extension", {"reason": "时限内可办结"})["pending_extension"] is None
    assert step("handler_cg", "request_extension", {"working_days": 1, "reason": "等待配件"})[
        "pending_extension"
    ]
    assert step("handler_cg", "feedback", {"result": "已更换灯泡"})["pending_extension"] is None
    assert ExtensionRequest.objects.filter(case__number=number, status=ExtensionStatus.PENDING).count() == 0
    assert step("grid_a1", "recheck", {"passed": False, "note": "仍不亮"})["status"] == "signed"
    step("handler_cg", "return", {"reason_code": "not_our_duty", "note": "应由市场监管处理"})
    reply = step("dispatcher_a", "dispatch", {"lead_unit": "D-SC"})  # a new round retires the old units
    assert [a["unit"]["code"] for a in reply["assignments"]] == ["D-SC"] and reply["assisting_units"] == []


@pytest.mark.django_db
def test_reading_a_case_costs_four_statements_however_long_its_story(api, world, cats):
    """The token, the case with its category, units, assignments and timeline (one written-out read),
    the assisting unit (the lead's came with the case) and the reader's memberships; the photos only
    when the case has some."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from civicgrid.cases.tests.test_photos import png, upload

    def statements(number: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            status, body = api.get("dispatcher_a", f"/cases/{number}")
        assert status == 200 and body["number"] == number
        return len(ctx.captured_queries)

    young, old = case_in_state(world, "dispatched"), case_in_state(world, "closed")
    api.get("dispatcher_a", f"/cases/{young.number}")  # the first call makes the token
    assert len(api.get("dispatcher_a", f"/cases/{old.number}")[1]["timeline"]) > 4
    assert statements(young.number) == statements(old.number) == 4
    assert upload(api, "staff_a1", young.number, [("a.png", png())])[0] == 201
    assert statements(young.number) == 5


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_status_name_is_the_status_display_in_the_active_language(language):
    from django.utils import translation

    from civicgrid.cases.models import Case, Status

    with translation.override(language):
        names = {s: Case(status=s).status_name for s in Status.values}
        assert names == {s: Case(status=s).get_status_display() for s in Status.values}
    assert (names["closed"] == "已结案") == (language == "zh-hans")


@pytest.mark.django_db
def test_timeline_actors_a_resident_sees_follow_the_language(api, world, cats):
    status, case = api.post("resident", "/cases", {"description": "楼下路灯坏了", **IN_GRID_A1})
    assert status == 201 and api.act("staff_a1", case["number"], "register")[0] == 200
    path, headers = f"/api/v1/cases/{case['number']}", api.headers("resident")
    for language, staff, registered in [
        ("zh-hans", "工作人员", "立案"),
        ("en", "Staff", None),
        ("zh-hans", "工作人员", "立案"),
    ]:
        timeline = api.client.get(path, headers={**headers, "Accept-Language": language}).json()["timeline"]
        assert [s["action"] for s in timeline] == ["create", "register"] and timeline[-1]["actor"] == staff
        # The step names follow the language too (they are kept per language, not per process).
        name = timeline[-1]["action_name"]
        assert name == registered if registered else name.isascii() and name


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"[]", b'"hello"', b"123", b"null", b"true"])
def test_a_body_that_is_not_an_object_takes_no_step(client, world, cats, body):
    """A step whose fields are all optional read any JSON value as {} (ninja reads a schema's fields
    off any object) and was taken: an urge with `[]` urged."""
    case = case_in_state(world, "signed")
    reply = client.post(
        f"/api/v1/cases/{case.number}/actions/urge",
        body,
        content_type="application/json",
        headers=world.bearer("dispatcher_a"),
    )
    assert reply.status_code == 422
    assert reply.json()["error"]["details"] == [{"field": "body", "message": "请求体应为 JSON 对象"}]
    case.refresh_from_db()
    assert case.urge_count == 0 and not case.steps.filter(action="urge").exists()


@pytest.mark.django_db
def test_a_resident_cannot_file_in_a_category_hidden_from_residents(api, world, cats):
    hidden = cats["hidden"].code
    assert hidden not in {c["code"] for c in api.get("resident", "/categories")[1]}
    before = Case.objects.count()
    status, data = api.post("resident", "/cases", {"description": "内部", "category": hidden, **IN_GRID_A1})
    assert status == 422 and data["error"]["details"][0]["field"] == "category"
    assert data["error"]["message"] == "该分类不受理群众反映" and Case.objects.count() == before
    status, _ = api.post("staff_a1", "/cases", {"description": "内部", "category": hidden, **IN_GRID_A1})
    assert status == 201  # staff file internal matters
