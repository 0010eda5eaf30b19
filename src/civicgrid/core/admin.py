from django.contrib import admin

from civicgrid.core import actions
from civicgrid.core.models import AuditEntry, CalendarOverride, Unit


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "code", "parent", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code"]
    raw_id_fields = ["parent"]
    fields = ["kind", "name", "code", "parent", "polygon", "is_active"]

    def save_model(self, request, obj, form, change):
        # Through the actions, so that paths, bounding boxes and the audit stay right.
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            actions.update_unit(obj, by=request.user, **changes)
        else:
            created = actions.create_unit(
                kind=obj.kind,
                name=obj.name,
                parent=obj.parent,
                code=obj.code,
                polygon=obj.polygon,
                by=request.user,
            )
            obj.pk = created.pk


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin):
    list_display = ["date", "is_workday", "note"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type", ("at", admin.DateFieldListFilter)]
    search_fields = ["object_id", "object_repr", "actor__username"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
