import pytest


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """`civicgrid demo` draws photos (demo.photos): into the test's folder, never the checkout's var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
