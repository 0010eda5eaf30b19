"""Text written into formats that cannot carry every character people (or programs) send us."""

from __future__ import annotations

import re

# XML 1.0 cannot write the C0 control characters but tab, line feed and carriage return, nor U+FFFE and
# U+FFFF; an .xlsx workbook is XML too. A case's text may hold them (pasted from another program, sent
# by a client): written as they are, one such character made the whole export or Open311 list fail.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML cannot hold (stored as sent; left out only where written)."""
    return _NOT_IN_XML.sub("", text)
