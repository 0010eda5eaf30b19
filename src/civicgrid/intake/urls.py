"""Resident pages: report, follow, rate, my cases, mobile reporter sign-up, abuse marking."""

from django.urls import path

from civicgrid.intake import views

app_name = "intake"
urlpatterns = [
    path("report/", views.report_page, name="report"),
    path("report/submit", views.report_submit, name="submit"),
    path("report/areas.json", views.areas_json, name="areas"),
    path("report/similar.json", views.similar_json, name="similar"),
    path("report/follow", views.follow_existing, name="follow"),
    path("report/join/", views.join, name="join"),
    path("report/staff/<str:number>/abusive/", views.mark_abusive, name="mark_abusive"),
    path("track/", views.track_form, name="track"),
    path("track/<int:ticket_id>/", views.track_case, name="track_case"),
    path("track/<int:ticket_id>/rate/", views.track_rate, name="track_rate"),
    path("my/", views.my_cases, name="my"),
    path("my/<str:number>/", views.my_case, name="my_case"),
]
