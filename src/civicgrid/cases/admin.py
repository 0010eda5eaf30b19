from django.contrib import admin

from civicgrid.cases.models import Category


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "parent",
        "nature",
        "handle_limit",
        "handle_limit_unit",
        "default_lead_unit",
        "anonymous_allowed",
        "arrival_required",
        "public",
        "is_active",
    ]
    list_filter = ["nature", "handle_limit_unit", "public", "is_active", "parent"]
    search_fields = ["code", "name"]
    raw_id_fields = ["default_lead_unit"]
