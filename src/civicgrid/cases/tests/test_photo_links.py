"""Photos are served only through signed links that expire (civicgrid.core.media)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from civicgrid.cases.tests.factories import case_in_state, jpeg
from civicgrid.cases.tests.test_photos import upload
from civicgrid.core import media


@pytest.fixture
def photo(api, world, cats):
    """A photo uploaded through the API, and its case's number."""
    case = case_in_state(world, "received")
    status, data = upload(api, "staff_a1", case.number, [("a.jpg", jpeg())])
    assert status == 201, data
    return case.number, data[0]


def fetch(url, **kwargs):
    return Client().get(url, **kwargs)  # no session, no token: the link alone


@pytest.mark.django_db
def test_the_signed_link_serves_the_photo_without_a_session(api, photo):
    number, data = photo
    assert data["url"].startswith(f"/photos/cases/{number}/") and "?e=" in data["url"]
    response = fetch(data["url"])
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xff\xd8") and response["Content-Type"] == "image/jpeg"
    cache = response["Cache-Control"]
    assert cache.startswith("private, max-age=") and 3600 <= int(cache.split("=")[1]) <= 7200
    assert fetch(data["thumbnail_url"]).status_code == 200


@pytest.mark.django_db
def test_a_link_without_a_good_signature_serves_nothing(photo):
    _, data = photo
    path, query = data["url"].split("?")
    thumb_query = data["thumbnail_url"].split("?")[1]
    assert fetch(path).status_code == 404  # the file's path without a signature
    assert fetch(path.replace("/photos/", "/media/", 1)).status_code == 404  # as nginx once published it
    assert fetch(f"{path}?{query[:-2]}xx").status_code == 404
    assert fetch(f"{path}?{thumb_query}").status_code == 404  # another file's signature
    expires = query.split("&")[0].removeprefix("e=")
    later = query.replace(f"e={expires}", f"e={int(expires) + 86400}")
    assert fetch(f"{path}?{later}").status_code == 404  # a later expiry is not signed
    signature = query.split("&s=")[1]
    for bad in (
        "abc",
        "",
        "²" * 10,
        "1" * 5000,
        "１７９９９９９９９９",
    ):  # letters, none, other digits, too long
        assert fetch(f"{path}?e={bad}&s={signature}").status_code == 404, bad
    assert Client().post(data["url"]).status_code == 405


@pytest.mark.django_db
def test_a_link_lasts_one_to_two_hours_and_is_the_same_within_the_hour(api, world, cats):
    made = datetime(2026, 11, 28, 10, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # expires at 12:00
    with time_machine.travel(made, tick=False):
        case = case_in_state(world, "received")
        data = upload(api, "staff_a1", case.number, [("a.jpg", jpeg())])[1][0]
        again = api.get("staff_a1", f"/cases/{case.number}")[1]["photos"][0]
        assert again["url"] == data["url"]  # cacheable; a step's reply equals a later read
    with time_machine.travel(made + timedelta(minutes=109), tick=False):  # 11:59
        assert fetch(data["url"]).status_code == 200
    with time_machine.travel(made + timedelta(minutes=110, seconds=1), tick=False):
        expired = fetch(data["url"])
        assert expired.status_code == 403
        assert "照片链接已过期" in expired.content.decode()
        fresh = api.get("staff_a1", f"/cases/{case.number}")[1]["photos"][0]["url"]
        assert fresh != data["url"] and fetch(fresh).status_code == 200


@pytest.mark.django_db
def test_behind_nginx_django_only_decides_and_nginx_sends(settings, photo):
    settings.CIVICGRID_MEDIA_ACCEL_REDIRECT = "/_media/"
    _, data = photo
    response = fetch(data["url"])
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == "/_media/" + data["url"].split("?")[0].removeprefix("/photos/")
    assert response["Content-Type"] == "image/jpeg"


@pytest.mark.django_db
def test_links_survive_a_key_rotation_with_the_old_key_as_a_fallback(settings, photo):
    _, data = photo
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    assert fetch(data["url"]).status_code == 404
    settings.SECRET_KEY_FALLBACKS = [old]
    assert fetch(data["url"]).status_code == 200


@pytest.mark.django_db
def test_serving_reads_no_database(photo, django_assert_num_queries):
    _, data = photo
    with django_assert_num_queries(0):
        assert fetch(data["url"]).status_code == 200


def test_a_signed_name_outside_the_media_root_is_refused(settings, tmp_path):
    (tmp_path / "secret.txt").write_text("not a photo")
    settings.MEDIA_ROOT = tmp_path / "media"
    default_storage.save("cases/ok.txt", ContentFile(b"ok"))
    assert fetch(media.signed_url("cases/ok.txt")).status_code == 200
    assert fetch(media.signed_url("../secret.txt")).status_code == 404
    assert fetch(media.signed_url("cases/missing.jpg")).status_code == 404
