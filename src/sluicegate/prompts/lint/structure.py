"""Rules on a version's form: its templates, its variables and its size."""

from __future__ import annotations

from collections.abc import Iterator

import jinja2
import jsonschema_rs

from sluicegate.prompts.document import PromptDocument
from sluicegate.prompts.lint.findings import Finding
from sluicegate.prompts.template import ENVIRONMENT, Template, TemplateError, compile_template

# The tokens a message costs besides its text (role and framing), as canonical/tokens.py.
_MESSAGE_OVERHEAD = 4


def compiled(document: PromptDocument) -> tuple[list[Template | None], list[Finding]]:
    """Each message's template (None where it does not compile), and the syntax errors."""
    templates: list[Template | None] = []
    findings: list[Finding] = []
    for i, message in enumerate(document.messages):
        try:
            templates.append(compile_template(message.content))
        except TemplateError as exc:
            templates.append(None)
            findings.append(
                Finding(
                    "template-syntax",
                    "error",
                    f"template syntax error: {exc.message}",
                    f"messages[{i}].content",
                    exc.line,
                )
            )
    return templates, findings


def variable_findings(
    document: PromptDocument, templates: list[Template | None]
) -> Iterator[Finding]:
    schema = document.variables
    if schema is None:
        return
    problem = _schema_problem(schema)
    if problem is not None:
        yield Finding("variables-schema", "error", problem[0], problem[1])
        return
    declared = set(schema.get("properties") or {})
    used: set[str] = set()
    for i, template in enumerate(templates):
        if template is None:
            continue
        used |= template.variables
        for name in sorted(template.variables - declared):
            yield Finding(
                "undefined-variable",
                "error",
                f"the template uses '{name}', which variables.properties does not declare",
                f"messages[{i}].content",
            )
    if all(t is not None for t in templates):
        for name in sorted(declared - used):
            yield Finding(
                "unused-variable",
                "warning",
                f"the variable '{name}' is declared but no message uses it",
                f"variables.properties.{name}",
            )


def _schema_problem(schema: dict[str, object]) -> tuple[str, str] | None:
    try:
        jsonschema_rs.meta.validate(schema)
    except jsonschema_rs.ValidationError as exc:
        return f"variables is not a valid JSON Schema: {exc.message}", "variables"
    except Exception as exc:  # a $schema naming a draft the validator does not know
        return f"variables is not a valid JSON Schema: {exc}", "variables"
    kind = schema.get("type")
    if kind not in ("object", None) or (kind is None and "properties" not in schema):
        return "variables must be an object schema (type: object)", "variables.type"
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for name, spec in properties.items():
            if isinstance(spec, dict) and "default" in spec:
                check = jsonschema_rs.validator_for(spec)
                if not check.is_valid(spec["default"]):
                    return (
                        f"the default of '{name}' does not match its own schema",
                        f"variables.properties.{name}.default",
                    )
    return None


def context_window_findings(
    document: PromptDocument, context_window: int | None
) -> Iterator[Finding]:
    """The prompt's own text plus ``max_tokens`` against the alias's window: the tokens
    are estimated from the template text (4 characters a token, as the gateway's own
    estimates), with variables counted at their defaults or a short placeholder."""
    if context_window is None:
        return
    sizes = _default_sizes(document)
    chars = sum(len(_rendered_estimate(m.content, sizes)) for m in document.messages)
    prompt_tokens = (chars + 3) // 4 + _MESSAGE_OVERHEAD * len(document.messages)
    answer_tokens = document.params.max_tokens or 0
    total = prompt_tokens + answer_tokens
    if total > context_window:
        yield Finding(
            "context-window",
            "error",
            f"the prompt (about {prompt_tokens} tokens) plus max_tokens ({answer_tokens}) "
            f"is {total} tokens, over the model's context window of {context_window}",
            "params.max_tokens" if answer_tokens else "messages",
        )


def _default_sizes(document: PromptDocument) -> dict[str, int]:
    properties = (document.variables or {}).get("properties")
    if not isinstance(properties, dict):
        return {}
    return {
        name: len(str(spec["default"]))
        for name, spec in properties.items()
        if isinstance(spec, dict) and "default" in spec
    }


def _rendered_estimate(source: str, sizes: dict[str, int]) -> str:
    # Rough on purpose: the static text, and each variable at its default's length (a
    # word where it has none).
    out: list[str] = []
    try:
        tokens = list(ENVIRONMENT.lex(source))
    except jinja2.TemplateSyntaxError:
        return source
    for i, (_, kind, value) in enumerate(tokens):
        if kind == "data":
            out.append(value)
        elif kind == "variable_begin":
            name = next((v for _, k, v in tokens[i + 1 : i + 3] if k == "name"), "")
            out.append("x" * sizes.get(name, 5))
    return "".join(out)


def prefix_findings(document: PromptDocument) -> Iterator[Finding]:
    """A system message that opens with per-request content and has static text after
    it: every request's prefix differs, so a provider's prompt cache never hits."""
    for i, message in enumerate(document.messages):
        if message.role not in ("system", "developer"):
            continue
        try:
            tokens = [(kind, value) for _, kind, value in ENVIRONMENT.lex(message.content)]
        except jinja2.TemplateSyntaxError:
            continue
        first = next(((k, v) for k, v in tokens if not (k == "data" and not v.strip())), None)
        if first is None or first[0] not in ("variable_begin", "block_begin"):
            continue
        if first[0] == "block_begin" and not _opens_dynamic_block(tokens):
            continue
        static_after = any(k == "data" and v.strip() for k, v in tokens[tokens.index(first) :])
        if static_after:
            yield Finding(
                "variable-before-static",
                "warning",
                "the system message starts with per-request content; put static text first "
                "so that the provider's prompt cache can reuse the prefix",
                f"messages[{i}].content",
                1,
            )


def _opens_dynamic_block(tokens: list[tuple[str, str]]) -> bool:
    # {% if x %}, {% for x in y %} depend on variables; {% raw %} and {% set %} of a
    # constant do not make the opening text differ between requests.
    for kind, value in tokens:
        if kind == "name":
            return value in ("if", "for", "with", "filter", "include", "macro", "call")
        if kind == "block_end":
            return False
    return False
