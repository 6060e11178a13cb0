"""The JSON API (the contract in fixtures/targets/reference.yaml).

Handlers only translate HTTP to service calls: they read the body, identify the caller and run
the service in the thread pool (OCR and SQLite block). Errors come back as
{"error": code, "message": text}; a refused write as 422 {"error": "content_rejected", ...}.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from reference_site.audit import RequestContext
from reference_site.components import site_of
from reference_site.errors import BadRequest, NotFound, PayloadTooLarge, ServiceError
from reference_site.faults import Fault
from reference_site.images import MAX_UPLOAD_BYTES
from reference_site.service import Service, User
from reference_site.service.common import logged_in

_MEDIA_NAME = re.compile(r"^([0-9a-f]{64})\.(png|jpg)$")
# Multipart overhead allowed on top of the image itself before the body is refused unread.
_MULTIPART_SLACK = 64 * 1024

Work = Callable[[Service, RequestContext, "User | None", dict[str, Any]], Any]
# A read of something one account filed (a ticket, an appeal): (service, caller, its id).
OwnedRead = Callable[[Service, "User | None", str], dict[str, Any]]


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def admin_token(request: Request) -> str | None:
    """The moderator token of an `X-Admin-Token` header."""
    return request.headers.get("x-admin-token")


async def read_json(request: Request) -> tuple[dict[str, Any], ServiceError | None]:
    """The JSON object in the body ({} when empty) and the refusal if it is not one."""
    body = await request.body()
    if not body.strip():
        return {}, None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}, BadRequest("the body is not valid JSON")
    if not isinstance(data, dict):
        return {}, BadRequest("the body must be a JSON object")
    return data, None


async def read_multipart(
    request: Request,
) -> tuple[dict[str, str], bytes | None, ServiceError | None]:
    """The text fields and the bytes of field `file` of a multipart body, or the refusal."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + _MULTIPART_SLACK:
        return {}, None, PayloadTooLarge(f"images may be at most {MAX_UPLOAD_BYTES} bytes")
    try:
        async with request.form(max_files=1, max_fields=20) as form:
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return fields, None, None
            data = await upload.read(MAX_UPLOAD_BYTES + 1)
            # A browser form submitted without choosing a file sends an empty, unnamed part.
            return fields, (data if data or upload.filename else None), None
    except (MultiPartException, HTTPException, ValueError) as exc:
        detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
        return {}, None, BadRequest(f"the upload is not valid multipart/form-data: {detail}")


async def run(work: Callable[[], Any], status: int = 200) -> Response:
    """Run service work in the thread pool; render its result or its refusal as JSON."""
    try:
        result = await run_in_threadpool(work)
    except ServiceError as exc:
        return JSONResponse(exc.to_json(), status_code=exc.status)
    return JSONResponse(result, status_code=status)


async def write(request: Request, work: Work, status: int = 200) -> Response:
    """A JSON write: parse the body, identify the caller, run `work` (which is audited)."""
    body, refusal = await read_json(request)
    ctx = RequestContext.from_request(request, refusal)
    service = site_of(request).service
    token = bearer_token(request)
    return await run(
        lambda: work(service, ctx, service.accounts.user_for_token(token), body), status
    )


async def upload(
    request: Request, work: Callable[[Service, RequestContext, User | None, bytes | None], Any]
) -> Response:
    """A multipart image upload (field `file`)."""
    _fields, data, refusal = await read_multipart(request)
    ctx = RequestContext.from_request(request, refusal)
    service = site_of(request).service
    token = bearer_token(request)
    return await run(lambda: work(service, ctx, service.accounts.user_for_token(token), data))


def _caller(service: Service, request: Request) -> User:
    return logged_in(service.accounts.user_for_token(bearer_token(request)))


def _id(request: Request, name: str) -> int:
    return request.path_params[name]


# --- accounts and profiles -------------------------------------------------------------------


async def register(request: Request) -> Response:
    body, refusal = await read_json(request)
    ctx = RequestContext.from_request(request, refusal)
    service = site_of(request).service
    return await run(lambda: service.accounts.register(ctx, body), 201)


