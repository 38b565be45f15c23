"""Open311 wire formats: the spec's schemaless XML and markup-safe JSON."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# XML item tag for each list-valued element (the spec's root/child pairs).
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
# Characters XML 1.0 cannot carry at all; citizen text may contain them.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def to_json(data: Any) -> bytes:
    """UTF-8 JSON with <, > and & escaped, so citizen text can never act as markup."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_ILLEGAL.sub("", str(value))


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    node = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, item in value.items():
            _append(node, key, item)
    elif isinstance(value, list):
        for item in value:
            _append(node, ITEM_TAGS.get(tag, "item"), item)
    else:
        node.text = _scalar(value)


def to_xml(root: str, data: Any) -> bytes:
    """The spec's schemaless XML: lists become repeated items, None an empty element."""
    holder = ET.Element("holder")
    _append(holder, root, data)
    body = ET.tostring(holder[0], encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode()


def render(fmt: str, root: str, data: Any) -> tuple[bytes, str]:
    """(body, media type) in the requested format; the XML root names the document."""
    if fmt == "json":
        return to_json(data), MEDIA_TYPES["json"]
    return to_xml(root, data), MEDIA_TYPES["xml"]
