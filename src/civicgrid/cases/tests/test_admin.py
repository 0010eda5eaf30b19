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


@pytest.mark.django_db
def test_an_administrator_sets_a_categorys_limits_and_a_zero_is_refused_by_name(client, world, cats):
    from civicgrid.cases.models import Category

    garbage = cats["garbage"]
    client.force_login(world.users["admin"])
    url = f"/admin/cases/category/{garbage.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and "评价期限（天）" in page.content.decode()
    form = {
        "code": garbage.code,
        "name": garbage.name,
        "parent": garbage.parent_id or "",
        "nature": garbage.nature,
        "description": "",
        "default_lead_unit": garbage.default_lead_unit_id or "",
        "handle_limit": 3,
        "handle_limit_unit": "working_days",
        "sign_limit_hours": 2,
        "urgent_sign_limit_minutes": "",
        "answer_limit_hours": "",
        "recheck_limit_days": "",
        "rating_window_days": 10,
        "anonymous_allowed": "on",
        "public": "on",
        "is_active": "on",
    }
    refused = client.post(url, {**form, "sign_limit_hours": 0})
    assert refused.status_code == 200 and "sign_limit_hours" in refused.context["adminform"].form.errors
    assert Category.objects.get(pk=garbage.pk).sign_limit_hours is None
    assert client.post(url, form).status_code == 302
    saved = Category.objects.get(pk=garbage.pk)
    assert (saved.handle_limit, saved.sign_limit_hours, saved.rating_window_days) == (3, 2, 10)
    assert saved.urgent_sign_limit_minutes is None
