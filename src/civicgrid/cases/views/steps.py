"""One view for every step of a case: GET shows the step's small form, POST runs the action.

With htmx (HX-Request) the form is a fragment and a successful POST answers the re-rendered case
panel; without JS the form is a page and a successful POST redirects to the case. A refused step
answers the action's message in the form with its status: 403 wrong role, 409 wrong state, 422 bad
input (htmx swaps those into the form, see the htmx-config meta in cases/desk_base.html; a 409 swaps
in the case's fresh panel with the message instead, since the case moved on); a case out of the
user's scope is 404 before anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from civicgrid.cases import actions, desk_queries
from civicgrid.cases.forms import STEP_FORMS, StepForm
from civicgrid.cases.models import Case
from civicgrid.cases.queries import get_case_for
from civicgrid.cases.views.common import case_context, is_htmx, staff_page
from civicgrid.core.errors import DomainError, NotFound
from civicgrid.people.models import User
from civicgrid.people.queries import user_of

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

Run = Callable[[Case, User, dict[str, Any]], Any]


def _files(uploads: list) -> list[tuple[str, bytes]]:
    return [(f.name or "photo", f.read()) for f in uploads]


def _with_photos(step: str, run: Run) -> Run:
    """Photos first (checked and stored by actions.add_photos), then the step that carries them.

    If the step is then refused, the stored photos stay on the case without a step; their ids go
    back into the form (data["photo_ids"]) so that the retry attaches them.
    """

    def with_photos(case: Case, user: User, data: dict[str, Any]) -> Any:
        ids = list(data.get("photo_ids") or [])
        if data.get("photos"):
            # Refuse before storing anything when the step itself would be refused.
            case = get_case_for(user, case.number)
            desk_queries.check_step(desk_queries.step_context(case, user), step)
            ids += [p.pk for p in actions.add_photos(case, by=user, files=_files(data["photos"]))]
        data["photo_ids"] = ids
        return run(case, user, data)

    return with_photos


RUNS: dict[str, Run] = {
    "register": lambda c, u, d: actions.register_case(c, by=u, note=d["note"]),
    "reject": lambda c, u, d: actions.reject_case(c, by=u, reason=d["reason"]),
    "whistle": lambda c, u, d: actions.whistle_case(c, by=u, note=d["note"]),
    "merge": lambda c, u, d: actions.merge_case(c, by=u, into=d["into"], note=d["note"]),
    "dispatch": lambda c, u, d: actions.dispatch_case(
        c, by=u, lead_unit=d["lead_unit"], assisting_units=d["assisting_units"], note=d["note"]
    ),
    "offer": lambda c, u, d: actions.offer_case(c, by=u, note=d["note"]),
    "claim": lambda c, u, d: actions.claim_case(c, by=u, note=d["note"]),
    "sign": lambda c, u, d: actions.sign_case(c, by=u, note=d["note"]),
    "return": lambda c, u, d: actions.return_case(c, by=u, reason_code=d["reason_code"], note=d["note"]),
    "request_extension": lambda c, u, d: actions.request_extension(
        c, by=u, working_days=d["working_days"], reason=d["reason"]
    ),
    "approve_extension": lambda c, u, d: actions.approve_extension(c, by=u, note=d["note"]),
    "deny_extension": lambda c, u, d: actions.deny_extension(c, by=u, reason=d["reason"]),
    "defer": lambda c, u, d: actions.defer_case(c, by=u, reason=d["reason"], resume_on=d["resume_on"]),
    "resume": lambda c, u, d: actions.resume_case(c, by=u, note=d["note"]),
    "arrive": _with_photos(
        "arrive",
        lambda c, u, d: actions.arrive_case(
            c, by=u, lat=d["lat"], lng=d["lng"], note=d["note"], photo_ids=d["photo_ids"]
        ),
    ),
    "feedback": _with_photos(
        "feedback",
        lambda c, u, d: actions.feedback_case(c, by=u, result=d["result"], photo_ids=d["photo_ids"]),
    ),
    "photos": lambda c, u, d: actions.add_photos(c, by=u, files=_files(d["photos"])),
    "recheck": lambda c, u, d: actions.recheck_case(c, by=u, passed=d["passed"], note=d["note"]),
    "rate": lambda c, u, d: actions.rate_case(
        c, by=u, satisfaction=d["satisfaction"], resolved=d["resolved"], comment=d["comment"]
    ),
    "reopen": lambda c, u, d: actions.reopen_case(c, by=u, reason=d["reason"]),
    "urge": lambda c, u, d: actions.urge_case(c, by=u, note=d["note"]),
    "supervise": lambda c, u, d: actions.supervise_case(c, by=u, note=d["note"]),
}


def _render_form(
    request: HttpRequest,
    case: Case,
    step: str,
    form: StepForm | None,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    context = {
        "case": case,
        "step": step,
        "label": desk_queries.STEP_LABELS[step],
        "form": form,
        "error": error,
        "htmx": is_htmx(request),
    }
    if not is_htmx(request):
        return render(request, "cases/step_page.html", context, status=status)
    if status == 409:
        # The case moved on under the user (somebody else's step): the panel it now shows, with why,
        # so that no button of the old state stays on the page.
        user = user_of(request)
        panel = {**case_context(get_case_for(user, case.number), user), "refused": error}
        return render(request, "cases/_panel.html", panel, status=status)
    response = render(request, "cases/_step_form.html", context, status=status)
    if status != 200:
        # The form's own target is the case panel; a refusal replaces only the form.
        response["HX-Retarget"] = "#step-form"
        response["HX-Reswap"] = "innerHTML"
    return response


def _done(request: HttpRequest, user: User, number: str, label: StrOrPromise) -> HttpResponse:
    """After a step: the fresh panel (htmx) or a redirect; the inbox if the case left the user's scope."""
    try:
        case = get_case_for(user, number)
    except NotFound:
        messages.success(request, gettext("%(step)s：已完成") % {"step": label})
        if is_htmx(request):
            response = HttpResponse()
            response["HX-Redirect"] = reverse("cases:inbox")
            return response
        return redirect("cases:inbox")
    if is_htmx(request):
        context = case_context(case, user)
        context["done"] = gettext("%(step)s：已完成") % {"step": label}
        response = render(request, "cases/_panel.html", context)
        response["HX-Trigger"] = "case-changed"
        return response
    messages.success(request, gettext("%(step)s：已完成") % {"step": label})
    return redirect("cases:case", number=number)


