"""Forms of the staff desk: the list's filters and one small form per case step.

The forms only parse input; whether a step is allowed and valid is the action's call (cases/actions).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from civicgrid.cases import desk_queries
from civicgrid.cases.actions.photos import MAX_BYTES, MAX_PER_CASE
from civicgrid.cases.models import Case, Category, ReturnReason, Satisfaction, Status
from civicgrid.core.models import Unit
from civicgrid.people.models import User

TEXTAREA = {"rows": 3}


def _choices(form: forms.Form, name: str, choices: list[tuple[str, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


# --- the list's filters ---------------------------------------------------------------------------------

SORT_CHOICES = [
    ("-created", "受理时间（新→旧）"),
    ("created", "受理时间（旧→新）"),
    ("due", "办理期限（近→远）"),
    ("-due", "办理期限（远→近）"),
]


class CaseFilterForm(forms.Form):
    """The GET parameters of /cases/list/ and /cases/export.xlsx."""

    q = forms.CharField(label="搜索", required=False, max_length=100)
    status = forms.ChoiceField(label="状态", required=False)
    category = forms.ChoiceField(label="分类", required=False)
    unit = forms.ChoiceField(label="单位", required=False)
    overdue = forms.ChoiceField(
        label="超期", required=False, choices=[("", "全部"), ("1", "已超期"), ("0", "未超期")]
    )
    created_from = forms.DateField(
        label="受理日期从", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(label="到", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(label="排序", required=False, choices=SORT_CHOICES)

    def __init__(self, user: User, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update({"placeholder": "编号、标题、描述、地址", "type": "search"})
        _choices(self, "status", [("", "全部"), (desk_queries.OPEN, "未办结"), *Status.choices])
        self.categories = {str(c.pk): c for c in Category.objects.select_related("parent").order_by("code")}
        categories = [
            (pk, f"{c.name}（大类）" if c.parent_id is None else f"　{c.name}")
            for pk, c in self.categories.items()
        ]
        _choices(self, "category", [("", "全部"), *categories])
        self.units = {str(u.pk): u for u in desk_queries.filter_units(user)}
        units = [(pk, f"{u.name}（{u.get_kind_display()}）") for pk, u in self.units.items()]
        _choices(self, "unit", [("", "全部"), *units])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("created_from"), data.get("created_to")
        if isinstance(start, date) and isinstance(end, date) and start > end:
            self.add_error("created_to", "结束日期不能早于开始日期")
        return data

    def filters(self) -> desk_queries.CaseFilters:
        data = self.cleaned_data if self.is_bound else {}
        overdue = data.get("overdue") or ""
        return desk_queries.CaseFilters(
            q=data.get("q") or "",
            status=data.get("status") or "",
            category=self.categories.get(data.get("category") or ""),
            unit=self.units.get(data.get("unit") or ""),
            overdue=None if overdue == "" else overdue == "1",
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            sort=data.get("sort") or "-created",
        )


# --- step forms -------------------------------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several images in one input; each at most the action's size limit (it re-checks the content)."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp", "multiple": True})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        if not items and self.required:
            raise forms.ValidationError("请选择要上传的照片")
        if len(items) > MAX_PER_CASE:
            raise forms.ValidationError(f"每个工单最多 {MAX_PER_CASE} 张照片")
        files = [super(PhotosField, self).clean(item, initial) for item in items]
        for f in files:
            if f.size and f.size > MAX_BYTES:
                raise forms.ValidationError(f"文件“{f.name}”超过 10 MB")
        return files


class StepForm(forms.Form):
    """A step's form; `case` and `user` let a form offer only what this user may choose."""

    multipart = False

    def __init__(self, case: Case, user: User, *args: Any, **kwargs: Any):
        self.case, self.user = case, user
        super().__init__(*args, **kwargs)


def _note(label: str = "说明", required: bool = False, max_length: int = 2000) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, max_length=max_length, widget=forms.Textarea(attrs=TEXTAREA)
    )


class NoteForm(StepForm):
    note = _note()


class ReasonForm(StepForm):
    reason = _note("理由", required=True, max_length=500)


