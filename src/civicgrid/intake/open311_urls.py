"""Open311 GeoReport v2 (docs/open311.md): the format is the extension (.xml by default, or .json)."""

from django.urls import path, re_path

from civicgrid.intake.open311 import views

FMT = r"(?:\.(?P<fmt>[A-Za-z]+))?"

app_name = "open311"
urlpatterns = [
    path("", views.root, name="root"),
    re_path(rf"^discovery{FMT}$", views.discovery, name="discovery"),
    re_path(rf"^services{FMT}$", views.services, name="services"),
    re_path(rf"^services/(?P<code>[^/]+?){FMT}$", views.service_definition, name="service"),
    re_path(rf"^requests{FMT}$", views.requests_view, name="requests"),
    re_path(rf"^requests/(?P<number>[^/]+?){FMT}$", views.request_detail, name="request"),
    re_path(rf"^tokens/(?P<token>[^/]+?){FMT}$", views.token_detail, name="token"),
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
