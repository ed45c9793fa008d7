"""The shapes of identifiers that arrive from outside: record ids and organisation names."""

import re

# Record ids are lower-case UUID text; anything else cannot exist (404).
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
UUID = re.compile(UUID_PATTERN)
# GitHub organisation names (and safe Firestore document ids: no `/`, never `.`, `..`, `__x__`).
ORG_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,98}[A-Za-z0-9_])?$"
ORG_NAME = re.compile(ORG_PATTERN)
