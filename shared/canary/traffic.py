"""Traffic maths of a rollout: which tag the canary revision carries, the traffic list of a step."""

from __future__ import annotations

import uuid

from shared.google.cloud_run import TrafficEntry


def pick_tag(traffic: list[TrafficEntry], revision: str) -> str:
    """The canary revision's tag: the one it has, else `canary` (or a free variant)."""
    for entry in traffic:
        if entry.revision == revision and entry.tag:
            return entry.tag
    taken = {e.tag for e in traffic if e.tag}
    for candidate in ("canary", "deployq-canary"):
        if candidate not in taken:
            return candidate
    return f"canary-{uuid.uuid4().hex[:8]}"


def split(
    current: list[TrafficEntry],
    stable: str,
    canary: str,
    percent: int,
    canary_tag: str | None,
) -> list[TrafficEntry]:
    """The traffic list giving `canary` `percent`% and `stable` the rest.

    Tags of other revisions are kept at 0% (someone else's tags are theirs); the
    stable revision keeps its tag; the canary gets `canary_tag` (None: untagged, so it
    can be deleted).
    """
    stable_tag = next((e.tag for e in current if e.revision == stable and e.tag), "")
    out: list[TrafficEntry] = []
    if percent < 100 or stable_tag:
        out.append(TrafficEntry(stable, 100 - percent, stable_tag))
    if percent > 0 or canary_tag:
        out.append(TrafficEntry(canary, percent, canary_tag or ""))
    used = {stable_tag, canary_tag or ""}
    for entry in current:
        if entry.tag and entry.revision not in (stable, canary) and entry.tag not in used:
            out.append(TrafficEntry(entry.revision, 0, entry.tag))
            used.add(entry.tag)
    return out


def same_traffic(current: list[TrafficEntry], wanted: list[TrafficEntry]) -> bool:
    return sorted((e.revision, e.percent, e.tag) for e in current) == sorted(
        (e.revision, e.percent, e.tag) for e in wanted
    )


def conflict_reason(detail: str) -> str:
    """The reason of a canary held because someone else changed its service."""
    return (
        "conflict: the service was changed by someone else (stale etag: "
        f"{detail[:200]}); deployq will not touch it until someone promotes or aborts"
    )
