"""Forms of the staff desk: the list's filters and one small form per case step.

The forms only parse input; whether a step is allowed and valid is the action's call (cases/actions).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from civicgrid.cases import desk_queries, queries, rules
from civicgrid.cases.actions.handling import DEFER_DEFAULT_DAYS, DEFER_MAX_DAYS
from civicgrid.cases.actions.photos import MAX_BYTES, MAX_PER_CASE
from civicgrid.cases.models import Case, Category, ReturnReason, Satisfaction, Status
from civicgrid.core import crypto
from civicgrid.core.models import Unit
from civicgrid.people.models import User

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

TEXTAREA = {"rows": 3}
# The list's date filters take the days queries.filter_cases can bound; the picker offers no others.
_FIRST, _LAST = queries.FILTER_DATES
DATE_BOUNDS: dict[str, Any] = {
    "validators": [MinValueValidator(_FIRST), MaxValueValidator(_LAST)],
    "widget": forms.DateInput(attrs={"type": "date", "min": _FIRST.isoformat(), "max": _LAST.isoformat()}),
}
NOTE_LABEL = _("说明")


def _by_kind(units: dict[str, Unit]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Units as choices grouped by kind (职能部门, 内设机构, 社区, 网格: an <optgroup> each), in the order
    given: a subdistrict offers some 250 units, which one flat list made hard to find on a phone."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for pk, unit in units.items():
        groups.setdefault(str(unit.get_kind_display()), []).append((pk, unit.name))
    return list(groups.items())


def _choices(form: forms.Form, name: str, choices: list[tuple[str, Any]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


# --- the list's filters ---------------------------------------------------------------------------------

SORT_CHOICES = [
    ("-created", _("受理时间（新→旧）")),
    ("created", _("受理时间（旧→新）")),
    ("due", _("办理期限（近→远）")),
    ("-due", _("办理期限（远→近）")),
]


class CaseFilterForm(forms.Form):
    """The GET parameters of /cases/list/ and /cases/export.xlsx."""

    q = forms.CharField(label=_("搜索"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("状态"), required=False)
    category = forms.ChoiceField(label=_("分类"), required=False)
    unit = forms.ChoiceField(label=_("单位"), required=False)
    overdue = forms.ChoiceField(
        label=_("超期"),
        required=False,
        choices=[("", _("全部")), ("1", _("已超期")), ("0", _("未超期"))],
    )
    created_from = forms.DateField(label=_("受理日期从"), required=False, **DATE_BOUNDS)
    created_to = forms.DateField(label=_("到"), required=False, **DATE_BOUNDS)
    phone = forms.CharField(label=_("反映人电话"), required=False, max_length=30)
    sort = forms.ChoiceField(label=_("排序"), required=False, choices=SORT_CHOICES)

    def __init__(self, user: User, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update(
            {"placeholder": gettext("编号、标题、描述、地址"), "type": "search"}
        )
        _choices(
            self, "status", [("", gettext("全部")), (desk_queries.OPEN, gettext("未办结")), *Status.choices]
        )
        self.categories = {str(c.pk): c for c in Category.objects.select_related("parent").order_by("code")}
        categories = [
            (pk, gettext("%(name)s（大类）") % {"name": c.name} if c.parent_id is None else f"　{c.name}")
            for pk, c in self.categories.items()
        ]
        _choices(self, "category", [("", gettext("全部")), *categories])
        self.units = {str(u.pk): u for u in desk_queries.filter_units(user)}
        _choices(self, "unit", [("", gettext("全部")), *_by_kind(self.units)])
        # Only those who may see reporters look a caller up (queries.reported_from).
        if user.is_superuser or rules.has_role(user, rules.REPORTER_ROLES):
            self.fields["phone"].widget.attrs.update(
                {"type": "tel", "placeholder": gettext("查来电的历史工单")}
            )
        else:
            del self.fields["phone"]

    def clean_phone(self) -> str:
        value = crypto.plain_phone(self.cleaned_data.get("phone") or "")
        if value and not crypto.is_phone(value):
            raise forms.ValidationError(gettext("电话号码格式不正确"))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("created_from"), data.get("created_to")
        if isinstance(start, date) and isinstance(end, date) and start > end:
            self.add_error("created_to", gettext("结束日期不能早于开始日期"))
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
            phone=data.get("phone") or "",
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
            raise forms.ValidationError(gettext("请选择要上传的照片"))
        if len(items) > MAX_PER_CASE:
            raise forms.ValidationError(
                ngettext("每个工单最多 %(n)s 张照片", "每个工单最多 %(n)s 张照片", MAX_PER_CASE)
                % {"n": MAX_PER_CASE}
            )
        files = [super(PhotosField, self).clean(item, initial) for item in items]
        for f in files:
            if f.size and f.size > MAX_BYTES:
                raise forms.ValidationError(gettext("文件“%(name)s”超过 10 MB") % {"name": f.name})
        return files


class StepForm(forms.Form):
    """A step's form; `case` and `user` let a form offer only what this user may choose."""

    multipart = False

    def __init__(self, case: Case, user: User, *args: Any, **kwargs: Any):
        self.case, self.user = case, user
        super().__init__(*args, **kwargs)


def _note(
    label: StrOrPromise = NOTE_LABEL, required: bool = False, max_length: int = 2000
) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, max_length=max_length, widget=forms.Textarea(attrs=TEXTAREA)
    )


class NoteForm(StepForm):
    note = _note()


