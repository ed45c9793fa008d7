"""The Action's inputs: `INPUT_<NAME>` variables, read and checked one by one."""

from __future__ import annotations

from collections.abc import Mapping

from cli.errors import UsageError


class Inputs:
    """The Action's inputs, read from the environment as the runner passes them."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def get(self, name: str, default: str = "") -> str:
        key = name.upper().replace(" ", "_")
        for variable in (f"INPUT_{key.replace('-', '_')}", f"INPUT_{key}"):
            value = self.env.get(variable)
            if value is not None and value.strip() != "":
                return value.strip()
        return default

    def require(self, name: str, why: str) -> str:
        value = self.get(name)
        if not value:
            raise UsageError(f"{name} is required {why}")
        return value

    def number(self, name: str, default: float | None = None) -> float | None:
        raw = self.get(name)
        if not raw:
            return default
        try:
            return float(raw)
        except ValueError:
            raise UsageError(f"{name} must be a number, got {raw!r}") from None

    def integer(self, name: str) -> int | None:
        value = self.number(name)
        if value is None:
            return None
        if value != int(value):
            raise UsageError(f"{name} must be a whole number, got {self.get(name)!r}")
        return int(value)

    def flag(self, name: str) -> bool:
        raw = self.get(name, "false").lower()
        if raw not in ("true", "false", "yes", "no", "1", "0"):
            raise UsageError(f"{name} must be true or false, got {raw!r}")
        return raw in ("true", "yes", "1")

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        value = self.get(name)
        if value and value not in choices:
            raise UsageError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value
