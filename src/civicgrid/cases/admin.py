"""Configuration of categories; cases are shown read-only, since only cases/actions.py changes them."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from civicgrid.cases.models import Case, CaseAssignment, CaseStep, Category, ExtensionRequest


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
    fieldsets = [
        (None, {"fields": ["code", "name", "parent", "nature", "description", "default_lead_unit"]}),
        (
            _("时限（留空为默认值，见 docs/time-limits.md）"),
            {
                "fields": [
                    ("handle_limit", "handle_limit_unit"),
                    ("sign_limit_hours", "urgent_sign_limit_minutes"),
                    "answer_limit_hours",
                    "recheck_limit_days",
                    "rating_window_days",
                ]
            },
        ),
        (None, {"fields": ["anonymous_allowed", "arrival_required", "public", "is_active"]}),
    ]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AssignmentInline(ReadOnlyInline):
    model = CaseAssignment
    fields = ("unit", "role", "active", "dispatched_at", "signed_at", "arrived_at")
    readonly_fields = fields


class StepInline(ReadOnlyInline):
    model = CaseStep
    fields = ("at", "action", "actor", "unit", "from_status", "to_status", "note")
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """A window on cases for administrators; every change goes through the actions (desk or API)."""

    list_display = [
        "number",
        "status",
        "category",
        "urgency",
        "lead_unit",
        "territory",
        "due_at",
        "created_at",
    ]
    list_filter = ["status", "urgency", "channel", "warn_level", "deferred"]
    search_fields = ["number", "title"]
    date_hierarchy = "created_at"
    list_select_related = ["category", "lead_unit", "territory"]
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page
    # The reporter's encrypted columns are left out: the admin is no place to read them.
    exclude = ["reporter_name_enc", "reporter_phone_enc", "reporter_phone_index", "request_hash"]
    inlines = [AssignmentInline, StepInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Case._meta.fields if f.name not in self.exclude]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ExtensionRequest)
class ExtensionRequestAdmin(admin.ModelAdmin):
    list_display = ["case", "unit", "working_days", "status", "requested_at", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["case", "unit"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
