import pytest

from civicgrid.cases.tests.factories import case_in_state


@pytest.mark.django_db
def test_admin_shows_cases_read_only_without_reporter(client, world, cats):
    case = case_in_state(world, "signed")
    client.force_login(world.users["admin"])
    page = client.get(f"/admin/cases/case/{case.pk}/change/")
    assert page.status_code == 200
    assert "13812345678" not in page.content.decode() and case.number in page.content.decode()
    assert client.get("/admin/cases/case/").status_code == 200
    assert client.get("/admin/cases/case/add/").status_code == 403
    assert client.get("/admin/cases/category/").status_code == 200