class DispatchForm(StepForm):
    lead_unit = forms.ChoiceField(label="主办单位")
    assisting_units = forms.MultipleChoiceField(
        label="协办单位（可多选）", required=False, widget=forms.SelectMultiple(attrs={"size": 5})
    )
    note = _note()

    def __init__(self, case: Case, user: User, *args: Any, **kwargs: Any):
        super().__init__(case, user, *args, **kwargs)
        self.targets = {str(u.pk): u for u in desk_queries.dispatch_targets(case, user)}
        choices = [(pk, f"{u.name}（{u.get_kind_display()}）") for pk, u in self.targets.items()]
        _choices(self, "lead_unit", [("", "请选择"), *choices])
        _choices(self, "assisting_units", choices)
        default = case.category.default_lead_unit_id if case.category_id and case.category else None
        if default is not None and str(default) in self.targets:
            self.initial.setdefault("lead_unit", str(default))

    def clean_lead_unit(self) -> Unit:
        return self.targets[self.cleaned_data["lead_unit"]]

    def clean_assisting_units(self) -> list[Unit]:
        return [self.targets[pk] for pk in self.cleaned_data["assisting_units"]]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lead = data.get("lead_unit")
        if lead is not None and lead in (data.get("assisting_units") or []):
            self.add_error("assisting_units", "主办单位不能同时是协办单位")
        return data


class ReturnForm(StepForm):
    reason_code = forms.ChoiceField(label="退回原因", choices=ReturnReason.choices, widget=forms.RadioSelect)
    note = _note()


class ExtensionForm(StepForm):
    working_days = forms.IntegerField(label="延期工作日", min_value=1, max_value=30, initial=3)
    reason = _note("理由", required=True, max_length=500)


class ArriveForm(StepForm):
    lat = forms.FloatField(label="纬度", min_value=-90, max_value=90)
    lng = forms.FloatField(label="经度", min_value=-180, max_value=180)
    note = _note()

    def __init__(self, case: Case, user: User, *args: Any, **kwargs: Any):
        super().__init__(case, user, *args, **kwargs)
        for name in ("lat", "lng"):
            self.fields[name].widget.attrs.update({"step": "any", "inputmode": "decimal"})


class FeedbackForm(StepForm):
    multipart = True
    result = _note("办理结果", required=True, max_length=5000)
    photos = PhotosField(label="现场照片（可多张）", required=False)
    # Photos already uploaded by an attempt whose feedback failed; sent again with the retry.
    photo_ids = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_photo_ids(self) -> list[int]:
        raw = self.cleaned_data.get("photo_ids") or ""
        try:
            return [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError("照片编号有误") from None


class PhotosForm(StepForm):
    multipart = True
    photos = PhotosField(label="照片（可多张）", required=True)


class RecheckForm(StepForm):
    passed = forms.TypedChoiceField(
        label="核查结果",
        choices=[("1", "通过，结案"), ("0", "不通过，返工")],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    note = _note("核查意见（不通过时必填）")


class RateForm(StepForm):
    satisfaction = forms.ChoiceField(label="满意度", choices=Satisfaction.choices, widget=forms.RadioSelect)
    resolved = forms.TypedChoiceField(
        label="是否解决",
        choices=[("1", "已解决"), ("0", "未解决")],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    comment = _note("回访意见", max_length=500)


class MergeForm(StepForm):
    into = forms.CharField(label="合并到工单编号", max_length=24)
    note = _note()

    def clean_into(self) -> str:
        return self.cleaned_data["into"].strip().upper()


STEP_FORMS: dict[str, type[StepForm]] = {
    "register": NoteForm,
    "reject": ReasonForm,
    "whistle": NoteForm,
    "merge": MergeForm,
    "dispatch": DispatchForm,
    "sign": NoteForm,
    "return": ReturnForm,
    "request_extension": ExtensionForm,
    "approve_extension": NoteForm,
    "deny_extension": ReasonForm,
    "defer": ReasonForm,
    "arrive": ArriveForm,
    "feedback": FeedbackForm,
    "photos": PhotosForm,
    "recheck": RecheckForm,
    "rate": RateForm,
    "reopen": ReasonForm,
    "urge": NoteForm,
    "supervise": NoteForm,
}
