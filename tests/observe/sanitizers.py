"""Sanitizer builds: what a report in a node's stderr looks like (no side
effects on import; used by nodes.py and tests/soak/run)."""

MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
           "runtime error:", "UndefinedBehaviorSanitizer")


def report(text):
    """The first sanitizer report in `text` with some context, or ""."""
    for marker in MARKERS:
        i = text.find(marker)
        if i >= 0:
            return text[max(0, i - 2000):i + 6000]
    return ""
