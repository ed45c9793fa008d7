"""What a canary did, in words and Markdown: one line per check, and the job summary
(a table of checks and Mermaid `xychart-beta` charts of canary vs stable per check)."""

from __future__ import annotations

from typing import Any

# Mermaid's xychart draws lines in palette order and has no legend: canary first, stable second.
PALETTE = "#d62728, #1f77b4"
ICONS = {"promoted": "✅", "rolled_back": "❌", "failed": "❌", "aborted": "⛔", "held": "⏸️"}


def figure(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:.4g}"
    return f"{value}{unit}"


def check_line(check: dict[str, Any]) -> str:
    """One check as a log line: traffic, canary vs stable errors and p95/p99, verdict, reason."""
    stable = check.get("stable") or {}
    return (
        f"check {check.get('number')} at {check.get('traffic_percent', '-')}% traffic: "
        f"canary {figure(check.get('error_rate_pct'), '%')} errors, "
        f"p95 {figure(check.get('p95_ms'), ' ms')}, p99 {figure(check.get('p99_ms'), ' ms')} "
        f"({figure(check.get('request_count'))} requests) | "
        f"stable {figure(stable.get('error_rate_pct'), '%')} errors, "
        f"p95 {figure(stable.get('p95_ms'), ' ms')}, p99 {figure(stable.get('p99_ms'), ' ms')} "
        f"-> {check.get('verdict')}: {check.get('reason')}"
    )


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _series(values: list[Any]) -> str:
    # xychart needs a number for every check; a figure that could not be read is drawn as 0.
    return "[" + ", ".join(f"{float(v or 0):.4g}" for v in values) + "]"


def chart(title: str, y_label: str, checks: list[dict[str, Any]], key: str) -> str:
    numbers = ", ".join(f'"{c.get("number")}"' for c in checks)
    canary = [c.get(key) for c in checks]
    stable = [(c.get("stable") or {}).get(key) for c in checks]
    top = max([float(v) for v in canary + stable if v is not None] or [0.0])
    return "\n".join(
        [
            "```mermaid",
            "%%{init: {'themeVariables': {'xyChart': {'plotColorPalette': '" + PALETTE + "'}}}}%%",
            "xychart-beta",
            f'    title "{title}"',
            f'    x-axis "check" [{numbers}]',
            f'    y-axis "{y_label}" 0 --> {max(top * 1.2, 1):.4g}',
            f"    line {_series(canary)}",
            f"    line {_series(stable)}",
            "```",
        ]
    )


def canary_summary(canary: dict[str, Any], deployment_id: str | None = None) -> str:
    """The job summary of a canary run (GitHub-flavoured Markdown)."""
    status = canary.get("status") or "unknown"
    checks = canary.get("checks") or []
    lines = [
        f"## {ICONS.get(status, '')} deployq canary of `{canary.get('service')}`: {status}".replace(
            "  ", " "
        ),
        "",
        f"- revision `{canary.get('canary_revision')}` against stable "
        f"`{canary.get('stable_revision')}` ({canary.get('strategy')}, steps "
        f"{canary.get('steps')}, project `{canary.get('project')}`, {canary.get('region')})",
        f"- canary `{canary.get('id')}`"
        + (f", deployment `{deployment_id}`" if deployment_id else ""),
        f"- result: **{status}**" + (f": {canary.get('reason')}" if canary.get("reason") else ""),
        "",
    ]
    if not checks:
        lines.append("No check ran.")
        return "\n".join(lines) + "\n"
    lines += [
        "| # | at | traffic | requests | errors canary / stable | p95 ms canary / stable "
        "| p99 ms canary / stable | verdict | reason |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for check in checks:
        stable = check.get("stable") or {}
        cells = [
            check.get("number"),
            check.get("at"),
            f"{check.get('traffic_percent', '-')}%",
            f"{figure(check.get('request_count'))} / {figure(stable.get('request_count'))}",
            f"{figure(check.get('error_rate_pct'), '%')} / "
            f"{figure(stable.get('error_rate_pct'), '%')}",
            f"{figure(check.get('p95_ms'))} / {figure(stable.get('p95_ms'))}",
            f"{figure(check.get('p99_ms'))} / {figure(stable.get('p99_ms'))}",
            check.get("verdict"),
            check.get("reason"),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += [
        "",
        "Charts: canary in red, stable in blue; a figure that could not be read is drawn as 0.",
        "",
        chart("Error rate per check (%)", "5xx %", checks, "error_rate_pct"),
        "",
        chart("p95 latency per check (ms)", "ms", checks, "p95_ms"),
        "",
        chart("p99 latency per check (ms)", "ms", checks, "p99_ms"),
        "",
    ]
    return "\n".join(lines)
