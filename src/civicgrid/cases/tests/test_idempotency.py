"""POST /cases with an Idempotency-Key: replays return the first case; races make one case."""

import threading

import pytest
from django.db import close_old_connections, connection

from civicgrid.cases import actions
from civicgrid.cases.models import Case

BODY = {"description": "路面塌陷", "reporter_phone": "13900001111", "lat": 25.705, "lng": 104.405}


@pytest.mark.django_db
def test_same_key_same_body_returns_the_same_case(api, world, cats):
    status, first = api.post("staff_a1", "/cases", BODY, **{"Idempotency-Key": "k-1"})
    assert status == 201
    r = api.client.post(
        "/api/v1/cases",
        BODY,
        content_type="application/json",
        headers={**api.headers("staff_a1"), "Idempotency-Key": "k-1"},
    )
    assert r.status_code == 201 and r.json()["number"] == first["number"]
    assert r.headers["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1


@pytest.mark.django_db
def test_same_key_different_body_conflicts(api, world, cats):
    api.post("staff_a1", "/cases", BODY, **{"Idempotency-Key": "k-2"})
    status, data = api.post(
        "staff_a1", "/cases", {**BODY, "description": "另一件事"}, **{"Idempotency-Key": "k-2"}
    )
    assert status == 409 and data["error"]["code"] == "idempotency_conflict"
    # A different reporter phone under the same key is a different request too.
    status, data = api.post(
        "staff_a1", "/cases", {**BODY, "reporter_phone": "13900002222"}, **{"Idempotency-Key": "k-2"}
    )
    assert status == 409
    assert Case.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_filer(api, world, cats):
    api.post("staff_a1", "/cases", BODY, **{"Idempotency-Key": "shared"})
    status, _data = api.post("dispatcher_a", "/cases", BODY, **{"Idempotency-Key": "shared"})
    assert status == 201
    assert Case.objects.count() == 2


@pytest.mark.django_db
def test_the_hash_holds_no_phone_in_clear(world, cats):
    case = actions.create_case(
        by=world.users["staff_a1"], description="x", reporter_phone="13900001111", idempotency_key="k"
    )
    assert "13900001111" not in case.request_hash
    assert "13900001111" not in case.reporter_phone_enc


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_same_key_makes_one_case():
    from civicgrid.testing import build_world

    world = build_world()
    user = world.users["staff_a1"]
    barrier = threading.Barrier(4)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def file():
        try:
            barrier.wait()
            case = actions.create_case(by=user, idempotency_key="race", **BODY)
            numbers.append(case.number)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=file) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_old_connections()
    assert not errors, errors
    assert len(set(numbers)) == 1 and len(numbers) == 4
    assert Case.objects.filter(idempotency_key="race").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_filers_get_distinct_numbers():
    from civicgrid.testing import build_world

    world = build_world()
    barrier = threading.Barrier(6)
    numbers: list[str] = []

    def file(i):
        try:
            barrier.wait()
            numbers.append(actions.create_case(by=world.users["staff_a1"], description=f"事项 {i}").number)
        finally:
            connection.close()

    threads = [threading.Thread(target=file, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == 6 and len(set(numbers)) == 6
    assert sorted(int(n[-4:]) for n in numbers) == [1, 2, 3, 4, 5, 6]
