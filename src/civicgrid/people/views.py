"""Login, logout, password change, API tokens and the desk."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from civicgrid.cases import desk_queries
from civicgrid.cases import rules as case_rules
from civicgrid.core.errors import InvalidInput, NotFound
from civicgrid.core.models import Unit, UnitKind
from civicgrid.people import actions
from civicgrid.people.forms import LoginForm, NoticeChoicesForm, PasswordChangeForm, TokenForm
from civicgrid.people.models import ApiToken, User
from civicgrid.people.queries import memberships_of, user_of
from civicgrid.people.roles import DUTIES, DUTY_PAGES


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        keys = actions.throttle_keys(form.cleaned_data["username"], _client_address(request))
        if actions.login_locked_until(keys):
            form.add_error(None, _("登录失败次数过多，请 15 分钟后再试。"))
            status = 429
        else:
            user = authenticate(request, **form.cleaned_data)
            if user is None:
                actions.note_login_failure(keys)
                form.add_error(None, _("用户名或密码错误。"))
                status = 401
            else:
                actions.note_login_success(keys)
                login(request, user)
                target = request.POST.get("next") or request.GET.get("next") or ""
                if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
                    target = ""
                return redirect(target or "people:desk")
    return render(
        request, "people/login.html", {"form": form, "next": request.GET.get("next", "")}, status=status
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("people:login")


@login_required
@require_http_methods(["GET", "POST"])
def password_view(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.change_password(
                user_of(request),
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except InvalidInput as exc:
            for field, problem in (exc.details or {}).items():
                form.add_error(field, problem if isinstance(problem, list) else exc.message)
        else:
            update_session_auth_hash(request, user_of(request))
            messages.success(request, _("密码已修改。"))
            return redirect("people:desk")
    return render(request, "people/password.html", {"form": form}, status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def notices_view(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    form = NoticeChoicesForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        actions.set_notice_choices(user, sms=form.cleaned_data["sms"], email=form.cleaned_data["email"])
        messages.success(request, _("通知设置已保存。"))
        return redirect("people:notices")
    return render(request, "people/notices.html", {"form": form}, status=422 if form.errors else 200)


@login_required
def desk_view(request: HttpRequest) -> HttpResponse:
    memberships = memberships_of(user_of(request))
    cards = []
    for m in memberships:
        below = (
            Unit.objects.filter(path__startswith=m.unit.path)
            .exclude(pk=m.unit.pk)
            .values("kind")
            .annotate(n=Count("id"))
            .order_by("kind")
        )
        cards.append(
            {
                "membership": m,
                "duties": DUTIES.get(m.role, []),
                "pages": DUTY_PAGES.get(m.role, []),
                "below": [{"kind": UnitKind(row["kind"]).label, "n": row["n"]} for row in below],
            }
        )
    return render(request, "people/desk.html", {"cards": cards, "inbox": _case_inbox(user_of(request))})


def _case_inbox(user: User) -> list[dict]:
    """The case inbox tabs of the user's roles with their counts (one COUNT each); [] for non-staff."""
    if not case_rules.is_desk_user(user):
        return []
    return [{"tab": tab, "count": n} for tab, n in desk_queries.tab_counts(user)]


@login_required
@require_http_methods(["GET", "POST"])
def tokens_view(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _, new_token = actions.create_token(user_of(request), name=form.cleaned_data["name"])
    tokens = ApiToken.objects.filter(user=user_of(request)).order_by("-created_at")
    return render(request, "people/tokens.html", {"form": form, "tokens": tokens, "new_token": new_token})


@login_required
@require_POST
def revoke_token_view(request: HttpRequest, pk: int) -> HttpResponse:
    row = ApiToken.objects.filter(user=user_of(request), pk=pk).first()
    if row is None:
        raise NotFound(_("令牌不存在"))
    actions.revoke_token(row, by=user_of(request))
    messages.success(request, f"令牌 {row.prefix}… 已吊销。")
    return redirect("people:tokens")
