"""Configuration of intake: the block list, extra questions per category, Open311 keys, mobile reporters."""

from __future__ import annotations

import ipaddress
import json

from django import forms
from django.contrib import admin, messages

from civicgrid.core import crypto
from civicgrid.intake import actions
from civicgrid.intake.models import (
    Block,
    BlockKind,
    MobileReporterProfile,
    Open311Key,
    ServiceDefinition,
    Submission,
)

SUBMISSION_FIELDS: list[str] = [
    "case",
    "source",
    "filer",
    "on_behalf",
    "company",
    "location_source",
    "ip",
    "created_at",
    "api_key",
    "device_id",
    "attributes",
]
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}


class BlockForm(forms.ModelForm):
    phone = forms.CharField(
        label="手机号", required=False, help_text="只保存其盲索引和脱敏形式，不保存号码本身"
    )

    class Meta:
        model = Block
        fields = ["kind", "network", "phone", "reason", "until"]

    def clean(self):
        data = super().clean() or {}
        if data.get("kind") == BlockKind.IP:
            try:
                ipaddress.ip_network(data.get("network") or "", strict=False)
            except ValueError:
                self.add_error("network", "请输入 IP 地址或网段，如 10.1.2.3 或 10.1.2.0/24")
        elif data.get("kind") == BlockKind.PHONE and not (data.get("phone") or self.instance.phone_index):
            self.add_error("phone", "请输入手机号")
        return data

    def save(self, commit=True):
        row = super().save(commit=False)
        phone = "".join((self.cleaned_data.get("phone") or "").split())
        if row.kind == BlockKind.PHONE and phone:
            row.phone_index = crypto.blind_index(phone)
            row.phone_hint = crypto.mask_phone(phone)
            row.network = ""
        if commit:
            row.save()
        return row


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    form = BlockForm
    list_display = ["__str__", "kind", "reason", "until", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["network", "phone_hint", "reason"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class ServiceDefinitionForm(forms.ModelForm):
    class Meta:
        model = ServiceDefinition
        fields = ["category", "group", "keywords", "service_notice", "attributes"]

    def clean_attributes(self):
        value = self.cleaned_data["attributes"]
        if isinstance(value, str):
            value = json.loads(value or "[]")
        if not isinstance(value, list):
            raise forms.ValidationError("应为列表")
        codes = set()
        for a in value:
            if not isinstance(a, dict) or not a.get("code") or a.get("datatype", "string") not in DATATYPES:
                raise forms.ValidationError("每项须有 code，datatype 为 " + "、".join(sorted(DATATYPES)))
            if a["code"] in codes:
                raise forms.ValidationError(f"code 重复：{a['code']}")
            codes.add(a["code"])
            if a.get("datatype") in ("singlevaluelist", "multivaluelist") and not a.get("values"):
                raise forms.ValidationError(f"{a['code']} 需要 values 选项")
        return value


@admin.register(ServiceDefinition)
class ServiceDefinitionAdmin(admin.ModelAdmin):
    form = ServiceDefinitionForm
    list_display = ["category", "group", "keywords"]
    search_fields = ["category__code", "category__name", "keywords"]
    raw_id_fields = ["category"]


@admin.register(Open311Key)
class Open311KeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "unit", "gateway", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["name", "unit", "gateway", "filer", "prefix", "created_at", "last_used_at", "revoked_at"]
    raw_id_fields = ["unit", "filer"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        row, key = actions.issue_open311_key(name=obj.name, unit=obj.unit, by=request.user)
        if obj.gateway or obj.filer_id:
            Open311Key.objects.filter(pk=row.pk).update(gateway=obj.gateway, filer=obj.filer)
        obj.pk = row.pk
        obj.prefix, obj.digest, obj.created_at = row.prefix, row.digest, row.created_at
        messages.warning(request, f"API 密钥（只显示这一次，请立即保存）：{key}")


@admin.register(MobileReporterProfile)
class MobileReporterProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "company", "verified", "created_at"]
    list_filter = ["kind", "verified"]
    search_fields = ["user__username", "user__display_name", "company"]
    raw_id_fields = ["user"]


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    """Read-only: how each case came in (no reporter data here)."""

    list_display = ["case", "source", "filer", "on_behalf", "company", "location_source", "ip", "created_at"]
    list_filter = ["source", "on_behalf", "location_source"]
    search_fields = ["case__number", "company"]
    fields = tuple(SUBMISSION_FIELDS)
    readonly_fields = SUBMISSION_FIELDS

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
