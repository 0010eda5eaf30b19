import pytest

from civicgrid.routing.tests.factories import make_categories


@pytest.fixture(autouse=True)
def _routing_state(settings, tmp_path):
    """Each test starts with empty routing caches, its own model folder and media."""
    from civicgrid.routing import engine, places, registry, rules

    settings.CIVICGRID_ROUTING_MODEL_DIR = str(tmp_path / "models")
    settings.MEDIA_ROOT = tmp_path / "media"
    for reset in (registry.invalidate, rules.reset, places.reset, engine.reset):
        reset()
    yield
    for reset in (registry.invalidate, rules.reset, places.reset, engine.reset):
        reset()


@pytest.fixture
def cats(world):
    return make_categories(world)