async def login(request: Request) -> Response:
    body, refusal = await read_json(request)
    ctx = RequestContext.from_request(request, refusal)
    service = site_of(request).service
    return await run(lambda: service.accounts.login(ctx, body))


async def me(request: Request) -> Response:
    service = site_of(request).service
    return await run(lambda: service.profiles.profile(_caller(service, request)))


async def update_me(request: Request) -> Response:
    return await write(
        request, lambda s, ctx, user, body: s.profiles.update_profile(ctx, user, body)
    )


async def upload_avatar(request: Request) -> Response:
    return await upload(
        request, lambda s, ctx, user, data: s.profiles.upload_avatar(ctx, user, data)
    )


async def get_user(request: Request) -> Response:
    site = site_of(request)
    service = site.service
    if Fault.LOGIN_WALL_PROFILES in site.faults and service.accounts.user_for_token(
            bearer_token(request)) is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=302)
    return await run(
        lambda: service.profiles.profile(service.accounts.user(_id(request, "user_id")))
    )


async def user_posts(request: Request) -> Response:
    service = site_of(request).service
    return await run(lambda: {"posts": service.content.user_posts(_id(request, "user_id"))})


async def set_remark(request: Request) -> Response:
    target = _id(request, "user_id")
    return await write(
        request, lambda s, ctx, user, body: s.profiles.set_remark(ctx, user, target, body)
    )


async def my_remarks(request: Request) -> Response:
    service = site_of(request).service
    return await run(lambda: {"remarks": service.profiles.remarks(_caller(service, request))})


# --- groups -----------------------------------------------------------------------------------


async def create_group(request: Request) -> Response:
    return await write(
        request, lambda s, ctx, user, body: s.groups.create_group(ctx, user, body), 201
    )


async def get_group(request: Request) -> Response:
    service = site_of(request).service
    return await run(lambda: service.groups.group(_id(request, "group_id")))


async def update_group(request: Request) -> Response:
    group = _id(request, "group_id")
    return await write(
        request, lambda s, ctx, user, body: s.groups.update_group(ctx, user, group, body)
    )


async def upload_logo(request: Request) -> Response:
    group = _id(request, "group_id")
    return await upload(
        request, lambda s, ctx, user, data: s.groups.upload_logo(ctx, user, group, data)
    )


async def join_group(request: Request) -> Response:
    group = _id(request, "group_id")
    return await write(request, lambda s, ctx, user, _body: s.groups.join_group(ctx, user, group))


async def send_message(request: Request) -> Response:
    group = _id(request, "group_id")
    return await write(
        request, lambda s, ctx, user, body: s.groups.send_message(ctx, user, group, body), 201
    )


async def edit_message(request: Request) -> Response:
    group, message = _id(request, "group_id"), _id(request, "message_id")
    return await write(
        request, lambda s, ctx, user, body: s.groups.edit_message(ctx, user, group, message, body)
    )


async def list_messages(request: Request) -> Response:
    service = site_of(request).service
    group = _id(request, "group_id")
    token = bearer_token(request)
    return await run(
        lambda: {"messages": service.groups.messages(service.accounts.user_for_token(token), group)}
    )


# --- posts, forwards, comments ----------------------------------------------------------------


async def create_post(request: Request) -> Response:
    return await write(
        request, lambda s, ctx, user, body: s.content.create_post(ctx, user, body), 201
    )


async def get_post(request: Request) -> Response:
    service = site_of(request).service
    return await run(lambda: service.content.post(_id(request, "post_id")))


async def edit_post(request: Request) -> Response:
    post = _id(request, "post_id")
    return await write(
        request, lambda s, ctx, user, body: s.content.edit_post(ctx, user, post, body)
    )


async def forward_post(request: Request) -> Response:
    post = _id(request, "post_id")
    return await write(
        request, lambda s, ctx, user, body: s.content.forward_post(ctx, user, post, body), 201
    )


async def feed(request: Request) -> Response:
    service = site_of(request).service
    return await run(lambda: {"posts": service.content.feed()})


async def create_comment(request: Request) -> Response:
    post = _id(request, "post_id")
    return await write(
        request, lambda s, ctx, user, body: s.content.create_comment(ctx, user, post, body), 201
    )


