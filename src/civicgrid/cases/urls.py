"""Case desk pages (filled in by the desk work)."""

app_name = "cases"
urlpatterns: list = []
