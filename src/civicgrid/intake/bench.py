"""Intake figures: server time to file a report with two 3 MB photos, and the report page's weight.

Both run in a throw-away test database (never the installation's), through the Django test client,
so the submission figure is the server's whole request path: multipart parsing, photo checks and
re-encoding, the case, its photos, the submission row and the ticket.
"""

from __future__ import annotations

import gzip
import io
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.test import Client, override_settings
from django.test.utils import setup_test_environment, teardown_test_environment

from civicgrid.benchmarking import Figures, Say, benchmark

ROUNDS = 15
PHOTO_BYTES = 3 * 1024 * 1024
PAGE_BUDGET = 300 * 1024


def photo_of_size(target: int = PHOTO_BYTES, seed: int = 1) -> bytes:
    """A 12-megapixel (4032 × 3024) JPEG of about `target` bytes, textured like a phone photo."""
    from PIL import Image, ImageFilter

    w, h = 4032, 3024
    noise = Image.effect_noise((w // 4, h // 4), 60 + seed).resize((w, h), Image.Resampling.BICUBIC)
    gradient = Image.linear_gradient("L").resize((w, h))
    fine = Image.effect_noise((w, h), 18)
    r = Image.blend(noise, gradient, 0.5)
    g = Image.blend(gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), fine, 0.3)
    b = noise.filter(ImageFilter.GaussianBlur(3))
    image = Image.merge("RGB", (r, g, b))
    best = b""
    for quality in (95, 92, 90, 88, 85, 82, 80, 75, 70, 65, 60, 50, 40):
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality)
        best = out.getvalue()
        if len(best) <= target * 1.05:
            break
    return best


@contextmanager
def scratch_database() -> Iterator[None]:
    """A fresh migrated test database for the duration of the block (the configured one is untouched)."""
    from django.db import connection

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media):
            yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def _world() -> Any:
    from civicgrid.cases.models import Category
    from civicgrid.testing import build_world

    world = build_world()
    Category.objects.create(code="BENCH01", name="垃圾清运", default_lead_unit=world.units["dept_cg"])
    return world


@benchmark("intake-submit")
def intake_submit(say: Say) -> Figures:
    """Server time to file one public report with two 3 MB photos (median of 15)."""
    photos = [photo_of_size(seed=1), photo_of_size(seed=2)]
    sizes = [len(p) for p in photos]
    say(f"photos: 2 JPEGs of 4032×3024, {sizes[0] / 1e6:.2f} MB and {sizes[1] / 1e6:.2f} MB")
    times: list[float] = []
    with scratch_database():
        _world()
        client = Client()
        limits = {"submit_ip": (10_000, 3600), "submit_phone": (10_000, 3600)}
        with override_settings(CIVICGRID_INTAKE_LIMITS=limits):
            for i in range(ROUNDS + 1):
                from django.core.files.uploadedfile import SimpleUploadedFile

                data = {
                    "description": f"小区门口垃圾堆积（第 {i} 次）",
                    "category": "BENCH01",
                    "lat": "25.705",
                    "lng": "104.405",
                    "name": "测试",
                    "phone": "13800000000",
                    "idempotency_key": uuid.uuid4().hex,
                    "photos": [
                        SimpleUploadedFile(f"p{k}.jpg", p, "image/jpeg") for k, p in enumerate(photos)
                    ],
                }
                started = time.perf_counter()
                response = client.post("/report/submit", data)
                elapsed = time.perf_counter() - started
                if response.status_code != 201:
                    raise RuntimeError(f"submit failed: {response.status_code} {response.content[:300]!r}")
                if i:  # the first round warms caches (locate index, calendar)
                    times.append(elapsed)
    times.sort()
    median = statistics.median(times)
    p90 = times[int(len(times) * 0.9) - 1]
    say(
        f"server time per report: median {median * 1000:.0f} ms, "
        f"p90 {p90 * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
    )
    say(f"target: median under 1,000 ms — {'met' if median < 1.0 else 'NOT met'}")
    return {
        "photo_mb": round(sum(sizes) / 2 / 1e6, 2),
        "median_ms": round(median * 1000),
        "p90_ms": round(p90 * 1000),
        "max_ms": round(times[-1] * 1000),
        "rounds": len(times),
    }


_ASSET = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"')


def page_weight(client: Client | None = None) -> dict[str, int]:
    """Gzip sizes (level 6, as a web server compresses) of the report page and every CSS/JS it loads."""
    client = client or Client()
    response = client.get("/report/")
    if response.status_code != 200:
        raise RuntimeError(f"/report/ answered {response.status_code}")
    html = response.content
    sizes = {"/report/": len(gzip.compress(html, 6))}
    for url in _ASSET.findall(html.decode()):
        asset = client.get(url)
        body = b"".join(asset.streaming_content) if asset.streaming else asset.content  # type: ignore[attr-defined]
        if asset.status_code != 200:
            raise RuntimeError(f"{url} answered {asset.status_code}")
        sizes[url] = len(gzip.compress(body, 6))
    return sizes


@benchmark("intake-page-weight")
def intake_page_weight(say: Say) -> Figures:
    """The report page's HTML + CSS + JS, gzip-compressed, on first load (Leaflet included)."""
    with scratch_database():
        world = _world()
        del world
        sizes = page_weight()
        areas = Client().get("/report/areas.json").content
    total = sum(sizes.values())
    for url, size in sizes.items():
        say(f"{size / 1024:7.1f} KB  {url}")
    say(f"{total / 1024:7.1f} KB  total (budget {PAGE_BUDGET // 1024} KB)")
    say(
        f"areas.json for the test world: {len(gzip.compress(areas, 6)) / 1024:.1f} KB gzip "
        "(data, fetched after load)"
    )
    return {"total_kb": round(total / 1024, 1), "files": len(sizes), "static_debug": int(settings.DEBUG)}
