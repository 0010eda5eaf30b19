"""Routing configuration in the admin: keyword rules (saved only after their dry run was shown), unit
rules, known places, model versions (activate, roll back, train now), suggestions and corrections."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from civicgrid.core import audit
from civicgrid.core.errors import DomainError
from civicgrid.routing import registry, rules, training
from civicgrid.routing.models import (
    CaseKeywords,
    KeywordRule,
    KnownPlace,
    RoutingCorrection,
    RoutingModel,
    RoutingSuggestion,
    UnitRule,
)


class KeywordRuleForm(forms.ModelForm):
    """Saving takes two submits: the first shows the dry run, the second (unchanged) saves."""

    dry_run_seen = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = KeywordRule
        fields = ["phrase", "category", "priority", "is_active", "note"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        phrase, category = " ".join((data.get("phrase") or "").split()), data.get("category")
        if not phrase or category is None:
            return data
        data["phrase"] = phrase
        priority = data.get("priority") or 0
        result = rules.dry_run(phrase, category, priority=priority, exclude_rule=self.instance.pk)
        self.dry_run_result = result
        key = f"{phrase}|{category.pk}|{priority}|{result.changed}"
        if self.data.get("dry_run_seen") != key:
            # Bound forms render from self.data: the next submit carries what this one showed.
            data = self.data.copy()  # type: ignore[attr-defined]
            data["dry_run_seen"] = key
            self.data = data
            examples = "；".join(f"{e['number']}（{e['from']}→{e['to']}）" for e in result.examples[:5])
            raise forms.ValidationError(
                f"试运行：{result.summary()}。{('例如：' + examples + '。') if examples else ''}"
                "确认无误请再次点击保存。"
            )
        return data


@admin.register(KeywordRule)
class KeywordRuleAdmin(admin.ModelAdmin):
    form = KeywordRuleForm
    list_display = ["phrase", "category", "priority", "is_active", "changed_when_saved", "updated_at"]
    list_filter = ["is_active", "category__parent"]
    search_fields = ["phrase", "note", "category__name"]
    actions = ["run_dry_run"]

    @admin.display(description="保存时将改变分类")
    def changed_when_saved(self, obj: KeywordRule) -> Any:
        return (obj.dry_run or {}).get("changed", "—")

    def save_model(self, request: HttpRequest, obj: KeywordRule, form: Any, change: bool) -> None:
        result = getattr(form, "dry_run_result", None)
        if result is not None:
            obj.dry_run = result.as_dict()
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        audit.record(
            request.user,
            "routing.rule.save",
            obj,
            after=audit.snapshot(obj, ["phrase", "category", "priority", "is_active"]),
        )

    @admin.action(description="试运行所选规则")
    def run_dry_run(self, request: HttpRequest, queryset: QuerySet[KeywordRule]) -> None:
        for rule in queryset.select_related("category"):
            result = rules.dry_run(rule.phrase, rule.category, priority=rule.priority, exclude_rule=rule.pk)
            self.message_user(request, f"「{rule.phrase}」{result.summary()}", messages.INFO)


@admin.register(UnitRule)
class UnitRuleAdmin(admin.ModelAdmin):
    list_display = ["category", "territory", "lead_unit", "lead_place", "priority", "is_active"]
    list_filter = ["is_active", "lead_place", "category__nature"]
    search_fields = ["category__name", "territory__name", "lead_unit__name", "note"]
    raw_id_fields = ["territory", "lead_unit"]


@admin.register(KnownPlace)
class KnownPlaceAdmin(admin.ModelAdmin):
    list_display = ["name", "unit"]
    search_fields = ["name", "unit__name"]
    raw_id_fields = ["unit"]


@admin.register(RoutingModel)
class RoutingModelAdmin(admin.ModelAdmin):
    list_display = ["version", "is_active", "trained_at", "data_size", "corrections", "headline", "note"]
    readonly_fields = [f.name for f in RoutingModel._meta.fields]
    actions = ["activate_selected", "roll_back", "train_now"]

    @admin.display(description="交叉验证")
    def headline(self, obj: RoutingModel) -> str:
        scores = obj.scores or {}
        parts = [
            f"{k} {v:.3f}" for k, v in scores.items() if isinstance(v, float) and k != "target_precision"
        ]
        return "，".join(parts[:3]) + (
            f"；可自动派遣 {scores.get('auto_labels')} 类" if "auto_labels" in scores else ""
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="启用所选版本")
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[RoutingModel]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "请只选一个版本", messages.ERROR)
            return
        try:
            row = registry.activate(queryset.get().version, by=request.user)  # type: ignore[arg-type]
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"已启用 v{row.version}")

    @admin.action(description="回滚到上一版本（无需选择）")
    def roll_back(self, request: HttpRequest, queryset: QuerySet[RoutingModel]) -> None:
        try:
            row = registry.rollback(by=request.user)  # type: ignore[arg-type]
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"已回滚到 v{row.version}")

    @admin.action(description="用已办结工单立即训练新版本（无需选择）")
    def train_now(self, request: HttpRequest, queryset: QuerySet[RoutingModel]) -> None:
        try:
            row = training.train_from_cases(by=request.user, note="管理员手动训练")  # type: ignore[arg-type]
        except DomainError as exc:
            self.message_user(request, f"{exc.message}：{exc.details}", messages.ERROR)
            return
        self.message_user(request, f"已训练并启用 v{row.version}（{row.data_size} 个样本）")


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RoutingSuggestion)
class RoutingSuggestionAdmin(ReadOnly):
    list_display = [
        "case",
        "category",
        "confidence",
        "threshold",
        "lead_unit",
        "decided_automatically",
        "wait_reason",
    ]
    list_filter = ["decided_automatically", "source", "model_version"]
    search_fields = ["case__number"]
    list_select_related = ["case", "category", "lead_unit"]


@admin.register(RoutingCorrection)
class RoutingCorrectionAdmin(ReadOnly):
    list_display = [
        "case",
        "at",
        "by",
        "suggested_category",
        "final_category",
        "suggested_unit",
        "final_unit",
    ]
    list_filter = ["category_changed", "unit_changed", "was_automatic", "model_version"]
    search_fields = ["case__number"]
    list_select_related = [
        "case",
        "by",
        "suggested_category",
        "final_category",
        "suggested_unit",
        "final_unit",
    ]


@admin.register(CaseKeywords)
class CaseKeywordsAdmin(ReadOnly):
    list_display = ["case", "words", "case_created_at"]
    search_fields = ["case__number"]
