"""Release governance: policies, freeze windows, approvals, audit, DORA, runbooks, notices."""