async def edit_comment(request: Request) -> Response:
    comment = _id(request, "comment_id")
    return await write(
        request, lambda s, ctx, user, body: s.content.edit_comment(ctx, user, comment, body)
    )


async def list_comments(request: Request) -> Response:
    service = site_of(request).service
    return await run(lambda: {"comments": service.content.comments(_id(request, "post_id"))})


async def search(request: Request) -> Response:
    service = site_of(request).service
    return await run(lambda: service.search.find(request.query_params.get("q")))


# --- reports and complaint contacts ---------------------------------------------------------------


async def create_report(request: Request) -> Response:
    return await write(
        request, lambda s, ctx, user, body: s.reports.create_report(ctx, user, body), 201
    )


async def _owned(request: Request, read: OwnedRead, param: str) -> Response:
    """A ticket or appeal, for the account that filed it (`read(service, user, id)`)."""
    service = site_of(request).service
    key = request.path_params[param]
    token = bearer_token(request)
    return await run(lambda: read(service, service.accounts.user_for_token(token), key))


async def get_report(request: Request) -> Response:
    return await _owned(request, lambda s, user, key: s.reports.report(user, key), "ticket_id")


async def my_reports(request: Request) -> Response:
    service = site_of(request).service
    return await run(lambda: {"reports": service.reports.my_reports(_caller(service, request))})


async def complaint_contacts(request: Request) -> Response:
    service = site_of(request).service
    return JSONResponse(service.reports.complaint_contacts(str(request.base_url)))


async def my_disposals(request: Request) -> Response:
    service = site_of(request).service
    token = bearer_token(request)
    return await run(
        lambda: {"disposals": service.appeals.disposals(service.accounts.user_for_token(token))}
    )


async def create_appeal(request: Request) -> Response:
    return await write(
        request, lambda s, ctx, user, body: s.appeals.create_appeal(ctx, user, body), 201
    )


async def get_appeal(request: Request) -> Response:
    return await _owned(request, lambda s, user, key: s.appeals.appeal(user, key), "appeal_id")


async def admin_appeals(request: Request) -> Response:
    service = site_of(request).service
    token = admin_token(request)
    return await run(lambda: {"appeals": service.appeals.appeal_queue(token)})


async def admin_reports(request: Request) -> Response:
    service = site_of(request).service
    token, status = admin_token(request), request.query_params.get("status")
    return await run(lambda: {"reports": service.reports.report_queue(token, status)})


async def admin_review(request: Request) -> Response:
    ticket = request.path_params["ticket_id"]
    ctx = RequestContext.from_request(request)
    service = site_of(request).service
    token = admin_token(request)
    return await run(lambda: service.reports.review_report(ctx, token, ticket))


async def admin_decision(request: Request) -> Response:
    ticket = request.path_params["ticket_id"]
    return await admin_write(
        request, lambda s, ctx, token, body: s.reports.decide_report(ctx, token, ticket, body)
    )


async def admin_write(
    request: Request,
    work: Callable[[Service, RequestContext, str | None, dict[str, Any]], Any],
    status: int = 200,
) -> Response:
    """A moderator's JSON write (X-Admin-Token)."""
    body, refusal = await read_json(request)
    ctx = RequestContext.from_request(request, refusal)
    service = site_of(request).service
    token = admin_token(request)
    return await run(lambda: work(service, ctx, token, body), status)


async def admin_seed(request: Request) -> Response:
    return await admin_write(
        request, lambda s, ctx, token, body: s.admin.seed(ctx, token, body), 201
    )


async def admin_remove(request: Request) -> Response:
    return await admin_write(request, lambda s, ctx, token, body: s.admin.remove(ctx, token, body))


async def admin_delete_user(request: Request) -> Response:
    user_id = int(request.path_params["user_id"])
    return await admin_write(
        request, lambda s, ctx, token, body: s.admin.delete_user(ctx, token, user_id)
    )


# --- audit ------------------------------------------------------------------------------------


async def audit_records(request: Request) -> Response:
    site = site_of(request)
    token = admin_token(request)
    params = request.query_params

    def work() -> dict[str, Any]:
        site.service.require_admin(token)
        site.audit.purge_expired()
        records = site.audit.query(params.get("since"), params.get("account"), params.get("limit"))
        return {"records": records}

    return await run(work)


