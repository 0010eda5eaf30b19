from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path

from civicgrid.api import api
from civicgrid.core import media


def home(request: HttpRequest) -> HttpResponse:
    """Staff land on their desk, everybody else on the resident's report page."""
    return redirect("people:desk" if request.user.is_authenticated else "intake:report")


admin.site.site_header = "Civic Grid 网格化基层治理平台 · 配置"
admin.site.site_title = "Civic Grid"
admin.site.index_title = "系统配置"

urlpatterns = [
    path("", home, name="home"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("civicgrid.people.urls")),
    path("", include("civicgrid.notify.urls")),
    path("cases/", include("civicgrid.cases.urls")),
    path("measures/", include("civicgrid.cases.measures_urls")),
    path("routing/", include("civicgrid.routing.urls")),
    path("open311/v2/", include("civicgrid.intake.open311_urls")),
    path("", include("civicgrid.intake.urls")),
    path(media.PREFIX.strip("/") + "/<path:name>", media.serve, name="media"),
]
