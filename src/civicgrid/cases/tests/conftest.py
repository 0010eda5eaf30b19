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


@pytest.fixture
def login(client, world):
    """Signs the one test client in as a persona and returns it: `login("dispatcher_a").get(…)`."""

    def as_(who):
        client.force_login(world.users[who])
        return client

    return as_
