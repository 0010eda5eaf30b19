from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.cases.models import Satisfaction
from civicgrid.intake.models import ReporterKind


class TrackForm(forms.Form):
    code = forms.CharField(
        label=_("查询码"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    digits = forms.CharField(
        label=_("手机号后四位（匿名反映可不填）"),
        max_length=4,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class RateForm(forms.Form):
    satisfaction = forms.ChoiceField(
        label=_("满意度"), choices=Satisfaction.choices, widget=forms.RadioSelect
    )
    resolved = forms.ChoiceField(
        label=_("问题是否解决"), choices=[("yes", _("已解决")), ("no", _("未解决"))], widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("意见（可选）"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class JoinForm(forms.Form):
    kind = forms.ChoiceField(label=_("身份"), choices=ReporterKind.choices)
    company = forms.CharField(label=_("所属企业"), max_length=100)
    username = forms.CharField(label=_("用户名"), max_length=150, required=False)
    display_name = forms.CharField(label=_("姓名"), max_length=50, required=False)
    password = forms.CharField(
        label=_("密码（至少 10 位）"), strip=False, required=False, widget=forms.PasswordInput
    )
    website = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"})
    )

    def __init__(self, *args, signed_in: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.signed_in = signed_in
        if signed_in:
            for name in ("username", "display_name", "password"):
                del self.fields[name]
        self.fields["website"].label = _("请勿填写")

    def clean(self):
        data = super().clean() or {}
        if not self.signed_in:
            for name in ("username", "display_name", "password"):
                if not data.get(name):
                    self.add_error(name, _("必填"))
        return data


class AbusiveForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=300, widget=forms.Textarea(attrs={"rows": 3}))
    block_days = forms.ChoiceField(
        label=_("同时屏蔽该反映人（手机号和 IP）"),
        choices=[("", _("不屏蔽")), ("7", _("7 天")), ("30", _("30 天")), ("365", _("一年"))],
        required=False,
    )
