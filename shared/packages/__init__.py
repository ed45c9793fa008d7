"""Data packages: pack, encode, deploy with undo, and the jobs that run them in the background."""
