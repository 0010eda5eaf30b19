"""Photos for the demo's history, drawn rather than photographed: no real person, house or car is in
them. In one case of three that a resident, a household leader, a mobile reporter or a grid worker
reported in the last 60 days, the report has one or two pictures of the problem (a dark patch on the
ground: a pothole, a heap, a spill), and nearly every such case fed back has a picture of the result
on its feedback step. So the case pages, the resident's pages and Open311 show photos, through the
signed links every photo gets (decision 0007).

They go through the same re-encoding and storage as uploads (cases.actions.photos).
"""

from __future__ import annotations

import random
from datetime import timedelta
from io import BytesIO

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFilter

from civicgrid.cases.actions.photos import files_removed_on_failure, prepare_photo, stored
from civicgrid.cases.models import Case, CasePhoto, CaseStep, Channel, StepAction

RECENT_DAYS = 60
REPORTED_BY = (Channel.RESIDENT, Channel.HOUSEHOLD_LEADER, Channel.MOBILE_REPORTER, Channel.GRID_PATROL)
SIZE = (640, 480)
# Ground colours: asphalt, paving, grass, earth.
GROUNDS = [(92, 94, 98), (150, 146, 138), (96, 132, 74), (134, 112, 84)]


def draw(rng: random.Random, ground: tuple[int, int, int], *, fixed: bool) -> bytes:
    """A scene: sky, a wall, the ground; before, a dark irregular patch on it; after, a clean one."""
    width, height = SIZE
    image = Image.new("RGB", SIZE, ground)
    pen = ImageDraw.Draw(image)
    horizon = rng.randint(height // 4, height // 3)
    pen.rectangle((0, 0, width, horizon), fill=(176, 204, 228))
    wall = tuple(min(255, c + rng.randint(40, 90)) for c in ground)
    pen.rectangle((0, horizon - 60, width, horizon), fill=wall)
    for _ in range(40):  # texture, so the JPEG is not a flat test card
        x, y = rng.randint(0, width), rng.randint(horizon, height)
        shade = tuple(max(0, c - rng.randint(5, 25)) for c in ground)
        pen.ellipse((x, y, x + rng.randint(4, 30), y + rng.randint(2, 10)), fill=shade)
    if fixed:
        x = rng.randint(120, 360)
        patch = tuple(min(255, c + 25) for c in ground)
        pen.rectangle(
            (x, horizon + 120, x + 180, horizon + 220), fill=patch, outline=(230, 230, 230), width=3
        )
    else:
        cx, cy = rng.randint(180, 460), rng.randint(horizon + 120, height - 80)
        points = [
            (cx + rng.randint(60, 130) * dx, cy + rng.randint(30, 70) * dy)
            for dx, dy in [
                (1, 0),
                (0.7, 0.7),
                (0, 1),
                (-0.7, 0.7),
                (-1, 0),
                (-0.7, -0.7),
                (0, -1),
                (0.7, -0.7),
            ]
        ]
        pen.polygon(points, fill=(38, 34, 30))
    out = BytesIO()
    image.filter(ImageFilter.SMOOTH).save(out, format="JPEG", quality=80)
    return out.getvalue()


def load_photos(*, seed: int = 20261128) -> int:
    """Adds the photos to the demo's recent cases, once (a case table with photos is left alone)."""
    if CasePhoto.objects.exists():
        return 0
    rng = random.Random(seed)
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    cases = list(Case.objects.filter(channel__in=REPORTED_BY, created_at__gte=since).order_by("id"))
    last_feedback = dict(
        CaseStep.objects.filter(case__in=cases, action=StepAction.FEEDBACK)
        .values("case_id")
        .annotate(last=Max("id"))
        .values_list("case_id", "last")
    )
    actors = dict(CaseStep.objects.filter(pk__in=last_feedback.values()).values_list("pk", "actor_id"))
    rows: list[CasePhoto] = []
    with files_removed_on_failure() as written, transaction.atomic():
        for case in cases:
            if rng.random() >= 1 / 3:
                continue
            ground = rng.choice(GROUNDS)  # the same place before and after
            # Uploaded by whoever filed the report, and by whoever gave the feedback.
            for n in range(rng.choice([1, 1, 2])):
                photo = prepare_photo(f"{case.number}-{n}.jpg", draw(rng, ground, fixed=False))
                rows.append(stored(case, photo, by_id=case.created_by_id, step_id=None, written=written))
            step = last_feedback.get(case.pk)
            if step is not None and rng.random() < 0.9:
                photo = prepare_photo(f"{case.number}-result.jpg", draw(rng, ground, fixed=True))
                rows.append(stored(case, photo, by_id=actors.get(step), step_id=step, written=written))
        CasePhoto.objects.bulk_create(rows, batch_size=500)
    return len(rows)
