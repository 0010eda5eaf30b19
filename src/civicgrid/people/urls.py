from django.urls import path

from civicgrid.people import views

app_name = "people"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_view, name="password"),
    path("notice-settings/", views.notices_view, name="notices"),
    path("desk/", views.desk_view, name="desk"),
    path("tokens/", views.tokens_view, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.revoke_token_view, name="revoke_token"),
]
