"""The `deployq` command-line client: every route of the control plane, plus offline tools."""

__version__ = "0.1.0"
