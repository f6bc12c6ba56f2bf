"""Templates: Jinja2, strict, sandboxed, compiled once per version.

A variable that is not given is an error, never an empty string
(``StrictUndefined``); nothing is escaped (prompts are not HTML); a value is
inserted as it is and never rendered again, so a variable holding ``{{ x }}``
reaches the model as those characters. The sandbox keeps a template from
reaching Python internals through attribute access.

Rendering runs on the request path. Most prompts only insert variables into
text, and Jinja's general machinery costs about 15 us a render for that;
such a template is kept as a format string (its text, with a field for each
variable) and filled directly, which gives the same string (``format(value,
"")``, which is ``str(value)``, exactly as Jinja's output does) in well under
a microsecond. Any other feature (blocks, filters, expressions) renders
through Jinja.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ENVIRONMENT = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)


class TemplateError(Exception):
    """A template that does not compile, or a render that failed."""

    def __init__(self, message: str, *, line: int | None = None, variable: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Template:
    # Variables the template reads from its caller (loop and {% set %} names excluded).
    variables: frozenset[str]
    # When the template is only text and variables: its text as a format string with a
    # named field per variable ("{product}"); else None and Jinja renders it.
    plain: str | None
    _jinja: jinja2.Template | None

    def render(self, values: Mapping[str, Any]) -> str:
        plain = self.plain
        if plain is not None:
            try:
                return plain.format_map(values)
            except KeyError as exc:
                name = str(exc.args[0])
                raise TemplateError(f"'{name}' is undefined", variable=name) from None
        assert self._jinja is not None
        try:
            return self._jinja.render(values)
        except jinja2.UndefinedError as exc:
            raise TemplateError(str(exc), variable=_undefined_name(str(exc))) from exc
        except jinja2.TemplateError as exc:
            raise TemplateError(str(exc)) from exc
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateError(f"the template failed: {exc}") from exc


def compile_template(source: str) -> Template:
    """Parse ``source`` once; raises :class:`TemplateError` with the line of a syntax error."""
    try:
        tree = ENVIRONMENT.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(exc.message or str(exc), line=exc.lineno) from exc
    variables = frozenset(meta.find_undeclared_variables(tree))
    plain = _plain(tree)
    jinja = None if plain is not None else ENVIRONMENT.from_string(tree)
    return Template(variables=variables, plain=plain, _jinja=jinja)


def _plain(tree: nodes.Template) -> str | None:
    """The format string of a template of only text and names (names are identifiers,
    so each is a plain named field)."""
    text: list[str] = []
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            return None
        for item in node.nodes:
            if isinstance(item, nodes.TemplateData):
                text.append(item.data.replace("{", "{{").replace("}", "}}"))
            elif isinstance(item, nodes.Name) and item.ctx == "load":
                text.append("{" + item.name + "}")
            else:
                return None
    return "".join(text)


def _undefined_name(message: str) -> str | None:
    # Jinja says "'name' is undefined" (or "'dict object' has no attribute 'x'").
    if message.endswith(" is undefined") and message.startswith("'"):
        return message[1 : message.index("'", 1)]
    return None
