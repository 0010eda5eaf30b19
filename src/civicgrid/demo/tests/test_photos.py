"""The demo's drawn photos: on recent reports and their feedback, re-encoded like uploads, loaded once."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from django.test import Client
from PIL import Image

from civicgrid.cases.models import CasePhoto, StepAction
from civicgrid.demo.history import load_history
from civicgrid.demo.load import load_world
from civicgrid.demo.photos import REPORTED_BY, load_photos


@pytest.mark.django_db
def test_recent_reports_and_their_results_get_photos_once():
    load_world()
    load_history(days=20, per_weekday=12, seed=5)
    made = load_photos()
    photos = list(CasePhoto.objects.select_related("case", "step"))
    assert made == len(photos) > 20
    reports = [p for p in photos if p.step is None]
    results = [p for p in photos if p.step is not None]
    assert reports and results
    assert {p.case.channel for p in reports} <= set(REPORTED_BY)
    assert all(p.step.action == StepAction.FEEDBACK and p.step.case_id == p.case_id for p in results)
    assert all(p.uploaded_by_id == p.step.actor_id for p in results)
    assert all(p.uploaded_by_id == p.case.created_by_id for p in reports)
    first = photos[0]
    with Image.open(Path(first.image.path)) as image:
        assert image.format == "JPEG" and image.size == (640, 480) and not image.getexif()
    served = Client().get(first.thumbnail.url)  # through its signed link, as the pages show it
    assert served.status_code == 200
    assert Image.open(BytesIO(b"".join(served.streaming_content))).size[0] <= 320
    assert load_photos() == 0 and CasePhoto.objects.count() == made
