"""Release governance: policies and freeze windows, approvals, audit, DORA, runbooks, notifications."""
