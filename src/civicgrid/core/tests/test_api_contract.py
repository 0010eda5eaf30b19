"""The OpenAPI document is the contract: every operation answers only the statuses it declares, in the
shapes it declares, and never a server error — whoever asks, with whatever body.

Each operation is called without a token, with a body that is not JSON, and as every persona of the
test world with an empty body and with one it accepts, on cases in four states and on a number that
does not exist; the statuses met are checked against the operation's `responses`, and each JSON reply
against the schema declared for its status.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from jsonschema import Draft202012Validator

from civicgrid.cases.models import Case
from civicgrid.cases.tests.factories import case_in_state, make_categories

PERSONAS = [
    "admin",
    "resident",
    "grid_a1",
    "staff_a1",
    "staff_b1",
    "dispatcher_a",
    "dispatcher_b",
    "handler_cg",
    "leader",
    "member_a1",
    "nobody",
]


# A body each operation accepts, so that the probes get past validation to the checks of role, scope
# and state (with an empty body most would stop at 422).
BODIES = {
    "token": {"username": "staff_a1", "password": "wrong-password"},
    "tokens": {"name": "contract"},
    "cases": {"description": "路灯不亮（契约测试）"},
    "reject": {"reason": "不属实"},
    "dispatch": {"lead_unit": "D-CG"},
    "return": {"reason_code": "not_our_duty", "note": "非本单位职责"},
    "request_extension": {"working_days": 2, "reason": "需采购配件"},
    "deny_extension": {"reason": "时限足够"},
    "defer": {"reason": "待汛期后施工"},
    "arrive": {"lat": 25.705, "lng": 104.405},
    "feedback": {"result": "已修复"},
    "recheck": {"passed": True},
    "rate": {"satisfaction": "satisfied", "resolved": True},
    "reopen": {"reason": "问题复发"},
    "merge": {"into": "CG20000101-0001"},
    "recategorize": {"category": "CS02"},
    "dry-run": {"phrase": "路灯", "category": "CS01"},
    "rules": {"phrase": "路灯", "category": "CS01"},
    "read": {"all": True},
}


def _operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


class Contract:
    def __init__(self, client, document: dict):
        self.client, self.document = client, document
        self.met: dict[tuple[str, str], set[int]] = {}

    def call(self, method: str, path: str, operation: dict, headers: dict, body: bytes | None) -> None:
        content = (operation.get("requestBody") or {}).get("content", {})
        kwargs: dict = {"headers": headers}
        if "multipart/form-data" in content:
            kwargs["data"] = {}  # the test client encodes multipart
        elif body is not None and method != "get":
            kwargs.update(data=body, content_type="application/json")
        reply = getattr(self.client, method)(path, **kwargs)
        self.check(method, path, operation, reply)

    def check(self, method: str, path: str, operation: dict, reply) -> None:
        status = reply.status_code
        where = f"{method.upper()} {path} answered {status}: {reply.content[:300]!r}"
        assert status < 500, where
        declared = operation["responses"]
        assert str(status) in declared, f"{where}; declared: {sorted(declared)}"
        self.met.setdefault((method, path), set()).add(status)
        schema = declared[str(status)].get("content", {}).get("application/json", {}).get("schema")
        if schema is not None and reply.get("Content-Type", "").startswith("application/json"):
            validator = Draft202012Validator({**schema, "components": self.document["components"]})
            problems = [e.message for e in validator.iter_errors(json.loads(reply.content))]
            assert not problems, f"{where}: the reply is not as declared: {problems[:3]}"


@pytest.fixture
def contract(client, world):
    make_categories(world)
    return Contract(client, client.get("/api/v1/openapi.json").json())


def _concrete(path: str, number: str) -> str:
    return path.replace("{number}", number).replace("{token_id}", "999999")


def test_every_operation_answers_only_what_it_declares(contract, world):
    numbers = [
        case_in_state(world, state).number for state in ("received", "dispatched", "signed", "fed_back")
    ]
    bearers = {who: world.bearer(who) for who in PERSONAS}
    for method, path, operation in _operations(contract.document):
        body = json.dumps(BODIES.get(path.rstrip("/").rsplit("/", 1)[-1], {})).encode()
        for number in numbers if "{number}" in path else numbers[:1]:
            target = _concrete(path, number)
            if operation.get("security"):
                contract.call(method, target, operation, {}, body)
            if "requestBody" in operation:
                contract.call(method, target, operation, bearers["dispatcher_a"], b'{"note": ')
            for who in PERSONAS:
                contract.call(method, target, operation, bearers[who], b"{}")
                contract.call(method, target, operation, bearers[who], body)
        if "{number}" in path:
            for who in PERSONAS:
                contract.call(method, _concrete(path, "CG20000101-0001"), operation, bearers[who], body)
    # The probes reach the refusals they are meant to: a test that met only 200s would prove little.
    met = set().union(*contract.met.values())
    assert {200, 401, 403, 404, 409, 422} <= met, met


def test_a_body_that_is_not_json_is_invalid_input_naming_the_body(client, world):
    reply = client.post(
        "/api/v1/cases",
        b'{"description": ',
        content_type="application/json",
        headers=world.bearer("staff_a1"),
    )
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"] == "请求体不是有效的 JSON"
    assert error["details"] == [{"field": "body", "message": "请求体不是有效的 JSON"}]
    assert not Case.objects.exists()
    english = client.post(
        "/api/v1/cases",
        b"\xff",
        content_type="application/json",
        headers={**world.bearer("staff_a1"), "Accept-Language": "en"},
    )
    assert (
        english.status_code == 422
        and english.json()["error"]["message"] == "The request body is not valid JSON"
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/nothing-here", 404, "not_found"),
        ("get", "/api/v1/cases/", 404, "not_found"),
        ("get", "/api/v1/cases/CG20000101-0001/actions/register", 405, "method_not_allowed"),
        ("delete", "/api/v1/me/notices", 405, "method_not_allowed"),
    ],
)
def test_unknown_paths_and_methods_answer_in_the_error_shape(client, world, method, path, status, code):
    reply = getattr(client, method)(path, headers=world.bearer("staff_a1"))
    assert reply.status_code == status and reply["Content-Type"].startswith("application/json")
    assert reply.json()["error"]["code"] == code and reply.json()["error"]["message"] in {
        "接口不存在",
        "接口不支持该请求方法",
    }
    if status == 405:
        assert "GET" in reply["Allow"] or "POST" in reply["Allow"]
    # Pages keep their own: a page that does not exist is a page.
    assert client.get("/nothing-here/")["Content-Type"].startswith("text/html")


def test_schema_names_are_unique_so_no_component_hides_another(contract):
    """ninja names each schema's component after its class: two classes of one name would share one
    component, and one of the two operations would be documented with the other's shape."""
    from ninja import Schema

    def subclasses(cls: type) -> Iterator[type]:
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(Schema) if c.__module__.startswith("civicgrid.")]
    names = [c.__name__ for c in ours]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


def test_only_the_statuses_of_the_error_table_can_be_declared():
    from civicgrid.core.errors import ErrorOut, errors

    assert errors(404, 422) == {404: ErrorOut, 422: ErrorOut}
    with pytest.raises(ValueError, match="500"):
        errors(404, 500)
