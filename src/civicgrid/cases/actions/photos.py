"""Photos of a case: verified with Pillow, re-encoded without EXIF (GPS, device), thumbnailed.

Images are decoded and re-encoded before the transaction opens (CPU work must not hold the case's
row lock); files are written inside it and removed again if it fails, so nothing is half-written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from civicgrid.cases import rules
from civicgrid.cases.actions._common import lock
from civicgrid.cases.actions.handling import held_among
from civicgrid.cases.models import FINAL_STATUSES, Case, CaseAssignment, CasePhoto, CaseStep, StepAction
from civicgrid.core import rows as core_rows
from civicgrid.core.errors import Forbidden, InvalidInput, InvalidTransition

if TYPE_CHECKING:
    from civicgrid.people.models import User

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_CASE = 9
# Far above any phone camera, far below what would exhaust memory when decoded (decompression bombs).
MAX_PIXELS = 60_000_000
THUMBNAIL_SIZE = (320, 320)
# The steps that carry photos of the site: the check-in (PRODUCT.md: "time, place and photo") and the result.
PHOTO_STEPS = (StepAction.ARRIVE, StepAction.FEEDBACK)
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}


@dataclass(frozen=True)
class PreparedPhoto:
    data: bytes
    thumbnail: bytes
    content_type: str
    extension: str
    width: int
    height: int


def prepare_photo(name: str, data: bytes) -> PreparedPhoto:
    """Checks one upload is a real JPEG/PNG/WebP and re-encodes it without metadata; InvalidInput if not."""
    bad = InvalidInput(
        _("文件“%(name)s”不是有效的图片，只接受 JPEG、PNG、WebP 格式") % {"name": name},
        details={"photos": name},
    )
    if len(data) > MAX_BYTES:
        raise InvalidInput(_("文件“%(name)s”超过 10 MB") % {"name": name}, details={"photos": name})
    try:
        with Image.open(BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise bad
            if probe.width * probe.height > MAX_PIXELS:
                raise InvalidInput(_("图片“%(name)s”像素过大") % {"name": name}, details={"photos": name})
            fmt = probe.format
            probe.verify()
        with Image.open(BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            if fmt == "JPEG" and upright.mode not in ("RGB", "L"):
                upright = upright.convert("RGB")
            # A copy with empty info carries no EXIF, XMP or text chunks into the re-encoded file.
            clean = upright.copy()
            clean.info = {}
            out = BytesIO()
            options = {"quality": 85} if fmt in ("JPEG", "WEBP") else {"optimize": True}
            clean.save(out, format=fmt, **options)
            thumb = clean.convert("RGB") if clean.mode != "RGB" else clean.copy()
            thumb.thumbnail(THUMBNAIL_SIZE)
            thumb_out = BytesIO()
            thumb.save(thumb_out, format="JPEG", quality=80)
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise bad from exc
    content_type, extension = FORMATS[fmt]
    return PreparedPhoto(
        out.getvalue(), thumb_out.getvalue(), content_type, extension, clean.width, clean.height
    )


@contextmanager
def files_removed_on_failure() -> Iterator[list[str]]:
    """Yields the list `stored` adds file names to; if the block fails, the files go again. Put it
    outside the transaction: the rows roll back, the files are deleted."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise


def stored(
    case: Case, photo: PreparedPhoto, *, by_id: int | None, step_id: int | None, written: list[str]
) -> CasePhoto:
    """Writes a prepared photo and its thumbnail under cases/<number>/ and returns its row, unsaved.
    The files' names join `written` (files_removed_on_failure)."""
    stem = f"cases/{case.number}/{uuid.uuid4().hex}"
    image_name = default_storage.save(f"{stem}.{photo.extension}", ContentFile(photo.data))
    written.append(image_name)
    thumb_name = default_storage.save(f"{stem}.thumb.jpg", ContentFile(photo.thumbnail))
    written.append(thumb_name)
    return CasePhoto(
        case=case,
        step_id=step_id,
        uploaded_by_id=by_id,
        image=image_name,
        thumbnail=thumb_name,
        content_type=photo.content_type,
        width=photo.width,
        height=photo.height,
        size=len(photo.data),
    )


def check_may_upload(case: Case, by: User, assignments: Iterable[CaseAssignment]) -> None:
    """Open cases only; the reporter, the filer, intake staff of its place, its units' handlers and the
    Party member who claimed it.

    `assignments` are the case's active ones; a queryset is read only when the check gets that far.
    """
    if case.status in FINAL_STATUSES:
        raise InvalidTransition(_("已办结的工单不能再上传照片"))
    if by.is_superuser or by.pk in (case.reporter_user_id, case.created_by_id):
        return
    if rules.membership_over(by, rules.INTAKE_ROLES, case.territory_path):
        return
    if held_among(assignments, by):  # its units' handlers, and the Party member who claimed it
        return
    raise Forbidden(_("无权为该工单上传照片"))


def add_photos(
    case: Case | str, *, by: User, files: Sequence[tuple[str, bytes]], step_id: int | None = None
) -> list[CasePhoto]:
    """Adds photos (name, bytes) to a case, at most MAX_PER_CASE in all; optionally to one of its
    arrival (到场报到) or feedback steps."""
    if not files:
        raise InvalidInput(_("请选择要上传的照片"), details={"photos": "required"})
    prepared = [prepare_photo(name, data) for name, data in files]
    with files_removed_on_failure() as written, transaction.atomic():
        case = lock(case, by)
        check_may_upload(case, by, case.active_assignments)  # type: ignore[attr-defined]  # read by lock
        step = None
        if step_id is not None:
            step = CaseStep.objects.filter(pk=step_id, case=case, action__in=PHOTO_STEPS).first()
            if step is None:
                raise InvalidInput(_("只能把照片附在本工单的到场报到或反馈记录上"), details={"step": step_id})
        if case.photos.count() + len(prepared) > MAX_PER_CASE:
            raise InvalidInput(
                _("每个工单最多 %(count)s 张照片") % {"count": MAX_PER_CASE},
                details={"photos": "too many"},
            )
        step_pk = step.pk if step is not None else None
        rows = [stored(case, photo, by_id=by.pk, step_id=step_pk, written=written) for photo in prepared]
        case.has_photos = True  # type: ignore[attr-defined]  # read by the lock (queries.case_for_update)
        # A new version of the case row tells a step waiting for the lock to read the case again.
        core_rows.update(case, ["updated_at"])
        return CasePhoto.objects.bulk_create(rows)
