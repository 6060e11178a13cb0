"""Refusals the service layer raises; the API renders them as JSON, the pages as messages.

Every refusal carries an HTTP status and a stable error code, so both front ends and the audit
log describe the same refusal the same way.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request the site refuses. `status` and `code` are part of the HTTP contract."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def to_json(self) -> dict[str, Any]:
        """The API error body: {"error": code, "message": text} (plus the field, if any)."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body

    @property
    def audit_reason(self) -> str:
        """Why the write was refused, for the audit record."""
        return f"{self.code}: {self.message}"


class BadRequest(ServiceError):
    """Malformed or invalid input."""


class Unauthorized(ServiceError):
    """No valid credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    """Valid credentials, but not allowed to do this."""

    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    """The object does not exist or is not visible."""

    status = 404
    code = "not_found"


class Conflict(ServiceError):
    """The write clashes with existing state (a taken account name, a decided ticket)."""

    status = 409
    code = "conflict"


class UnsupportedImageFormat(ServiceError):
    """An image of a format the site does not take (the `jpeg-only-uploads` fault): a
    validation refusal, not a moderation one."""

    status = 422
    code = "unsupported_image_format"


class PayloadTooLarge(ServiceError):
    """An upload over the size limit."""

    status = 413
    code = "too_large"


class InternalError(ServiceError):
    """The site failed (the `complaint-form-broken` fault breaks a form this way on purpose)."""

    status = 500
    code = "internal_error"


class ModerationUnavailable(ServiceError):
    """The content could not be checked (OCR failed); the write is refused, failing closed."""

    status = 503
    code = "moderation_unavailable"


class ContentRejected(ServiceError):
    """Prohibited content: the write is refused and nothing is stored (disposition `rejected`)."""

    status = 422
    code = "content_rejected"

    def __init__(self, field: str, detail: str):
        super().__init__(f"the {field} contains prohibited content", field=field)
        self.detail = detail

    def to_json(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "disposition": "rejected",
            "field": self.field,
            "message": self.message,
        }

    @property
    def audit_reason(self) -> str:
        return f"{self.code}: {self.field}: {self.detail}"
