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
from shared.store.firestore import run_transaction


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
    """DORA aggregates: folded from events (`apply`), read as figures by the metrics routes
    (`query`: days, environment, name)."""

    def __init__(self, store: DoraStore):
        self.store = store

    def apply(self, org: str, record: dict[str, Any]) -> bool:
        """Fold a deployment record (an event's `after`) into the aggregates; True if counted.

        Outcomes never move to a lower rank (rolled_back beats deployed), so a duplicate or
        late event changes nothing.
        """
        outcome = dora.outcome_of(record)
        if outcome is None:
            return False
        environment, name = record.get("environment"), record.get("name")
        day = outcome.at.date().isoformat()
        key = None
        if record.get("taxonomy_key") or record.get("name"):
            # The deployment models (and pydantic) load only for a record without its key.
            from shared.models.deployment import taxonomy_key

            key = record.get("taxonomy_key") or taxonomy_key(record)
        entry = {
            "status": outcome.status,
            "at": clock.to_text(outcome.at),
            "lead": outcome.lead_seconds,
        }

        def fold(transaction) -> bool:
            known = self.store.known_outcome(transaction, org, day, environment, name, outcome.id)
            state = self.store.restore_state(transaction, org, key) if key else {}
            if known and dora.RANK[known["status"]] > dora.RANK[outcome.status]:
                return False  # a late event about an earlier state
            additions = [(day, environment, name, "outcomes", outcome.id, entry)]
            if key is not None:
                labels = {"environment": environment, "name": name}
                new_state, samples = dora.track_restores(state, outcome, labels)
                self.store.write_restore_state(transaction, org, key, new_state)
                for scoped, restore in samples:
                    value = {"at": clock.to_text(restore.failed_at), "seconds": restore.seconds}
                    failure_day = restore.failed_at.date().isoformat()
                    additions.append(
                        (
                            failure_day,
                            scoped["environment"],
                            scoped["name"],
                            "restores",
                            restore.failure_id,
                            value,
                        )
                    )
            self.store.add(transaction, org, additions)
            return True

        return run_transaction(self.store.db, fold)

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
