"""The project's URLs plus routing's API router and desk pages, for as long as the project does not
mount them itself (civicgrid/api.py and civicgrid/urls.py); once it does, these are the project's."""

from __future__ import annotations

from django.urls import include, path
from ninja import NinjaAPI

from civicgrid import api as main
from civicgrid.routing.api import router
from civicgrid.urls import urlpatterns as project


def _mounted_api() -> bool:
    return any(r is router for _, r in main.api._routers)


def _mounted_pages() -> bool:
    return any(getattr(p, "namespace", None) == "routing" for p in project)


extra = []
if not _mounted_api():
    api = NinjaAPI(
        urls_namespace="routing_api_test", auth=main.BearerToken(), docs_url=None, openapi_url=None
    )
    for error, handler in [
        (main.DomainError, main.on_domain_error),
        (main.NinjaValidationError, main.on_validation_error),
        (main.AuthenticationError, main.on_auth_error),
        (main.HttpError, main.on_http_error),
    ]:
        api.add_exception_handler(error, handler)
    api.add_router("/", router)
    extra.append(path("api/v1/", api.urls))
if not _mounted_pages():
    extra.append(path("routing/", include("civicgrid.routing.urls")))

urlpatterns = [*extra, *project]
