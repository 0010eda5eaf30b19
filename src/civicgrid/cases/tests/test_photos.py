"""Photo uploads: real images only, EXIF stripped, thumbnails, at most 9, nothing half-written."""

from io import BytesIO
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image

from civicgrid.cases.models import CasePhoto
from civicgrid.cases.tests.factories import case_in_state


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0132] = "2026:11:27 10:00:00"  # DateTime
    out = BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def png() -> bytes:
    out = BytesIO()
    Image.new("RGBA", (20, 20), (0, 0, 255, 128)).save(out, format="PNG")
    return out.getvalue()


def upload(api, who, number, files, **data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {"photos": [SimpleUploadedFile(name, content) for name, content in files], **data}
    r = api.client.post(f"/api/v1/cases/{number}/photos", payload, headers=api.headers(who))
    return r.status_code, r.json()


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db
def test_good_jpeg_is_stored_without_exif_with_a_thumbnail(api, world, cats):
    source = jpeg_with_exif()
    assert Image.open(BytesIO(source)).getexif()  # the fixture really carries EXIF
    case = case_in_state(world, "received")
    status, data = upload(api, "staff_a1", case.number, [("a.jpg", source), ("b.png", png())])
    assert status == 201, data
    assert [p["content_type"] for p in data] == ["image/jpeg", "image/png"]
    photo = CasePhoto.objects.get(pk=data[0]["id"])
    with Image.open(photo.image.path) as stored:
        assert stored.format == "JPEG" and not stored.getexif()
        assert b"SecretCam" not in Path(photo.image.path).read_bytes()
    with Image.open(photo.thumbnail.path) as thumb:
        assert thumb.size[0] <= 320
    detail = api.get("staff_a1", f"/cases/{case.number}")[1]
    assert [p["id"] for p in detail["photos"]] == [d["id"] for d in data]


@pytest.mark.django_db
def test_text_renamed_jpg_is_refused(api, world, cats):
    case = case_in_state(world, "received")
    status, data = upload(
        api, "staff_a1", case.number, [("a.jpg", jpeg_with_exif()), ("x.jpg", b"not an image")]
    )
    assert status == 422 and data["error"]["code"] == "invalid_input"
    assert "x.jpg" in data["error"]["message"] and "图片" in data["error"]["message"]
    assert CasePhoto.objects.count() == 0 and stored_files() == []


@pytest.mark.django_db
def test_gif_is_refused(api, world, cats):
    out = BytesIO()
    Image.new("RGB", (4, 4)).save(out, format="GIF")
    case = case_in_state(world, "received")
    assert upload(api, "staff_a1", case.number, [("a.gif", out.getvalue())])[0] == 422


@pytest.mark.django_db
def test_at_most_nine_per_case(api, world, cats):
    case = case_in_state(world, "received")
    assert upload(api, "staff_a1", case.number, [(f"{i}.png", png()) for i in range(8)])[0] == 201
    status, data = upload(api, "staff_a1", case.number, [("8.png", png()), ("9.png", png())])
    assert status == 422 and "9" in data["error"]["message"]
    assert CasePhoto.objects.count() == 8 and len(stored_files()) == 16
    assert upload(api, "staff_a1", case.number, [("8.png", png())])[0] == 201


@pytest.mark.django_db
def test_too_large_is_refused(api, world, cats, monkeypatch):
    from civicgrid.cases.actions import photos

    monkeypatch.setattr(photos, "MAX_BYTES", 100)
    case = case_in_state(world, "received")
    status, data = upload(api, "staff_a1", case.number, [("big.jpg", jpeg_with_exif())])
    assert status == 422 and "10 MB" in data["error"]["message"]


@pytest.mark.django_db
def test_photos_attach_to_feedback(api, world, cats):
    case = case_in_state(world, "signed")
    status, data = upload(api, "handler_cg", case.number, [("done.jpg", jpeg_with_exif())])
    assert status == 201
    status, detail = api.act(
        "handler_cg", case.number, "feedback", {"result": "已清运", "photo_ids": [data[0]["id"]]}
    )
    assert status == 200
    step = detail["timeline"][-1]
    assert detail["photos"][0]["step"] == step["id"]
    # Later photos may name the feedback step directly.
    status, more = upload(api, "handler_cg", case.number, [("more.png", png())], step=step["id"])
    assert status == 201 and more[0]["step"] == step["id"]
    assert upload(api, "handler_cg", case.number, [("x.png", png())], step=999999)[0] == 422


@pytest.mark.django_db
def test_upload_scope_and_role(api, world, cats):
    case = case_in_state(world, "received")
    assert upload(api, "staff_b1", case.number, [("a.png", png())])[0] == 404
    assert upload(api, "leader", case.number, [("a.png", png())])[0] == 403
    closed = case_in_state(world, "closed")
    assert upload(api, "staff_a1", closed.number, [("a.png", png())])[0] == 409


@pytest.mark.django_db
def test_a_report_filed_with_photos_shows_them_at_once(world, cats):
    from civicgrid.cases import schemas
    from civicgrid.cases.actions.photos import prepare_photo
    from civicgrid.cases.actions.public import file_report
    from civicgrid.cases.tests.factories import IN_GRID_A1

    photos = [prepare_photo("a.png", png())]
    case = file_report(by=world.users["resident"], photos=photos, description="路灯坏了", **IN_GRID_A1)
    assert len(schemas.case_detail(case, world.users["staff_a1"])["photos"]) == 1


@pytest.mark.django_db
def test_the_on_site_check_in_carries_photos(api, world, cats):
    """PRODUCT.md: arriving on site is "a check-in with time, place and photo"."""
    case = case_in_state(world, "signed")
    status, data = upload(api, "handler_cg", case.number, [("site.jpg", jpeg_with_exif())])
    assert status == 201
    arrive = {"lat": 26.5, "lng": 104.6, "photo_ids": [data[0]["id"]]}
    status, detail = api.act("handler_cg", case.number, "arrive", arrive)
    assert status == 200, detail
    step = detail["timeline"][-1]
    assert step["action"] == "arrive" and detail["photos"][0]["step"] == step["id"]
    # Used once: the same photo cannot go with a second check-in, which then writes nothing.
    steps = len(detail["timeline"])
    status, error = api.act("handler_cg", case.number, "arrive", arrive)
    assert status == 422 and error["error"]["message"] == "照片不存在或已使用"
    assert len(api.get("handler_cg", f"/cases/{case.number}")[1]["timeline"]) == steps
    # Later photos may name the check-in directly; a step of another kind is refused.
    status, more = upload(api, "handler_cg", case.number, [("more.png", png())], step=step["id"])
    assert status == 201 and more[0]["step"] == step["id"]
    sign = next(s for s in detail["timeline"] if s["action"] == "sign")
    status, error = upload(api, "handler_cg", case.number, [("x.png", png())], step=sign["id"])
    assert status == 422 and "到场报到或反馈" in error["error"]["message"]
