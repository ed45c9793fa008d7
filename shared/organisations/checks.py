"""Checks of organisation bodies and names: 400 and 403 answers naming the field."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from shared.errors import BadRequest, Forbidden, field_error
from shared.models.ids import ORG_NAME
from shared.models.organisation import ORG_ADMIN_FIELDS, RECORD_FIELDS

PLATFORM_GITHUB_FIELDS = ("owner_id",)


def encode_page_token(org: str) -> str:
    return base64.urlsafe_b64encode(org.encode()).decode().rstrip("=")


def decode_page_token(token: str) -> str:
    try:
        org = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        org = ""
    if not ORG_NAME.match(org):
        raise field_error("page_token", "not a page token this API returned")
    return org.lower()


def admins(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in record.get("members") or [] if m.get("role") == "admin"]


def refuse_platform_fields(payload: dict[str, Any]) -> None:
    """403 naming the first field an org admin may not change (environments, services, ...).

    Unknown fields are left to the model's 400."""
    for name, value in payload.items():
        if name in ORG_ADMIN_FIELDS:
            allowed = ORG_ADMIN_FIELDS[name]
            if allowed is not None and isinstance(value, dict):
                for sub in value:
                    if sub not in allowed and sub in PLATFORM_GITHUB_FIELDS:
                        raise _platform_only(f"{name}.{sub}")
        elif name in RECORD_FIELDS:
            raise _platform_only(name)


def _platform_only(field: str) -> Forbidden:
    return Forbidden(
        f"{field} is granted by a platform admin; an organisation admin may change only "
        "members and github.rules",
        code="platform_admin_field",
        details=[{"field": field, "error": "only platform admins may change it"}],
    )


def check_org(org: str) -> str:
    if not isinstance(org, str) or not ORG_NAME.match(org):
        raise field_error("org", "not an organisation name")
    return org.lower()


def validate(model, payload: Any):
    """Validate a body with a model; 400 whose details name each field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        details = []
        for error in exc.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in error["loc"]) or "body"
            details.append({"field": where, "error": error["msg"]})
        summary = "; ".join(f"{d['field']}: {d['error']}" for d in details[:5])
        raise BadRequest(
            f"invalid organisation record: {summary}", code="validation_error", details=details
        ) from None
