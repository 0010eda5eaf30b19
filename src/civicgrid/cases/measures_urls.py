"""Measures pages (filled in by the measures work)."""

app_name = "measures"
urlpatterns: list = []
