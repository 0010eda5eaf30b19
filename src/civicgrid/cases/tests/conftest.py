import pytest

from civicgrid.cases.tests.factories import Api, make_categories


@pytest.fixture
def cats(world):
    return make_categories(world)


@pytest.fixture
def api(client, world):
    return Api(client, world)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
