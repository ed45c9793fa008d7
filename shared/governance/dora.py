"""DORA metrics of an organisation: the day aggregates read by scope, then the Four Keys.

`shared.models.dora` computes; `shared.store.dora` keeps the per-day aggregates the
events function folds events into; this service picks the scope a query needs and
groups the figures.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared import clock
from shared.models import dora
from shared.store.dora import DoraStore


def outcomes_and_restores(docs: list[dict[str, Any]]):
    """The `Outcome`s and `Restore`s held by day documents."""
    outcomes, restores = [], []
    for doc in docs:
        for deployment_id, entry in (doc.get("outcomes") or {}).items():
            outcomes.append(
                dora.Outcome(
                    deployment_id, entry["status"], clock.parse(entry["at"]), entry.get("lead")
                )
            )
        for failure_id, entry in (doc.get("restores") or {}).items():
            restores.append(dora.Restore(failure_id, clock.parse(entry["at"]), entry["seconds"]))
    return outcomes, restores


def _scope(by_env: bool, by_name: bool) -> str:
    return {
        (True, True): "environment_name",
        (True, False): "environment",
        (False, True): "name",
        (False, False): "all",
    }[(by_env, by_name)]


class DoraService:
    """The DORA figures of the metrics routes (`query`: days, environment, name)."""

    def __init__(self, store: DoraStore):
        self.store = store

    def _docs(
        self, org: str, query, group_by: str | None = None
    ) -> tuple[datetime, list[dict[str, Any]]]:
        """(now, the day documents of the query's scope and filters)."""
        env_given, name_given = query.environment is not None, query.name is not None
        scope = _scope(env_given or group_by == "environment", name_given or group_by == "name")
        now = clock.utcnow()
        docs = self.store.days(
            org,
            scope,
            now - timedelta(days=query.days),
            query.environment or None if env_given else None,
            query.name or None if name_given else None,
        )
        if env_given:
            docs = [d for d in docs if d.get("environment") == (query.environment or None)]
        if name_given:
            docs = [d for d in docs if d.get("name") == (query.name or None)]
        return now, docs

    def metrics(self, org: str, query) -> dict[str, Any]:
        """The four keys over the last `query.days` days."""
        now, docs = self._docs(org, query)
        outcomes, restores = outcomes_and_restores(docs)
        return dora.metrics(outcomes, restores, now, query.days, query.environment, query.name)

    def trends(self, org: str, query) -> dict[str, Any]:
        """The figures per day."""
        now, docs = self._docs(org, query)
        outcomes, restores = outcomes_and_restores(docs)
        return {
            "days": query.days,
            "environment": query.environment,
            "name": query.name,
            "trends": dora.trends(outcomes, restores, now, query.days),
        }

    def grouped(self, org: str, query, field: str) -> list[dict[str, Any]]:
        """The figures per `field` (`name` or `environment`), groups with finished ones only."""
        now, docs = self._docs(org, query, group_by=field)
        groups: dict[Any, list] = {}
        for doc in docs:
            groups.setdefault(doc.get(field), []).append(doc)
        result = []
        for key, group in groups.items():
            outcomes, restores = outcomes_and_restores(group)
            figures = dora.metrics(
                outcomes, restores, now, query.days, query.environment, query.name
            )
            if figures["change_failure_rate"]["finished"] == 0:
                continue
            figures[field] = key
            result.append({"key": key, **figures})
        return sorted(result, key=lambda r: (r["key"] is None, r["key"] or ""))
