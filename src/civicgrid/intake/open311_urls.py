"""Open311 GeoReport v2 (filled in by the intake work)."""

app_name = "open311"
urlpatterns: list = []