class ReasonForm(StepForm):
    reason = _note(_("理由"), required=True, max_length=500)


class DeferForm(ReasonForm):
    resume_on = forms.DateField(
        label=_("恢复办理日期"),
        required=False,
        help_text=_("到期后系统自动恢复办理，主办单位重新计时"),
        # ISO, as <input type="date"> takes it (the locale's format would read 2026/12/28).
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, case: Case, user: User, *args: Any, **kwargs: Any):
        super().__init__(case, user, *args, **kwargs)
        # The picker offers the days the action takes (actions.handling.resume_day).
        today = timezone.localdate()
        field = self.fields["resume_on"]
        # Deferring a deferred case again usually moves its day on: start from the day it has.
        current = case.resume_on if case.resume_on and case.resume_on > today else None
        field.initial = current or today + timedelta(days=DEFER_DEFAULT_DAYS)
        field.widget.attrs.update(
            min=(today + timedelta(days=1)).isoformat(),
            max=(today + timedelta(days=DEFER_MAX_DAYS)).isoformat(),
        )


class DispatchForm(StepForm):
    lead_unit = forms.ChoiceField(label=_("主办单位"))
    assisting_units = forms.MultipleChoiceField(
        label=_("协办单位（可多选）"), required=False, widget=forms.SelectMultiple(attrs={"size": 8})
    )
    note = _note()

    def __init__(self, case: Case, user: User, *args: Any, **kwargs: Any):
        super().__init__(case, user, *args, **kwargs)
        self.targets = {str(u.pk): u for u in desk_queries.dispatch_targets(case, user)}
        choices = _by_kind(self.targets)
        _choices(self, "lead_unit", [("", gettext("请选择")), *choices])
        _choices(self, "assisting_units", choices)
        # Some fifty departments and offices: desk.js puts a box above the list that narrows it.
        self.fields["assisting_units"].widget.attrs["data-filter"] = gettext("输入名称筛选")
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
            self.add_error("assisting_units", gettext("主办单位不能同时是协办单位"))
        return data


class ReturnForm(StepForm):
    reason_code = forms.ChoiceField(
        label=_("退回原因"), choices=ReturnReason.choices, widget=forms.RadioSelect
    )
    note = _note()


class ExtensionForm(StepForm):
    working_days = forms.IntegerField(label=_("延期工作日"), min_value=1, max_value=30, initial=3)
    reason = _note(_("理由"), required=True, max_length=500)


class _WithPhotos(StepForm):
    """A step that carries photos of the site (views.steps stores them first, then the step)."""

    multipart = True
    photos = PhotosField(label=_("现场照片（可多张）"), required=False)
    # Photos already uploaded by an attempt whose step failed; sent again with the retry.
    photo_ids = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_photo_ids(self) -> list[int]:
        raw = self.cleaned_data.get("photo_ids") or ""
        try:
            return [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(gettext("照片编号有误")) from None


class ArriveForm(_WithPhotos):
    lat = forms.FloatField(label=_("纬度"), min_value=-90, max_value=90)
    lng = forms.FloatField(label=_("经度"), min_value=-180, max_value=180)
    note = _note()
    field_order = ["lat", "lng", "note", "photos"]

    def __init__(self, case: Case, user: User, *args: Any, **kwargs: Any):
        super().__init__(case, user, *args, **kwargs)
        for name in ("lat", "lng"):
            self.fields[name].widget.attrs.update({"step": "any", "inputmode": "decimal"})


class FeedbackForm(_WithPhotos):
    result = _note(_("办理结果"), required=True, max_length=5000)
    field_order = ["result", "photos"]


class PhotosForm(StepForm):
    multipart = True
    photos = PhotosField(label=_("照片（可多张）"), required=True)


class RecheckForm(StepForm):
    passed = forms.TypedChoiceField(
        label=_("核查结果"),
        choices=[("1", _("通过，结案")), ("0", _("不通过，返工"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    note = _note(_("核查意见（不通过时必填）"))


class RateForm(StepForm):
    satisfaction = forms.ChoiceField(
        label=_("满意度"), choices=Satisfaction.choices, widget=forms.RadioSelect
    )
    resolved = forms.TypedChoiceField(
        label=_("是否解决"),
        choices=[("1", _("已解决")), ("0", _("未解决"))],
        coerce=lambda v: v == "1",
        widget=forms.RadioSelect,
    )
    comment = _note(_("回访意见"), max_length=500)


class MergeForm(StepForm):
    into = forms.CharField(label=_("合并到工单编号"), max_length=24)
    note = _note()

    def clean_into(self) -> str:
        return self.cleaned_data["into"].strip().upper()


STEP_FORMS: dict[str, type[StepForm]] = {
    "register": NoteForm,
    "reject": ReasonForm,
    "whistle": NoteForm,
    "merge": MergeForm,
    "dispatch": DispatchForm,
    "offer": NoteForm,
    "claim": NoteForm,
    "sign": NoteForm,
    "return": ReturnForm,
    "request_extension": ExtensionForm,
    "approve_extension": NoteForm,
    "deny_extension": ReasonForm,
    "defer": DeferForm,
    "resume": NoteForm,
    "arrive": ArriveForm,
    "feedback": FeedbackForm,
    "photos": PhotosForm,
    "recheck": RecheckForm,
    "rate": RateForm,
    "reopen": ReasonForm,
    "urge": NoteForm,
    "supervise": NoteForm,
}
