"""The JSON Schema of ``bundle.json``, generated from the models."""

from __future__ import annotations

import json
from typing import Any

from homediag.model.bundle import SCHEMA_VERSION, Bundle

__all__ = ["bundle_schema", "bundle_schema_json"]


def bundle_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``bundle.json`` for the current schema version."""
    schema = Bundle.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://homediag.dev/schema/bundle-{SCHEMA_VERSION}.json"
    schema["title"] = f"homediag bundle, schema {SCHEMA_VERSION}"
    return schema


def bundle_schema_json() -> str:
    """:func:`bundle_schema` as indented JSON text."""
    return json.dumps(bundle_schema(), indent=2, sort_keys=True) + "\n"
