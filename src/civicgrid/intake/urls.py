"""Resident pages (filled in by the intake work)."""

app_name = "intake"
urlpatterns: list = []
