"""The project's URLs plus the inbox and a throwaway API carrying the notify router.

Used by the tests until `civicgrid/urls.py` and `civicgrid/api.py` mount the notify app.
"""

from django.urls import include, path
from ninja import NinjaAPI

from civicgrid.api import BearerToken
from civicgrid.notify.api import router as notify_router
from civicgrid.urls import urlpatterns as project_urlpatterns

test_api = NinjaAPI(urls_namespace="notify_test_api", auth=BearerToken(), docs_url=None)
test_api.add_router("/", notify_router)

urlpatterns = [
    *[p for p in project_urlpatterns if getattr(p, "namespace", None) != "notify"],
    path("", include("civicgrid.notify.urls")),
    path("api/notify-test/", test_api.urls),
]
