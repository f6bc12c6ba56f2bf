"""One version of a prompt, compiled once, and rendering it for a request.

Everything a request needs is worked out when the version is loaded into
memory: its templates compiled, its variables' schema compiled into a
validator (jsonschema-rs: draft 2020-12, a fraction of a microsecond per
check, where the pure-Python validator takes about 30), the defaults of its
variables read out. Rendering then only checks, fills and joins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import msgspec

from sluicegate.canonical import ErrorCode, GatewayError, Message, TextPart
from sluicegate.json_schema import compile_schema
from sluicegate.prompts.document import PromptDocument
from sluicegate.prompts.template import Template, TemplateError, compile_template


class RenderedPrompt(msgspec.Struct, frozen=True):
    version: PromptVersion
    system: tuple[str, ...]  # the version's system (and developer) messages, rendered
    messages: tuple[Message, ...]  # its other messages, rendered, in order


@dataclass(frozen=True, slots=True)
class PromptVersion:
    name: str
    version: int
    hash: str
    created_at: float
    tenant_id: str | None  # None: a platform prompt
    document: PromptDocument
    templates: tuple[tuple[str, Template], ...]  # (role, template) per message
    validator: jsonschema_rs.Validator | None
    defaults: tuple[tuple[str, Any], ...]
    # (ChatRequest field, value) for each of params and response_format the version sets:
    # the request's own value wins.
    defaults_for_request: tuple[tuple[str, Any], ...]
    # NAME@VERSION: how headers, the ledger, usage and cache keys name it (kept, not
    # formatted per request).
    ref: str

    @classmethod
    def compile(
        cls,
        document: PromptDocument,
        *,
        version: int,
        hash: str,
        created_at: float,
        tenant_id: str | None,
    ) -> PromptVersion:
        """Raises :class:`TemplateError` or ``ValueError`` for a version that cannot be
        served (a forced version with a broken template is refused here, not at request
        time)."""
        templates = tuple((m.role, compile_template(m.content)) for m in document.messages)
        schema = document.variables
        validator = None
        defaults: list[tuple[str, Any]] = []
        if schema is not None:
            validator = compile_schema(schema).validator
            properties = schema.get("properties")
            if isinstance(properties, dict):
                defaults = [
                    (k, v["default"])
                    for k, v in properties.items()
                    if isinstance(v, dict) and "default" in v
                ]
        request_defaults = [
            (name, value if name != "stop" else list(value))
            for name, value in document.params.model_dump(exclude_none=True).items()
        ]
        if document.response_format is not None:
            request_defaults.append(("response_format", document.response_format))
        return cls(
            name=document.name,
            version=version,
            hash=hash,
            created_at=created_at,
            tenant_id=tenant_id,
            document=document,
            templates=templates,
            validator=validator,
            defaults=tuple(defaults),
            defaults_for_request=tuple(request_defaults),
            ref=f"{document.name}@{version}",
        )

    def render(self, variables: Mapping[str, Any]) -> RenderedPrompt:
        """The version's messages for ``variables``; a 400 naming the variable when one is
        missing or fails the schema. Defaults fill what is not given before checking."""
        if self.defaults:
            filled = dict(self.defaults)
            filled.update(variables)
            variables = filled
        validator = self.validator
        if validator is not None and not validator.is_valid(variables):
            raise _invalid_variables(validator, variables)
        system: list[str] = []
        messages: list[Message] = []
        try:
            for role, template in self.templates:
                text = template.render(variables)
                if role == "system" or role == "developer":
                    system.append(text)
                else:
                    messages.append(Message(role=role, content=[TextPart(text=text)]))  # type: ignore[arg-type]
        except TemplateError as exc:
            if exc.variable is not None:
                raise variables_invalid(
                    f"prompt {self.ref} needs the variable '{exc.variable}'", exc.variable
                ) from exc
            raise variables_invalid(
                f"prompt {self.ref} could not be rendered: {exc}", None
            ) from exc
        return RenderedPrompt(version=self, system=tuple(system), messages=tuple(messages))


def variables_invalid(message: str, variable: str | None) -> GatewayError:
    param = "prompt.variables" if variable is None else f"prompt.variables.{variable}"
    return GatewayError.invalid(message, code=ErrorCode.PROMPT_VARIABLES_INVALID, param=param)


def _invalid_variables(
    validator: jsonschema_rs.Validator, variables: Mapping[str, Any]
) -> GatewayError:
    error = next(iter(validator.iter_errors(variables)))
    path = [str(p) for p in error.instance_path]
    variable = ".".join(path) if path else _required_name(error)
    return variables_invalid(f"prompt variables: {error.message}", variable)


def _required_name(error: jsonschema_rs.ValidationError) -> str | None:
    # A missing required property is reported at the object, naming the property.
    kind = error.kind
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        return str(kind.property)
    return None
