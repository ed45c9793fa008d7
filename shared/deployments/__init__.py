"""The deployment queue's service: its rules over `shared.store.deployments`."""
