"""The OpenAPI 3.1 document of the node's JSON API, filled in for this node.

The document is data, ``openapi.json`` beside this module: everything that is the same on
every node. Three things are this node's own and are filled in here: the hall's name in
the title (``{hall_name}``), its time zone in the description (``{timezone}``), and the
metrics it makes public, as the ``enum`` of every ``metric`` (left as any string when
none is public). The bounds written in it (days per request, readings per response,
sequence numbers, sensor ids) are the API's own; tests/web_local/test_api.py checks
that the two agree.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final

from web_local.site import PageSettings

DOCUMENT_PATH: Final = Path(__file__).with_name("openapi.json")

METRIC_SCHEMAS: Final = ("Reading", "CurrentReading", "Rollup")
"""The component schemas whose ``metric`` is one of the public metrics."""

METRIC_PARAMETER_PATHS: Final = ("/api/v1/readings", "/api/v1/rollups")
"""The paths whose ``metric`` parameter is one of the public metrics."""


@cache
def _document_text() -> str:
    return DOCUMENT_PATH.read_text(encoding="utf-8")


def openapi_document(page: PageSettings) -> dict[str, Any]:
    """The OpenAPI 3.1 document of this API, with the metrics this node makes public."""
    document: dict[str, Any] = json.loads(_document_text())
    info = document["info"]
    info["title"] = info["title"].replace("{hall_name}", page.hall_name)
    info["description"] = info["description"].replace("{timezone}", page.timezone)
    public = page.known_public_metrics()
    if public:
        schemas = document["components"]["schemas"]
        for name in METRIC_SCHEMAS:
            schemas[name]["properties"]["metric"]["enum"] = public
        for path in METRIC_PARAMETER_PATHS:
            for parameter in document["paths"][path]["get"]["parameters"]:
                if parameter["name"] == "metric":
                    parameter["schema"]["enum"] = public
    return document
