"""The OpenAPI 3.1 description of the hub's data API (:mod:`hub.data_api`), served with it.

Schemathesis tests the API against it; keep it in step with the routes and their limits.
"""

from __future__ import annotations

from typing import Any


def _error() -> dict[str, Any]:
    return {
        "description": "What was wrong, naming the parameter",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of the data API (what schemathesis tests against)."""
    text = {"type": "string"}
    number = {"type": "number"}
    nullable_text = {"type": ["string", "null"]}

    def param(name: str, description: str, schema: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return {"name": name, "in": "query", "description": description, "schema": schema, **kw}

    moment = {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}
    range_params = [
        param(
            "from",
            "Start: YYYY-MM-DD (from the hub's local midnight) or an RFC 3339 date-time with "
            "its offset, from 1970-01-01 to 9999-11-30. Must be before `to`; a range is at "
            "most 7 days of readings or 400 days of rollups, counted on the local calendar. "
            "Default: a day (readings) or a week (rollups) before `to`.",
            moment,
        ),
        param(
            "to",
            "End: YYYY-MM-DD (that whole local day included) or an RFC 3339 date-time with "
            "its offset (excluded), from 1970-01-01 to 9999-11-30. Default: now.",
            moment,
        ),
        param(
            "metric",
            "Only these metrics (comma-separated), e.g. temperature,co2.",
            {"type": "string", "pattern": "^[a-z0-9_]{1,40}(,[a-z0-9_]{1,40})*$"},
        ),
    ]
    rollup = {
        "type": "object",
        "required": ["device_id", "sensor_id", "metric", "unit", "start", "count", "mean"],
        "properties": {
            "device_id": text,
            "sensor_id": text,
            "metric": text,
            "unit": text,
            "start": text,
            "count": {"type": "integer"},
            "mean": number,
            "min": number,
            "max": number,
        },
    }
    reading = {
        "type": "object",
        "required": ["device_id", "sensor_id", "metric", "unit", "time", "quality", "seq"],
        "properties": {
            "device_id": text,
            "sensor_id": text,
            "metric": text,
            "unit": text,
            "time": text,
            "value": {"type": ["number", "null"]},
            "quality": {"type": "integer"},
            "censor": nullable_text,
            "seq": {"type": "integer"},
        },
    }

    def get(
        summary: str, params: list[dict[str, Any]], ok: dict[str, Any], *, found: bool = True
    ) -> dict[str, Any]:
        responses: dict[str, Any] = {"200": ok, "400": _error(), "401": _error()}
        if found:
            responses["404"] = _error()
        return {"get": {"summary": summary, "parameters": params, "responses": responses}}

    def ok(schema: dict[str, Any], *files: str) -> dict[str, Any]:
        content: dict[str, Any] = {"application/json": {"schema": schema}}
        for mime in files:
            content[mime] = {"schema": {"type": "string"}}
        return {"description": "OK", "content": content}

    def path(name: str) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "schema": text}

    bucket = param(
        "bucket", "hour (UTC hours) or day (the hub's local days)", {"enum": ["hour", "day"]}
    )
    fmt = param("format", "json, csv or senml", {"enum": ["json", "csv", "senml"]})
    rollups_ok = ok(
        {
            "type": "object",
            "required": ["from", "to", "bucket", "rollups"],
            "properties": {"rollups": {"type": "array", "items": rollup}},
        }
    )
    readings_ok = ok(
        {
            "type": "object",
            "required": ["from", "to", "readings"],
            "properties": {"readings": {"type": "array", "items": reading}},
        },
        "text/csv",
        "application/senml+json",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hallsense hub data API",
            "version": "1",
            "description": "Readings of the county's village halls: per device and per site, "
            "hourly or daily rollups and raw readings as JSON, CSV or SenML (RFC 8428).",
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": text, "message": text},
                }
            },
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}],
        "paths": {
            "/api/v1/devices": get("Devices you may see", [], ok({"type": "object"}), found=False),
            "/api/v1/sites": get(
                "Sites and their devices", [], ok({"type": "object"}), found=False
            ),
            "/api/v1/devices/{device_id}/rollups": get(
                "A device's rollups", [path("device_id"), *range_params, bucket], rollups_ok
            ),
            "/api/v1/sites/{site}/rollups": get(
                "A site's rollups", [path("site"), *range_params, bucket], rollups_ok
            ),
            "/api/v1/devices/{device_id}/readings": get(
                "A device's readings", [path("device_id"), *range_params, fmt], readings_ok
            ),
            "/api/v1/sites/{site}/readings": get(
                "A site's readings", [path("site"), *range_params, fmt], readings_ok
            ),
            "/api/v1/openapi.json": get("This document", [], ok({"type": "object"}), found=False),
        },
    }
