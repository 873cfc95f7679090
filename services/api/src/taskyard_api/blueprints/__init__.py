"""The API's routes, one blueprint per resource.

A route's OpenAPI operation id is its function's name in camelCase (`list_tasks` is
`listTasks`) and its summary the first line of its docstring (or `summary=`), so neither
is spelled twice.
"""

from __future__ import annotations

from flask_openapi3 import APIBlueprint, Tag


def operation_id(*, name: str, path: str, method: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def api_blueprint(name: str, import_name: str, url_prefix: str | None = None) -> APIBlueprint:
    return APIBlueprint(
        name,
        import_name,
        url_prefix=url_prefix,
        abp_tags=[Tag(name=name)],
        operation_id_callback=operation_id,
    )
