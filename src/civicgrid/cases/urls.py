"""Case desk pages, mounted at /cases/."""

from django.urls import path

from civicgrid.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.inbox_view, name="inbox"),
    path("list/", views.list_view, name="list"),
    path("export.xlsx", views.export_view, name="export"),
    path("<str:number>/", views.case_view, name="case"),
    path("<str:number>/steps/<str:step>/", views.step_view, name="step"),
]
