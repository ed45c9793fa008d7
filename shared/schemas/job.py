"""What a Cloud Task delivers to the worker (pydantic, published in OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.models.ids import ORG_PATTERN
from shared.models.job import JobType


class TaskBody(BaseModel):
    """What a Cloud Task delivers to the worker: a stored job's id (and organisation), or a
    job of another kind with its own id (`job_type` canary_check: the canary's id and the
    number of the check)."""

    model_config = ConfigDict(defer_build=True, extra="ignore")
    job_id: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200)]
    organisation: Optional[Annotated[str, StringConstraints(strict=True, pattern=ORG_PATTERN)]] = (
        None
    )
    job_type: Optional[JobType] = None
    check: Optional[int] = Field(default=None, ge=1)
