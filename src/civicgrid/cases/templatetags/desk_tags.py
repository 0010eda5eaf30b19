"""`{% load desk_tags %}{% desk_messages %}`: the texts desk.js shows, translated, as a JSON script."""

from __future__ import annotations

from django import template
from django.utils.html import json_script
from django.utils.safestring import SafeString
from django.utils.translation import gettext

register = template.Library()


@register.simple_tag
def desk_messages() -> SafeString:
    """desk.js reads these by key from #desk-messages and fills each %(name)s itself."""
    return json_script(
        {
            "locating": gettext("正在定位…"),
            "located": gettext("已定位（精度约 %(m)s 米）"),
            "locateFailed": gettext("无法获取位置，请手动填写"),
        },
        "desk-messages",
    )
