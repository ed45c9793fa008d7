"""Server text made safe for a terminal: escape sequences and control characters removed.

A record's notes, an error sentence or a runbook come from the API, that is from other
users; printed raw, `ESC ] 52` could write the clipboard, `ESC ] 8` hide a link, `ESC [ 2J`
wipe the screen or a carriage return overwrite what was printed. Newline and tab stay.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

# ESC-introduced sequences (CSI ... final, OSC/DCS/SOS/PM/APC ... terminator, two-byte
# escapes), their 8-bit C1 forms, then any other C0/C1 control but newline and tab.
_SEQUENCES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?                       # CSI
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|$)  # OSC, DCS, SOS, PM, APC
  | \x1b[ -/]*[0-~]?                                         # other escapes
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]                            # remaining controls
    """,
    re.VERBOSE | re.DOTALL,
)


def clean(text: str) -> str:
    """`text` without terminal control sequences or control characters (newline, tab kept)."""
    return _SEQUENCES.sub("", text)


class SafeStream:
    """A text stream whose every write is `clean`ed first."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(clean(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
