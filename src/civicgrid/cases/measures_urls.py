"""Measures pages, mounted at /measures/."""

from django.urls import path

from civicgrid.cases import measures_views

app_name = "measures"
urlpatterns = [path("", measures_views.measures_view, name="index")]
