import io

import pytest
from PIL import Image

from civicgrid.cases.models import Category, LimitUnit
from civicgrid.intake.models import ServiceDefinition

# Inside grid_a1 of the test world (civicgrid.testing squares).
IN_GRID_A1 = {"lat": "25.705", "lng": "104.405"}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def cats(world):
    city = Category.objects.create(code="CS", name="市容环境")
    garbage = Category.objects.create(
        code="CS01",
        name="垃圾清运",
        parent=city,
        handle_limit=5,
        handle_limit_unit=LimitUnit.WORKING_DAYS,
        default_lead_unit=world.units["dept_cg"],
        description="垃圾堆积、清运不及时",
    )
    lamp = Category.objects.create(code="CS02", name="路灯不亮", parent=city, anonymous_allowed=False)
    hidden = Category.objects.create(code="NB01", name="内部事项", public=False)
    ServiceDefinition.objects.create(
        category=garbage,
        keywords="垃圾,清运,环卫",
        service_notice="环卫部门将在 5 个工作日内清运",
        attributes=[
            {
                "code": "AMOUNT",
                "description": "垃圾量",
                "datatype": "singlevaluelist",
                "required": True,
                "order": 1,
                "values": [{"key": "small", "name": "少量"}, {"key": "large", "name": "大量"}],
            }
        ],
    )
    return {"city": city, "garbage": garbage, "lamp": lamp, "hidden": hidden}


def jpeg(size=(64, 48), color=(200, 30, 30), exif=True) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "TestCam"  # Make
        kwargs["exif"] = data.tobytes()
    image.save(out, format="JPEG", **kwargs)
    return out.getvalue()
