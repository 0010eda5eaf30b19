from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from civicgrid.people.models import NoticeChoice, User, site_default


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=_("原密码"), strip=False, widget=forms.PasswordInput)
    new_password = forms.CharField(label=_("新密码"), strip=False, widget=forms.PasswordInput)
    new_password_again = forms.CharField(label=_("再次输入新密码"), strip=False, widget=forms.PasswordInput)

    def clean(self):
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", _("两次输入的新密码不一致"))
        return data


class TokenForm(forms.Form):
    name = forms.CharField(label=_("令牌名称"), max_length=60, required=False)


class NoticeChoicesForm(forms.Form):
    """A person's own choice of what reaches them by SMS and e-mail; the inbox gets every notice."""

    # Not required: "" is a choice (the site's default), not a missing answer.
    sms = forms.ChoiceField(label=_("短信"), required=False)
    email = forms.ChoiceField(label=_("电子邮件"), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"sms": user.sms_notices, "email": user.email_notices})
        super().__init__(*args, **kwargs)
        addresses = {
            "sms": user.masked_phone,
            "email": user.email,
        }
        missing = {
            "sms": _("账号未登记手机号，短信不会发出；请系统管理员登记。"),
            "email": _("账号未登记电子邮箱，邮件不会发出；请系统管理员登记。"),
        }
        for name, field in self.fields.items():
            default = site_default(name)
            assert isinstance(field, forms.ChoiceField)
            field.choices = [
                (value, _("按系统默认（%(default)s）") % {"default": default.label} if value == "" else label)
                for value, label in NoticeChoice.choices
            ]
            field.help_text = (
                _("发往 %(address)s") % {"address": addresses[name]} if addresses[name] else missing[name]
            )
