"""JSON Schema from the contract models, shaped for OpenAPI 3.1 (and AsyncAPI 3).

pydantic writes JSON Schema 2020-12, which OpenAPI 3.1 uses as is. Two changes
make it read like a hand-written document: properties carry no generated
titles, and a nullable scalar is one `{"type": [T, "null"]}` rather than an
`anyOf` of two schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

Schema = dict[str, Any]
REF_TEMPLATE = "#/components/schemas/{model}"


class ContractJsonSchema(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        kind = inner.get("type")
        if isinstance(kind, str) and not {"enum", "const", "$ref"} & inner.keys():
            return {**inner, "type": [kind, "null"]}
        return {"anyOf": [inner, {"type": "null"}]}


def ref(model: type[BaseModel] | str) -> Schema:
    name = model if isinstance(model, str) else model.__name__
    return {"$ref": REF_TEMPLATE.format(model=name)}


def component_schemas(models: Iterable[type[BaseModel]]) -> dict[str, Schema]:
    """Every model and every model or enum they use, by name, with `$ref`s between them."""
    _, definitions = models_json_schema(
        [(model, "validation") for model in dict.fromkeys(models)],
        ref_template=REF_TEMPLATE,
        schema_generator=ContractJsonSchema,
    )
    return dict(sorted(definitions.get("$defs", {}).items()))


def parameters(model: type[BaseModel], location: str = "query") -> list[Schema]:
    """OpenAPI parameters from a query model: one per field, its schema generated."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=ContractJsonSchema)
    required = set(schema.get("required", []))
    result = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        parameter: Schema = {
            "name": name,
            "in": location,
            "required": name in required,
            "schema": _not_null(prop),
        }
        if description:
            parameter["description"] = description
        result.append(parameter)
    return result


def _not_null(schema: Schema) -> Schema:
    """A query parameter is absent or has a value: `null` is not something a URL can say."""
    schema = {key: value for key, value in schema.items() if key != "default"}
    kind = schema.get("type")
    if isinstance(kind, list):
        rest = [item for item in kind if item != "null"]
        schema["type"] = rest[0] if len(rest) == 1 else rest
    options = schema.get("anyOf")
    if options is not None:
        options = [option for option in options if option != {"type": "null"}]
        schema.pop("anyOf")
        schema.update(options[0] if len(options) == 1 else {"anyOf": options})
    return schema
