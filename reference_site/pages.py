"""Server-rendered pages: the site as a browser user sees it.

Pages call the same Service as the API, so their writes are checked and audited the same way.
A browser session is the `session` cookie (HttpOnly). Every form carries `csrf_token`, an HMAC
of the session cookie under a per-process secret; a POST whose token does not match is refused
(and audited as a refused write). A refused write re-renders its page with the message in an
element of class "error".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from reference_site.api import OwnedRead, read_multipart
from reference_site.audit import RequestContext
from reference_site.components import Site, site_of
from reference_site.errors import (
    ContentRejected,
    Forbidden,
    InternalError,
    NotFound,
    ServiceError,
    Unauthorized,
)
from reference_site.faults import Fault
from reference_site.service import (
    IP_LOCATION,
    REPORT_CATEGORIES,
    REPORT_TARGET_TYPES,
    SECONDS_PER_DAY,
    User,
)

SESSION_COOKIE = "session"
SESSION_MAX_AGE = 30 * 24 * 3600
DEVICE_COOKIE = "device_id"  # identifies a browser in audit records when no X-Device-Id is sent
DEVICE_MAX_AGE = 5 * 365 * 24 * 3600

TARGET_LABELS = {
    "post": "帖子 Post",
    "comment": "评论 Comment",
    "user": "用户 User",
    "group": "群组 Group",
    "group_message": "群消息 Group message",
}
STATUS_LABELS = {
    "received": "已受理 Received",
    "in_review": "处理中 In review",
    "resolved": "已处理 Resolved",
    "rejected": "未发现违规 Rejected",
}


@dataclass(frozen=True)
class Visit:
    """One browser request: its session cookie, the logged-in user and the CSRF token."""

    cookie: str
    new_cookie: bool
    user: User | None
    csrf_token: str


def csrf_token_for(site: Site, cookie: str) -> str:
    """The CSRF token that belongs to a session cookie."""
    return hmac.new(site.session_secret, cookie.encode(), hashlib.sha256).hexdigest()


def _visit(request: Request) -> Visit:
    site = site_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    new_cookie = not cookie
    if new_cookie:
        cookie = secrets.token_urlsafe(32)
    user = None if new_cookie else site.service.accounts.user_for_token(cookie, kind="web")
    return Visit(cookie, new_cookie, user, csrf_token_for(site, cookie))


async def visit_of(request: Request) -> Visit:
    """Who is visiting (a DB read, so off the event loop)."""
    return await run_in_threadpool(_visit, request)


def _set_session(response: Response, cookie: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax", path="/"
    )


def render(
    request: Request,
    visit: Visit,
    template: str,
    context: dict[str, Any],
    *,
    error: ServiceError | None = None,
    status: int = 200,
) -> Response:
    """Render a page with the shared context (user, CSRF token, error message)."""
    site = site_of(request)
    full = {
        "user": visit.user,
        "csrf_token": visit.csrf_token,
        "error": _message(error) if error else None,
        "contacts": site.service.reports.complaint_contacts(str(request.base_url)),
        "limit_words": limit_words(site.service.times.limit_seconds),
        # What the browser-only faults take off the pages.
        "complaints_linked": Fault.COMPLAINTS_UNLINKED not in site.faults,
        "comment_report_controls": Fault.NO_REPORT_CONTROL_COMMENT not in site.faults,
        **context,
    }
    response = site.templates.TemplateResponse(
        request, template, full, status_code=error.status if error else status
    )
    if visit.new_cookie:
        _set_session(response, visit.cookie)
    if not request.cookies.get(DEVICE_COOKIE):
        response.set_cookie(
            DEVICE_COOKIE, f"web-{secrets.token_hex(8)}", max_age=DEVICE_MAX_AGE, httponly=True,
            samesite="lax", path="/",
        )
    return response


def limit_words(seconds: float) -> tuple[str, str]:
    """A handling time limit in words, Chinese and English: seconds under a day, else days."""
    if seconds < SECONDS_PER_DAY:
        count = f"{seconds:g}"
        return f"{count} 秒", f"{count} second{'' if seconds == 1 else 's'}"
    count = f"{seconds / SECONDS_PER_DAY:g}"
    return f"{count} 天", f"{count} day{'' if count == '1' else 's'}"


def _message(error: ServiceError) -> str:
    if isinstance(error, ContentRejected):
        return f"内容包含违规信息，未发布。Refused: the {error.field} contains prohibited content."
    if isinstance(error, Unauthorized) and error.code == "unauthorized":
        return "请先登录。Please log in first."
    return error.message


async def error_page(request: Request, error: ServiceError) -> Response:
    """A page that only says what went wrong (404, 403, ...)."""
    visit = await visit_of(request)
    return render(request, visit, "error.html", {"title": error.code}, error=error)


def _ctx(request: Request, visit: Visit, form: FormData | None) -> RequestContext:
    """The audit context of a page write; a failed CSRF check becomes its refusal."""
    sent = form.get("csrf_token") if form is not None else None
    valid = (
        not visit.new_cookie
        and isinstance(sent, str)
        and hmac.compare_digest(sent.encode(), visit.csrf_token.encode())
    )
    refusal = None if valid else Forbidden(
        "the form's CSRF token is missing or wrong; reload the page and try again",
        code="csrf_failed",
    )
    return replace(RequestContext.from_request(request, refusal), via_page=True)


async def _form(request: Request) -> FormData | None:
    try:
        return await request.form(max_files=0, max_fields=50)
    except (MultiPartException, HTTPException, ValueError):
        return None


def _fields(form: FormData | None, *names: str) -> dict[str, Any]:
    """Text fields of a form; absent ones are left out (an update changes only what it sends)."""
    if form is None:
        return {}
    return {name: form[name] for name in names if isinstance(form.get(name), str)}


Renderer = Callable[[Request, Visit, ServiceError | None, dict[str, Any]], Awaitable[Response]]


async def _form_write(
    request: Request,
    names: tuple[str, ...],
    work: Callable[[RequestContext, User | None, dict[str, Any]], Any],
    again: Renderer,
    respond: Callable[[Visit, Any], Response],
) -> Response:
    """Run a form write and answer `respond(visit, result)`, or re-render the form with the
    error."""
    form = await _form(request)
    visit = await visit_of(request)
    ctx = _ctx(request, visit, form)
    values = _fields(form, *names)
    try:
        result = await run_in_threadpool(work, ctx, visit.user, values)
    except ServiceError as exc:
        return await again(request, visit, exc, values)
    return respond(visit, result)


async def _submit(
    request: Request,
    names: tuple[str, ...],
    work: Callable[[RequestContext, User | None, dict[str, Any]], Any],
    done: Callable[[Any], str],
    again: Renderer,
) -> Response:
    """A form write that redirects to `done(result)` (post, redirect, get)."""
    return await _form_write(request, names, work, again,
                             lambda _visit, result: RedirectResponse(done(result), 303))


async def _submit_for_receipt(
    request: Request,
    names: tuple[str, ...],
    work: Callable[[RequestContext, User | None, dict[str, Any]], Any],
    again: Renderer,
    *,
    template: str,
    context: Callable[[Any], dict[str, Any]],
) -> Response:
    """A form write answered by a receipt page (201)."""
    return await _form_write(
        request, names, work, again,
        lambda visit, result: render(request, visit, template, context(result), status=201))


# --- feed, accounts -------------------------------------------------------------------------


async def _feed(
    request: Request, visit: Visit, error: ServiceError | None = None, values: dict | None = None
) -> Response:
    service = site_of(request).service
    posts = await run_in_threadpool(service.content.feed)
    return render(request, visit, "index.html", {"posts": posts, "values": values or {}},
                  error=error)


async def home(request: Request) -> Response:
    return await _feed(request, await visit_of(request))


async def create_post(request: Request) -> Response:
    service = site_of(request).service
    return await _submit(
        request, ("text",), service.content.create_post, lambda post: f"/posts/{post['id']}", _feed
    )


async def _register_page(
    request: Request, visit: Visit, error: ServiceError | None = None, values: dict | None = None
) -> Response:
    values = {k: v for k, v in (values or {}).items() if k != "password"}
    return render(request, visit, "register.html", {"values": values}, error=error)


async def _login_page(
    request: Request, visit: Visit, error: ServiceError | None = None, values: dict | None = None
) -> Response:
    values = {k: v for k, v in (values or {}).items() if k != "password"}
    return render(request, visit, "login.html", {"values": values}, error=error)


async def register_form(request: Request) -> Response:
    return await _register_page(request, await visit_of(request))


async def login_form(request: Request) -> Response:
    return await _login_page(request, await visit_of(request))


async def _enter(request: Request, action: str, again: Renderer) -> Response:
    """Register or log in, then start a fresh session (a new cookie, against fixation)."""
    form = await _form(request)
    visit = await visit_of(request)
    ctx = _ctx(request, visit, form)
    values = _fields(form, "account_name", "password", "nickname")
    service = site_of(request).service
    operation = service.accounts.register if action == "register" else service.accounts.login
    try:
        result = await run_in_threadpool(operation, ctx, values, "web")
    except ServiceError as exc:
        return await again(request, visit, exc, values)
    response = RedirectResponse(f"/users/{result['user_id']}", status_code=303)
    _set_session(response, result["token"])
    return response


async def register(request: Request) -> Response:
    return await _enter(request, "register", _register_page)


async def login(request: Request) -> Response:
    return await _enter(request, "login", _login_page)


async def logout(request: Request) -> Response:
    form = await _form(request)
    visit = await visit_of(request)
    ctx = _ctx(request, visit, form)
    service = site_of(request).service
    try:
        await run_in_threadpool(service.accounts.logout, ctx, visit.user, visit.cookie)
    except ServiceError as exc:
        return await _feed(request, visit, exc)
    response = RedirectResponse("/", status_code=303)
    _set_session(response, secrets.token_urlsafe(32))
    return response


# --- profiles -------------------------------------------------------------------------------


async def _user_page(
    request: Request, visit: Visit, error: ServiceError | None = None, values: dict | None = None
) -> Response:
    service = site_of(request).service
    user_id = request.path_params["user_id"]

    def load() -> dict[str, Any]:
        profile = service.profiles.profile(service.accounts.user(user_id))
        remark = None
        if visit.user is not None and visit.user.id != user_id:
            remark = service.profiles.remark_about(visit.user, user_id)
        return {"profile": profile, "posts": service.content.user_posts(user_id), "remark": remark}

    try:
        context = await run_in_threadpool(load)
    except NotFound as exc:
        return render(request, visit, "error.html", {"title": "not_found"}, error=exc)
    context.update(values=values or {}, ip_location=IP_LOCATION)
    return render(request, visit, "user.html", context, error=error)


async def user_page(request: Request) -> Response:
    visit = await visit_of(request)
    if visit.user is None and Fault.LOGIN_WALL_PROFILES in site_of(request).faults:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return await _user_page(request, visit)


async def set_remark(request: Request) -> Response:
    service = site_of(request).service
    user_id = request.path_params["user_id"]
    return await _submit(
        request,
        ("text",),
        lambda ctx, user, values: service.profiles.set_remark(ctx, user, user_id, values),
        lambda _result: f"/users/{user_id}",
        _user_page,
    )


async def _edit_page(
    request: Request, visit: Visit, error: ServiceError | None = None, values: dict | None = None
) -> Response:
    if visit.user is None:
        return RedirectResponse("/login", status_code=303)
    service = site_of(request).service
    profile = await run_in_threadpool(service.profiles.profile, visit.user)
    return render(request, visit, "edit.html", {"profile": profile, "values": values or {}},
                  error=error)


async def edit_profile_form(request: Request) -> Response:
    return await _edit_page(request, await visit_of(request))


async def edit_profile(request: Request) -> Response:
    service = site_of(request).service

    def work(ctx: RequestContext, user: User | None, values: dict[str, Any]) -> Any:
        if user is not None:
            # A form always sends every field: change only what differs from the profile.
            current = {"account_name": user.account_name, "nickname": user.nickname,
                       "bio": user.bio}
            values = {k: v for k, v in values.items() if v != current[k]} or values
        return service.profiles.update_profile(ctx, user, values)

    return await _submit(
        request, ("account_name", "nickname", "bio"), work,
        lambda profile: f"/users/{profile['id']}", _edit_page,
    )


async def _upload(
    request: Request,
    work: Callable[[RequestContext, User | None, bytes | None], Any],
    done: Callable[[Any], str],
    again: Renderer,
) -> Response:
    """An image upload form (field `file`), with the same CSRF check as other forms."""
    fields, data, refusal = await read_multipart(request)
    visit = await visit_of(request)
    ctx = _ctx(request, visit, FormData(fields))
    if ctx.refusal is None and refusal is not None:
        ctx = replace(RequestContext.from_request(request, refusal), via_page=True)
    try:
        result = await run_in_threadpool(work, ctx, visit.user, data)
    except ServiceError as exc:
        return await again(request, visit, exc, {})
    return RedirectResponse(done(result), status_code=303)


async def upload_avatar(request: Request) -> Response:
    service = site_of(request).service
    return await _upload(
        request, service.profiles.upload_avatar, lambda profile: f"/users/{profile['id']}",
        _edit_page,
    )


# --- groups ---------------------------------------------------------------------------------


async def groups_page(request: Request) -> Response:
    visit = await visit_of(request)
    groups = await run_in_threadpool(site_of(request).service.groups.groups)
    return render(request, visit, "groups.html", {"groups": groups})


async def _new_group_page(
    request: Request, visit: Visit, error: ServiceError | None = None, values: dict | None = None
) -> Response:
    return render(request, visit, "group_new.html", {"values": values or {}}, error=error)


async def new_group_form(request: Request) -> Response:
    return await _new_group_page(request, await visit_of(request))


async def create_group(request: Request) -> Response:
    service = site_of(request).service
    return await _submit(
        request, ("name", "intro"), service.groups.create_group,
        lambda group: f"/groups/{group['id']}", _new_group_page,
    )


async def _group_page(
    request: Request, visit: Visit, error: ServiceError | None = None, values: dict | None = None
) -> Response:
    service = site_of(request).service
    group_id = request.path_params["group_id"]

    def load() -> dict[str, Any]:
        group = service.groups.group(group_id)
        member = service.groups.is_member(visit.user, group_id)
        return {
            "group": group,
            "member": member,
            "owner": visit.user is not None and visit.user.id == group["owner_id"],
            "messages": service.groups.messages(visit.user, group_id) if member else [],
        }

    try:
        context = await run_in_threadpool(load)
    except NotFound as exc:
        return render(request, visit, "error.html", {"title": "not_found"}, error=exc)
    context["values"] = values or {}
    return render(request, visit, "group.html", context, error=error)


async def group_page(request: Request) -> Response:
    return await _group_page(request, await visit_of(request))


def _group_url(request: Request) -> Callable[[Any], str]:
    group_id = request.path_params["group_id"]
    return lambda _result: f"/groups/{group_id}"


async def edit_group(request: Request) -> Response:
    service = site_of(request).service
    group_id = request.path_params["group_id"]

    def work(ctx: RequestContext, user: User | None, values: dict[str, Any]) -> Any:
        # A form always sends both fields: change only what differs (the service reports a
        # missing group itself, so that refusal is audited too).
        try:
            current = service.groups.group(group_id)
        except NotFound:
            current = {}
        changed = {k: v for k, v in values.items() if v != current.get(k)} or values
        return service.groups.update_group(ctx, user, group_id, changed)

    return await _submit(request, ("name", "intro"), work, _group_url(request), _group_page)


async def upload_logo(request: Request) -> Response:
    service = site_of(request).service
    group_id = request.path_params["group_id"]
    return await _upload(
        request,
        lambda ctx, user, data: service.groups.upload_logo(ctx, user, group_id, data),
        _group_url(request),
        _group_page,
    )


async def join_group(request: Request) -> Response:
    service = site_of(request).service
    group_id = request.path_params["group_id"]
    return await _submit(
        request, (), lambda ctx, user, _values: service.groups.join_group(ctx, user, group_id),
        _group_url(request), _group_page,
    )


async def send_message(request: Request) -> Response:
    service = site_of(request).service
    group_id = request.path_params["group_id"]
    return await _submit(
        request, ("text",),
        lambda ctx, user, values: service.groups.send_message(ctx, user, group_id, values),
        _group_url(request), _group_page,
    )


async def edit_message(request: Request) -> Response:
    service = site_of(request).service
    group_id = request.path_params["group_id"]
    message_id = request.path_params["message_id"]
    return await _submit(
        request, ("text",),
        lambda ctx, user, values: service.groups.edit_message(
            ctx, user, group_id, message_id, values
        ),
        _group_url(request), _group_page,
    )


# --- posts ----------------------------------------------------------------------------------


async def _post_page(
    request: Request,
    visit: Visit,
    error: ServiceError | None = None,
    values: dict | None = None,
    post_id: int | None = None,
) -> Response:
    service = site_of(request).service
    post_id = post_id if post_id is not None else request.path_params["post_id"]

    def load() -> dict[str, Any]:
        # The viewer's own removed comments show to them as placeholders with an appeal link.
        comments = service.content.comments(post_id)
        comments += service.appeals.own_removed_comments(visit.user, post_id)
        comments.sort(key=lambda comment: comment["id"])
        return {"post": service.content.post(post_id), "comments": comments}

    try:
        context = await run_in_threadpool(load)
    except NotFound as exc:
        return render(request, visit, "error.html", {"title": "not_found"}, error=exc)
    context["values"] = values or {}
    return render(request, visit, "post.html", context, error=error)


async def post_page(request: Request) -> Response:
    return await _post_page(request, await visit_of(request))


async def edit_post(request: Request) -> Response:
    service = site_of(request).service
    post_id = request.path_params["post_id"]
    return await _submit(
        request, ("text",),
        lambda ctx, user, values: service.content.edit_post(ctx, user, post_id, values),
        lambda post: f"/posts/{post['id']}", _post_page,
    )


async def create_comment(request: Request) -> Response:
    service = site_of(request).service
    post_id = request.path_params["post_id"]
    return await _submit(
        request, ("text",),
        lambda ctx, user, values: service.content.create_comment(ctx, user, post_id, values),
        lambda comment: f"/posts/{post_id}#comment-{comment['id']}", _post_page,
    )


async def forward_post(request: Request) -> Response:
    service = site_of(request).service
    post_id = request.path_params["post_id"]
    return await _submit(
        request, ("text",),
        lambda ctx, user, values: service.content.forward_post(ctx, user, post_id, values),
        lambda post: f"/posts/{post['id']}", _post_page,
    )


async def edit_comment(request: Request) -> Response:
    service = site_of(request).service
    comment_id = request.path_params["comment_id"]
    form = await _form(request)
    visit = await visit_of(request)
    ctx = _ctx(request, visit, form)
    values = _fields(form, "text")
    try:
        comment = await run_in_threadpool(
            service.content.edit_comment, ctx, visit.user, comment_id, values
        )
    except ServiceError as exc:
        try:
            post_id = (await run_in_threadpool(service.content.comment, comment_id))["post_id"]
        except NotFound:
            return render(request, visit, "error.html", {"title": exc.code}, error=exc)
        return await _post_page(request, visit, exc, values, post_id=post_id)
    return RedirectResponse(
        f"/posts/{comment['post_id']}#comment-{comment['id']}", status_code=303
    )


# --- search ---------------------------------------------------------------------------------


async def search_page(request: Request) -> Response:
    visit = await visit_of(request)
    query = request.query_params.get("q", "")
    results = await run_in_threadpool(site_of(request).service.search.find, query)
    return render(request, visit, "search.html", {"q": query, "results": results})


# --- reports and complaints -------------------------------------------------------------------


async def _report_page(
    request: Request, visit: Visit, error: ServiceError | None = None, values: dict | None = None
) -> Response:
    values = dict(values or {})
    for name in ("target_type", "target_id"):
        values.setdefault(name, request.query_params.get(name, ""))
    context = {
        "values": values,
        "categories": REPORT_CATEGORIES,
        "target_types": {name: TARGET_LABELS[name] for name in REPORT_TARGET_TYPES},
    }
    return render(request, visit, "report.html", context, error=error)


async def report_form(request: Request) -> Response:
    return await _report_page(request, await visit_of(request))


async def create_report(request: Request) -> Response:
    if Fault.COMPLAINT_FORM_BROKEN in site_of(request).faults:
        return await error_page(request, InternalError("服务器错误 Server error"))
    return await _submit_for_receipt(
        request, ("target_type", "target_id", "category", "reason"),
        site_of(request).service.reports.create_report, _report_page,
        template="report_receipt.html", context=_report_context,
    )


def _report_context(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "report": report,
        "status_label": STATUS_LABELS.get(report["status"], report["status"]),
        "target_label": TARGET_LABELS.get(report["target_type"], report["target_type"]),
        "category_label": REPORT_CATEGORIES.get(report["category"], report["category"]),
    }


async def _owned_page(request: Request, read: OwnedRead, param: str, template: str,
                      context: Callable[[Any], dict[str, Any]]) -> Response:
    """A ticket or appeal page, for the account that filed it (`read(service, user, id)`)."""
    visit = await visit_of(request)
    service = site_of(request).service
    try:
        found = await run_in_threadpool(read, service, visit.user, request.path_params[param])
    except ServiceError as exc:
        return render(request, visit, "error.html", {"title": exc.code}, error=exc)
    return render(request, visit, template, context(found))


async def report_status(request: Request) -> Response:
    return await _owned_page(request, lambda s, user, key: s.reports.report(user, key),
                             "ticket_id", "report_status.html",
                             _report_context)


async def my_reports(request: Request) -> Response:
    visit = await visit_of(request)
    if visit.user is None:
        return RedirectResponse("/login", status_code=303)
    reports = await run_in_threadpool(site_of(request).service.reports.my_reports, visit.user)
    rows = [_report_context(report) for report in reports]
    return render(request, visit, "my_reports.html", {"rows": rows})


async def my_disposals(request: Request) -> Response:
    visit = await visit_of(request)
    if visit.user is None:
        return RedirectResponse("/login", status_code=303)
    disposals = await run_in_threadpool(site_of(request).service.appeals.disposals, visit.user)
    return render(request, visit, "my_disposals.html",
                  {"disposals": disposals, "target_labels": TARGET_LABELS})


async def _appeal_page(
    request: Request, visit: Visit, error: ServiceError | None = None, values: dict | None = None
) -> Response:
    values = dict(values or {})
    for name in ("target_type", "target_id"):
        values.setdefault(name, request.query_params.get(name, ""))
    context = {"values": values, "target_labels": TARGET_LABELS}
    return render(request, visit, "appeal.html", context, error=error)


async def appeal_form(request: Request) -> Response:
    if not site_of(request).service.appeals.offered:
        return await error_page(request, NotFound("no such page"))
    return await _appeal_page(request, await visit_of(request))


async def create_appeal(request: Request) -> Response:
    service = site_of(request).service
    if not service.appeals.offered:
        return await error_page(request, NotFound("no such page"))
    return await _submit_for_receipt(
        request, ("target_type", "target_id", "reason"), service.appeals.create_appeal,
        _appeal_page,
        template="appeal_receipt.html", context=_appeal_context,
    )


async def appeal_status(request: Request) -> Response:
    return await _owned_page(request, lambda s, user, key: s.appeals.appeal(user, key),
                             "appeal_id", "appeal_receipt.html",
                             _appeal_context)


def _appeal_context(appeal: dict[str, Any]) -> dict[str, Any]:
    return {"appeal": appeal, "target_label": TARGET_LABELS[appeal["target_type"]]}


async def complaints(request: Request) -> Response:
    visit = await visit_of(request)
    contacts = site_of(request).service.reports.complaint_contacts(str(request.base_url))
    return render(request, visit, "complaints.html", {"complaint": contacts,
                                                       "target_labels": TARGET_LABELS})


routes = [
    Route("/", home, methods=["GET"]),
    Route("/posts", create_post, methods=["POST"]),
    Route("/register", register_form, methods=["GET"]),
    Route("/register", register, methods=["POST"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/users/{user_id:int}", user_page, methods=["GET"]),
    Route("/users/{user_id:int}/remark", set_remark, methods=["POST"]),
    Route("/me/edit", edit_profile_form, methods=["GET"]),
    Route("/me/edit", edit_profile, methods=["POST"]),
    Route("/me/avatar", upload_avatar, methods=["POST"]),
    Route("/me/reports", my_reports, methods=["GET"]),
    Route("/groups", groups_page, methods=["GET"]),
    Route("/groups/new", new_group_form, methods=["GET"]),
    Route("/groups/new", create_group, methods=["POST"]),
    Route("/groups/{group_id:int}", group_page, methods=["GET"]),
    Route("/groups/{group_id:int}/edit", edit_group, methods=["POST"]),
    Route("/groups/{group_id:int}/logo", upload_logo, methods=["POST"]),
    Route("/groups/{group_id:int}/join", join_group, methods=["POST"]),
    Route("/groups/{group_id:int}/messages", send_message, methods=["POST"]),
    Route("/groups/{group_id:int}/messages/{message_id:int}/edit", edit_message,
          methods=["POST"]),
    Route("/posts/{post_id:int}", post_page, methods=["GET"]),
    Route("/posts/{post_id:int}/edit", edit_post, methods=["POST"]),
    Route("/posts/{post_id:int}/comments", create_comment, methods=["POST"]),
    Route("/posts/{post_id:int}/forward", forward_post, methods=["POST"]),
    Route("/comments/{comment_id:int}/edit", edit_comment, methods=["POST"]),
    Route("/search", search_page, methods=["GET"]),
    Route("/report", report_form, methods=["GET"]),
    Route("/report", create_report, methods=["POST"]),
    Route("/reports/{ticket_id:str}", report_status, methods=["GET"]),
    Route("/complaints", complaints, methods=["GET"]),
    Route("/me/disposals", my_disposals, methods=["GET"]),
    Route("/appeal", appeal_form, methods=["GET"]),
    Route("/appeal", create_appeal, methods=["POST"]),
    Route("/appeals/{appeal_id:str}", appeal_status, methods=["GET"]),
]
