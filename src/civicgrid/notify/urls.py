from django.urls import path

from civicgrid.notify import views

app_name = "notify"
urlpatterns = [
    path("inbox/", views.inbox_view, name="inbox"),
    path("inbox/count/", views.count_view, name="count"),
    path("inbox/read-all/", views.read_all_view, name="read_all"),
    path("inbox/<int:pk>/read/", views.read_view, name="read"),
    path("inbox/<int:pk>/open/", views.open_view, name="open"),
]