@staff_page
@require_http_methods(["GET", "POST"])
def step_view(request: HttpRequest, number: str, step: str) -> HttpResponse:
    user = user_of(request)
    case = get_case_for(user, number)  # 404 outside the user's scope, before anything else
    if step not in STEP_FORMS:
        raise NotFound(gettext("未知的操作"))
    label = desk_queries.STEP_LABELS[step]
    try:
        desk_queries.check_step(desk_queries.step_context(case, user), step)
    except DomainError as exc:
        return _render_form(request, case, step, None, status=exc.status, error=exc.message)
    form_class = STEP_FORMS[step]
    if request.method == "GET":
        return _render_form(request, case, step, form_class(case, user))
    form = form_class(case, user, request.POST, request.FILES)
    if not form.is_valid():
        return _render_form(request, case, step, form, status=422)
    data = dict(form.cleaned_data)
    try:
        RUNS[step](case, user, data)
    except DomainError as exc:
        if data.get("photo_ids"):
            form = form_class(
                case, user, {**request.POST.dict(), "photo_ids": ",".join(map(str, data["photo_ids"]))}
            )
            form.is_valid()
        # The case itself was found above: a 404 now is a case the form names (合并 into an unknown
        # number), wrong input to the form, which shows it like any other (422).
        status = 422 if exc.status == 404 else exc.status
        return _render_form(request, case, step, form, status=status, error=exc.message)
    return _done(request, user, case.number, label)
