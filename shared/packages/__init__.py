"""Data packages: pack, encode, deploy with undo; background runs go through shared.jobs."""
