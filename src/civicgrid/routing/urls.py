"""Routing's desk buttons, mounted at /routing/."""

from django.urls import path

from civicgrid.routing import views

app_name = "routing"
urlpatterns = [
    path("cases/<str:number>/dispatch-suggested/", views.dispatch_as_suggested, name="dispatch_suggested"),
    path("cases/<str:number>/recategorize/", views.recategorize, name="recategorize"),
    path("cases/<str:number>/merge/", views.merge, name="merge"),
]
