"""Pack: read the selected tables/collections of a source environment into a stored package."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from shared import clock
from shared.errors import BadRequest, field_error
from shared.models.package import PackageType, action_record
from shared.packages import codec, where
from shared.store.packages import PackageStore, new_id

if TYPE_CHECKING:
    from shared.schemas.package import PackageCreate


def package_record(
    package_id: str,
    *,
    name: str,
    version: str,
    package_type: str,
    description: str | None,
    environment: str | None,
    metadata: dict[str, Any],
    tags: list[str],
    checksum: str,
    size: int,
    tables: list[dict[str, Any]],
    actor: str,
    **extra: Any,
) -> dict[str, Any]:
    """A new active package as stored: its contents' checksum, size and record counts."""
    counts = {t["name"]: t["records"] for t in tables}
    now = clock.now_text()
    return {
        "id": package_id,
        "name": name,
        "version": version,
        "package_type": package_type,
        "description": description,
        "environment": environment,
        "status": "active",
        "active": True,
        "checksum": checksum,
        "size_bytes": size,
        "metadata": {
            **metadata,
            "total_records": sum(counts.values()),
            "record_counts": counts,
        },
        "tags": tags,
        **extra,
        "tables": tables,
        "created_at": now,
        "updated_at": now,
        "created_by": actor,
    }


def environment_or_400(settings, org: str, name: str, field: str = "environment") -> dict[str, Any]:
    """`{"project", "database"}` of one of the organisation's environments; a 400
    `unknown_environment` naming the field and only this organisation's names otherwise."""
    from shared.organisations.service import organisations_for

    return organisations_for(settings).environment_for(org, name, field)


def parse_filters(body: PackageCreate) -> dict[str, list[where.Condition]]:
    conditions = {}
    for name, clause in ((body.filter.where_clause or {}) if body.filter else {}).items():
        try:
            conditions[name] = where.parse(clause)
        except where.WhereError as exc:
            raise field_error(
                f"filter.where_clause.{name}",
                f"invalid where clause: {exc}",
                code="invalid_where_clause",
            ) from None
    return conditions


def table_specs(body: PackageCreate) -> list[dict[str, Any]]:
    if body.package_type == PackageType.database:
        specs = []
        for table in body.filter.table_specs():
            excluded = (body.filter.exclude_columns or {}).get(table.name, [])
            if table.primary_key in excluded:
                raise field_error(
                    f"filter.exclude_columns.{table.name}",
                    f"cannot exclude the primary key {table.primary_key}",
                )
            specs.append(
                {
                    "name": table.name,
                    "primary_key": table.primary_key,
                    "foreign_keys": [fk.model_dump() for fk in table.foreign_keys],
                }
            )
        return specs
    return [{"name": name} for name in body.filter.collections]


def pack(
    settings, store: PackageStore, org: str, body: PackageCreate, actor: str | None
) -> dict[str, Any]:
    """Read the selection from the source environment, store it in chunks; the package record."""
    from shared.packages.deploy import environment_db

    environment_or_400(settings, org, body.environment)
    conditions = parse_filters(body)
    specs = table_specs(body)
    excludes = (body.filter.exclude_columns or {}) if body.filter else {}
    source = environment_db(settings, org, body.environment)
    started, started_at = time.monotonic(), clock.now_text()
    package_id = new_id()
    package_type = body.package_type.value
    checksum, size, tables = _read_selection(
        store, org, package_id, source, body, specs, conditions, excludes
    )
    record = package_record(
        package_id,
        name=body.name,
        version=body.version,
        package_type=package_type,
        description=body.description,
        environment=body.environment,
        metadata=body.metadata,
        tags=body.tags,
        checksum=checksum,
        size=size,
        tables=tables,
        actor=actor,
        # as text: Firestore cannot store the nested arrays of structured where clauses
        filter_json=body.filter.model_dump_json() if body.filter else None,
    )
    store.save_package(org, record)
    store.add_action(
        org,
        package_id,
        action_record(
            "pack",
            started=started,
            started_at=started_at,
            actor=actor,
            source=body.environment,
            target=None,
            processed=record["metadata"]["total_records"],
            tables=len(tables),
        ),
    )
    return record


def _read_selection(store, org, package_id, source, body, specs, conditions, excludes):
    """Write the selected tables as the package's chunks: (checksum, size, tables)."""
    package_type = body.package_type.value
    writer = codec.ContentsWriter(package_type, store.chunk_sink(org, package_id))
    try:
        for spec in specs:
            writer.begin_table(spec)
            _pack_table(
                writer,
                source,
                spec,
                package_type,
                conditions.get(spec["name"]),
                excludes.get(spec["name"], []),
            )
            writer.end_table()
        return writer.finish()
    except BaseException:
        store.discard_chunks(org, package_id)
        raise


def _pack_table(writer, source, spec, package_type, conditions, excluded) -> None:
    pk = spec.get("primary_key")
    seen: set[str] = set()
    for snap in source.stream(spec["name"]):
        data = snap.to_dict() or {}
        if conditions and not where.matches(conditions, data):
            continue
        for column in excluded:
            data.pop(column, None)
        encoded = codec.encode_value(data)
        if package_type == codec.DOCUMENT:
            writer.add({"id": snap.id, "data": encoded})
            continue
        if encoded.get(pk) is None:
            encoded[pk] = snap.id
        key = codec.key_text(encoded[pk])
        problem = codec.invalid_id(key)
        if problem:
            raise BadRequest(
                f"table {spec['name']}: primary key {pk} of document {snap.id} is {key!r}, which "
                f"{problem} and cannot be a document id; choose another primary_key",
                code="invalid_primary_key",
            )
        if key in seen:
            raise BadRequest(
                f"table {spec['name']} has two rows with primary key {key!r}; "
                "choose a unique primary_key",
                code="duplicate_primary_key",
            )
        seen.add(key)
        writer.add(encoded)
