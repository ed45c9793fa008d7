"""Domain errors, each carrying the HTTP status and code it maps to.

Every error body is `{"error": sentence, "code": snake_case, "details": [...]}`.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Base of every error a client may see."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, "details": self.details}


class BadRequest(ApiError):
    status = 400
    code = "invalid_request"


class Unauthorized(ApiError):
    status = 401
    code = "unauthenticated"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class ConcurrentUpdate(Conflict):
    code = "concurrent_update"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


class ServiceUnavailable(ApiError):
    status = 503
    code = "unavailable"


def field_error(field: str, message: str, *, code: str = "invalid_request") -> BadRequest:
    """A 400 whose details name one field."""
    return BadRequest(
        f"{field}: {message}", code=code, details=[{"field": field, "error": message}]
    )
