from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.utils.translation import gettext_lazy as _

from civicgrid.core import crypto
from civicgrid.people import actions
from civicgrid.people.models import ApiToken, Membership, NoticeChoice, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["unit"]


class UserForm(UserChangeForm):
    """The account, with its mobile written only: the number is stored encrypted and never shown
    back whole (PRODUCT.md: phone numbers are not shown unmasked without a grant)."""

    phone = forms.CharField(label=_("手机号"), required=False, max_length=30)
    clear_phone = forms.BooleanField(label=_("清除手机号"), required=False)
    # Written through people.actions.set_notice_choices (audited), as the person's own page does.
    notices_sms = forms.ChoiceField(label=_("短信通知"), choices=NoticeChoice.choices, required=False)
    notices_email = forms.ChoiceField(label=_("邮件通知"), choices=NoticeChoice.choices, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        masked = self.instance.masked_phone if self.instance.pk else ""
        self.fields["phone"].help_text = (
            _("现为 %(masked)s；填写新号码替换，留空不变") % {"masked": masked}
            if masked
            else _("用于短信通知；留空则不发短信")
        )
        self.initial.setdefault("notices_sms", self.instance.sms_notices)
        self.initial.setdefault("notices_email", self.instance.email_notices)

    def clean_phone(self) -> str:
        value = crypto.plain_phone(self.cleaned_data["phone"])
        if value and not crypto.is_phone(value):
            raise forms.ValidationError(_("手机号格式不正确"))
        return value


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserForm
    inlines = [MembershipInline]
    list_display = ["username", "display_name", "masked_phone", "is_staff", "is_active", "last_login"]
    fieldsets = (  # type: ignore[assignment]
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        ("Civic Grid", {"fields": ["display_name", "phone", "clear_phone", "notices_sms", "notices_email"]}),
    )
    search_fields = ["username", "display_name"]

    def save_model(self, request: Any, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # The mobile through its action: encrypted and audited (left empty, it stays as it was).
        if form.cleaned_data.get("clear_phone"):
            actions.set_phone(obj, "", by=request.user)
        elif form.cleaned_data.get("phone"):
            actions.set_phone(obj, form.cleaned_data["phone"], by=request.user)
        sms, email = form.cleaned_data.get("notices_sms", ""), form.cleaned_data.get("notices_email", "")
        actions.set_notice_choices(obj, sms=sms, email=email, by=request.user)

    @admin.display(description=_("手机号"))
    def masked_phone(self, user: User) -> str:
        return user.masked_phone


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "unit", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "unit__name"]
    raw_id_fields = ["user", "unit"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "digest", "created_at", "last_used_at"]
    search_fields = ["user__username", "prefix"]

    def has_add_permission(self, request):
        return False  # tokens are made by the API or the tokens page, which show the secret once