async def audit_policy(request: Request) -> Response:
    site = site_of(request)
    token = admin_token(request)

    def work() -> dict[str, Any]:
        site.service.require_admin(token)
        return site.audit.policy()

    return await run(work)


# --- media ------------------------------------------------------------------------------------


async def media(request: Request) -> Response:
    """Avatar and logo bytes, exactly as uploaded."""
    match = _MEDIA_NAME.match(request.path_params["name"])
    service = site_of(request).service
    if match is None:
        return JSONResponse(NotFound("no such image").to_json(), status_code=404)
    try:
        data, mime = await run_in_threadpool(
            service.screening.media, match.group(1), match.group(2)
        )
    except ServiceError as exc:
        return JSONResponse(exc.to_json(), status_code=exc.status)
    return Response(data, media_type=mime, headers={"Cache-Control": "no-store"})


routes = [
    Route("/api/register", register, methods=["POST"]),
    Route("/api/login", login, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/me", update_me, methods=["PATCH"]),
    Route("/api/me/avatar", upload_avatar, methods=["POST"]),
    Route("/api/me/remarks", my_remarks, methods=["GET"]),
    Route("/api/me/reports", my_reports, methods=["GET"]),
    Route("/api/users/{user_id:int}", get_user, methods=["GET"]),
    Route("/api/users/{user_id:int}/posts", user_posts, methods=["GET"]),
    Route("/api/users/{user_id:int}/remark", set_remark, methods=["PUT"]),
    Route("/api/groups", create_group, methods=["POST"]),
    Route("/api/groups/{group_id:int}", get_group, methods=["GET"]),
    Route("/api/groups/{group_id:int}", update_group, methods=["PATCH"]),
    Route("/api/groups/{group_id:int}/logo", upload_logo, methods=["POST"]),
    Route("/api/groups/{group_id:int}/join", join_group, methods=["POST"]),
    Route("/api/groups/{group_id:int}/messages", send_message, methods=["POST"]),
    Route("/api/groups/{group_id:int}/messages", list_messages, methods=["GET"]),
    Route("/api/groups/{group_id:int}/messages/{message_id:int}", edit_message, methods=["PATCH"]),
    Route("/api/posts", create_post, methods=["POST"]),
    Route("/api/posts/{post_id:int}", get_post, methods=["GET"]),
    Route("/api/posts/{post_id:int}", edit_post, methods=["PATCH"]),
    Route("/api/posts/{post_id:int}/forwards", forward_post, methods=["POST"]),
    Route("/api/posts/{post_id:int}/comments", create_comment, methods=["POST"]),
    Route("/api/posts/{post_id:int}/comments", list_comments, methods=["GET"]),
    Route("/api/comments/{comment_id:int}", edit_comment, methods=["PATCH"]),
    Route("/api/feed", feed, methods=["GET"]),
    Route("/api/search", search, methods=["GET"]),
    Route("/api/reports", create_report, methods=["POST"]),
    Route("/api/reports/{ticket_id:str}", get_report, methods=["GET"]),
    Route("/api/complaint-contacts", complaint_contacts, methods=["GET"]),
    Route("/api/me/disposals", my_disposals, methods=["GET"]),
    Route("/api/appeals", create_appeal, methods=["POST"]),
    Route("/api/appeals/{appeal_id:str}", get_appeal, methods=["GET"]),
    Route("/api/admin/appeals", admin_appeals, methods=["GET"]),
    Route("/api/admin/reports", admin_reports, methods=["GET"]),
    Route("/api/admin/reports/{ticket_id:str}/review", admin_review, methods=["POST"]),
    Route("/api/admin/reports/{ticket_id:str}/decision", admin_decision, methods=["POST"]),
    Route("/api/admin/seed", admin_seed, methods=["POST"]),
    Route("/api/admin/remove", admin_remove, methods=["POST"]),
    Route("/api/admin/users/{user_id:int}", admin_delete_user, methods=["DELETE"]),
    Route("/api/admin/audit", audit_records, methods=["GET"]),
    Route("/api/admin/audit/policy", audit_policy, methods=["GET"]),
]
