"""Load the YAML config file, with errors that name the file, the line and the field.

PyYAML's ``safe_load`` throws away line numbers, so the file is *composed*
into nodes (which keep their marks) and turned into plain data here, keeping a
map from each field path to its line. Pydantic and the cross-reference checks
report problems by path; the map turns each path back into a line. Along the
way this step does what YAML itself will not:

- a key given twice in one mapping is an error (YAML silently keeps the last);
- ``env:NAME`` in any string value is replaced by the variable's value before
  validation, so ``port: env:PORT`` still becomes an int; LiteLLM's
  ``os.environ/NAME`` is an error that says to write ``env:NAME``;
- timestamps stay strings (``api_version: 2024-10-21`` must not become a date).

Every problem found is reported in one :class:`ConfigError`, sorted by line.
"""

from __future__ import annotations

import difflib
import os
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from sluicegate.config.references import FieldPath, Issue, check_references, format_path
from sluicegate.config.schema import Config
from sluicegate.config.unpriced import unpriced_budgets

__all__ = [
    "ConfigError",
    "Problem",
    "config_warnings",
    "load_config",
    "load_config_text",
    "load_config_with_warnings",
    "validate_config",
]

_ENV_PREFIX = "env:"
_LITELLM_ENV_PREFIX = "os.environ/"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# Values never echoed back in an error message.
_SECRET_FIELDS = frozenset({"key", "api_key", "admin_key", "headers"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a config: where (file, line, field) and what.

    A ``warning`` does not stop the config from loading (see :func:`load_config_with_warnings`).
    """

    path: FieldPath
    message: str
    line: int | None = None
    source: str | None = None
    severity: Literal["error", "warning"] = "error"

    @property
    def field(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        parts = [p for p in (self.source, None if self.line is None else str(self.line)) if p]
        where = ":".join(parts)
        field = self.field
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        return ": ".join(p for p in (where, field, message) if p)


class ConfigError(Exception):
    """A config that cannot be used; ``str()`` is one ``FILE:LINE: FIELD: message`` per problem.

    Problems without a field (a YAML syntax error, an empty file) leave the
    field out; problems from :func:`validate_config` have no file and line.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        # Stable sort: problems on one line keep the order they were found in.
        self.problems: list[Problem] = sorted(problems, key=lambda p: p.line or 0)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[Problem]]]:
        # Rebuilt from its problems, not its message (e.g. across worker processes).
        return (ConfigError, (self.problems,))


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, validate and cross-check the config file at ``path``.

    ``environ`` (default: ``os.environ``) supplies the ``env:NAME`` values.
    Raises :class:`ConfigError` naming ``path`` as given.
    """
    return load_config_with_warnings(path, environ)[0]


def load_config_with_warnings(
    path: str | Path, environ: Mapping[str, str] | None = None
) -> tuple[Config, list[Problem]]:
    """Like :func:`load_config`, and also what is legal but probably a mistake
    (e.g. a budget that an alias without pricing can spend), each with its line."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([Problem((), f"cannot read the file: {reason}", source=source)]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"not valid UTF-8 text (byte {exc.start})"
        raise ConfigError([Problem((), message, line=line, source=source)]) from None
    return _load_text(text, source=source, environ=environ)


def load_config_text(
    text: str, *, source: str = "<config>", environ: Mapping[str, str] | None = None
) -> Config:
    """Like :func:`load_config`, for YAML already in memory; ``source`` names it in errors."""
    return _load_text(text, source=source, environ=environ)[0]


def config_warnings(config: Config) -> list[Problem]:
    """The warnings of a config given as data (no file, so no lines), e.g. the embedded defaults."""
    return [Problem(path, message, severity="warning") for path, message in _warnings(config)]


def _load_text(
    text: str, *, source: str, environ: Mapping[str, str] | None
) -> tuple[Config, list[Problem]]:
    env = os.environ if environ is None else environ
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([_syntax_problem(exc, text, source)]) from None
    if root is None:
        message = "the file is empty (a config needs at least providers and models)"
        raise ConfigError([Problem((), message, line=1, source=source)])
    if not isinstance(root, MappingNode):
        message = (
            "the top level must be a mapping of blocks (server, storage, providers, models,"
            f" tenants), got {_node_kind(root)}"
        )
        raise ConfigError([Problem((), message, line=_line(root), source=source)])

    builder = _Builder(env, source)
    data = builder.build(root)
    config, issues = _validate(data)
    problems = builder.problems + [
        Problem(path, message, line=builder.line_of(path), source=source)
        for path, message in issues
        if not builder.replaced(path)
    ]
    if problems or config is None:
        raise ConfigError(problems)
    warnings = [
        Problem(path, message, line=builder.line_of(path), source=source, severity="warning")
        for path, message in _warnings(config)
    ]
    return config, sorted(warnings, key=lambda p: p.line or 0)


def validate_config(data: Mapping[str, Any]) -> Config:
    """Validate and cross-check a config given as plain data (e.g. the embedded defaults).

    No ``env:`` substitution happens here. Raises :class:`ConfigError` whose
    problems name fields but no file or line.
    """
    config, issues = _validate(data)
    if issues or config is None:
        raise ConfigError(Problem(path, message) for path, message in issues)
    return config


def _warnings(config: Config) -> list[Issue]:
    return unpriced_budgets(config)


def _validate(data: Any) -> tuple[Config | None, list[Issue]]:
    """All schema problems, or, when there are none, all cross-reference problems.

    Cross-references need a whole, valid config, so they are checked only
    once the schema passes.
    """
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        return None, [_humanize(err) for err in exc.errors(include_url=False)]
    issues = check_references(config)
    return (None if issues else config), issues


# --- YAML nodes -> plain data, with lines -------------------------------------------------


class _Builder:
    """Turns composed YAML nodes into dicts, lists and scalars, noting each path's line."""

    def __init__(self, environ: Mapping[str, str], source: str) -> None:
        self._environ = environ
        self._source = source
        self._constructor = yaml.SafeLoader("")
        self._lines: dict[FieldPath, int] = {}
        self._unusable: list[FieldPath] = []
        self._active: set[int] = set()
        self.problems: list[Problem] = []

    def build(self, root: MappingNode) -> Any:
        self._lines[()] = _line(root)
        return self._node(root, ())

    def line_of(self, path: FieldPath) -> int:
        """The line of ``path``, or of the nearest enclosing field that is in the file.

        A missing field has no line of its own; the mapping that should hold
        it is the place to add it.
        """
        for end in range(len(path), -1, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return 1

    def replaced(self, path: FieldPath) -> bool:
        """True when ``path`` is at or inside a value already reported as unusable.

        Such a value was kept as written (an unset ``env:NAME``) or replaced by
        null (an unsupported tag); whatever the schema says about it would only
        repeat the real problem.
        """
        return any(path[: len(bad)] == bad for bad in self._unusable)

    def _problem(self, path: FieldPath, line: int, message: str, *, unusable: bool = True) -> None:
        if unusable:
            self._unusable.append(path)
        self.problems.append(Problem(path, message, line=line, source=self._source))

    def _node(self, node: Node, path: FieldPath) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        # An alias may point at a node that contains it; following it would never end.
        if id(node) in self._active:
            self._problem(path, _line(node), "an alias refers to a node that contains it")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        raise AssertionError(f"unexpected YAML node {node!r}")  # pragma: no cover

    def _scalar(self, node: ScalarNode, path: FieldPath) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            value: Any = node.value
        else:
            try:
                value = self._constructor.construct_object(node)
            except yaml.YAMLError as exc:
                self._problem(path, _line(node), _yaml_message(exc))
                return None
        if isinstance(value, str) and value.startswith(_ENV_PREFIX):
            return self._env(value, node, path)
        if isinstance(value, str) and value.startswith(_LITELLM_ENV_PREFIX):
            # LiteLLM's spelling; taken literally it would be sent as the key itself.
            name = value[len(_LITELLM_ENV_PREFIX) :].strip() or "NAME"
            self._problem(path, _line(node), f"{value} is LiteLLM's syntax; write env:{name}")
        return value

    def _env(self, value: str, node: ScalarNode, path: FieldPath) -> str:
        name = value[len(_ENV_PREFIX) :].strip()
        if not name:
            message = "env: needs a variable name (env:NAME)"
        elif name in self._environ:
            return self._environ[name]
        else:
            message = f"environment variable {name} is not set"
        self._problem(path, _line(node), message)
        return value

    def _sequence(self, node: SequenceNode, path: FieldPath) -> list[Any] | None:
        if node.tag != _SEQ_TAG:
            self._problem(path, _line(node), f"unsupported YAML tag {node.tag}")
            return None
        items: list[Any] = []
        for i, child in enumerate(node.value):
            self._lines[(*path, i)] = _line(child)
            items.append(self._node(child, (*path, i)))
        return items

    def _mapping(self, node: MappingNode, path: FieldPath) -> dict[str, Any] | None:
        if node.tag != _MAP_TAG:
            self._problem(path, _line(node), f"unsupported YAML tag {node.tag}")
            return None
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self._problem(path, _line(key_node), "a key must be a plain string", unusable=False)
                continue
            # Keys are names, never numbers or booleans: keep the text as written
            # (YAML 1.1 would turn a key `on` into True).
            key: str = key_node.value
            key_path = (*path, key)
            line = _line(key_node)
            if key in first_line:
                message = f"duplicate key (first given on line {first_line[key]})"
                self._problem(key_path, line, message, unusable=False)
            else:
                first_line[key] = line
            self._lines[key_path] = line
            out[key] = self._node(value_node, key_path)
        for merge in merges:
            self._merge(out, merge, path)
        return out

    def _merge(self, out: dict[str, Any], merge: Node, path: FieldPath) -> None:
        """``<<: *defaults``: keys the mapping lacks come from the merged mapping(s).

        The mapping's own keys win, then earlier merged mappings over later
        ones, as in the YAML merge-key spec. Lines point into the anchor.
        """
        sources = merge.value if isinstance(merge, SequenceNode) else [merge]
        for source in sources:
            if not isinstance(source, MappingNode):
                self._problem(path, _line(source), "<< must be given a mapping or a list of them")
                continue
            own_lines, self._lines = self._lines, {}
            try:
                merged = self._node(source, path)
            finally:
                merged_lines, self._lines = self._lines, own_lines
            for key, value in (merged or {}).items():
                if key in out:
                    continue
                out[key] = value
                depth = len(path)
                for sub, line in merged_lines.items():
                    if len(sub) > depth and sub[depth] == key:
                        self._lines[sub] = line


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _node_kind(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    return f"the value {node.value!r}"


def _yaml_message(exc: yaml.YAMLError) -> str:
    # PyYAML splits a message into a context ("while scanning a simple key",
    # with its own mark) and the problem ("could not find expected ':'").
    if isinstance(exc, yaml.MarkedYAMLError):
        problem, context = exc.problem, exc.context
        if problem and context and problem.startswith("but "):
            message = f"{context}, {problem}"
        elif problem and context and exc.context_mark is not None:
            message = f"{problem} ({context} on line {exc.context_mark.line + 1})"
        else:
            message = problem or context or "malformed"
        if "'\\t'" in message:
            message += " (indent with spaces, not tabs)"
        return f"invalid YAML: {message}"
    return f"invalid YAML: {exc}"


def _syntax_problem(exc: yaml.YAMLError, text: str, source: str) -> Problem:
    line: int | None = None
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            line = mark.line + 1
    elif isinstance(exc, ReaderError):
        # A character YAML does not allow (a control character, say); it knows the
        # offset only.
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        char = exc.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        message = f"invalid YAML: {exc.reason} ({shown})"
        return Problem((), message, line=line, source=source)
    return Problem((), _yaml_message(exc), line=line, source=source)


# --- pydantic errors -> human messages ----------------------------------------------------


def _humanize(err: ErrorDetails) -> Issue:
    loc: FieldPath = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if loc and loc[-1] == "[key]":
        return loc[:-1], f"a key here must be a string, got {_describe(loc[-2])}"
    path = loc
    got = "" if _is_secret(path) else f" (got {_describe(value)})"
    got_plain = "" if _is_secret(path) else f", got {_describe(value)}"

    if kind == "missing":
        return path, "required field is missing"
    if kind == "extra_forbidden":
        return path, _unknown_field(path)
    if kind in {"literal_error", "enum"}:
        choices = _choices(path) or [ctx.get("expected", "")]
        return path, f"must be one of {', '.join(choices)}{got}"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return path, f"expected a whole number{got_plain}"
    if kind in {"float_parsing", "float_type"}:
        return path, f"expected a number{got_plain}"
    if kind in {"bool_parsing", "bool_type"}:
        return path, f"expected true or false{got_plain}"
    if kind == "string_type":
        hint = " (quote it to make it a string)" if isinstance(value, int | float) else ""
        return path, f"expected a string{got_plain}{hint}"
    if kind == "list_type":
        return path, f"expected a list{got_plain}"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return path, f"expected a mapping{got_plain}"
    bounds = {
        "greater_than": ("gt", "must be greater than"),
        "greater_than_equal": ("ge", "must be at least"),
        "less_than": ("lt", "must be less than"),
        "less_than_equal": ("le", "must be at most"),
    }
    if kind in bounds:
        name, text = bounds[kind]
        return path, f"{text} {_number(ctx.get(name))}{got}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return path, "must not be empty" if n == 1 else f"must have at least {n} items"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return path, "must not be empty" if n == 1 else f"must be at least {n} characters long"
    if kind == "value_error":
        return path, str(err["msg"]).removeprefix("Value error, ")
    return path, str(err["msg"])


def _describe(value: Any) -> str:
    """A value as the operator wrote it in YAML, or what kind of thing it is."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, Sequence):
        return "a list"
    return type(value).__name__


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_secret(path: FieldPath) -> bool:
    return any(part in _SECRET_FIELDS for part in path if isinstance(part, str))


def _unknown_field(path: FieldPath) -> str:
    owner = _annotation_at(path[:-1])
    key = path[-1]
    if not (isinstance(owner, type) and issubclass(owner, BaseModel)) or not isinstance(key, str):
        return "unknown field"
    fields = list(owner.model_fields)
    close = difflib.get_close_matches(key, fields, n=1)
    if close:
        return f"unknown field (did you mean {close[0]!r}?)"
    return f"unknown field (expected one of {', '.join(fields)})"


def _choices(path: FieldPath) -> list[str]:
    annotation = _annotation_at(path)
    if get_origin(annotation) is Literal:
        return [str(arg) for arg in get_args(annotation)]
    return []


def _annotation_at(path: FieldPath) -> Any:
    """The schema type of the value at ``path``, following models, lists and dicts."""
    annotation: Any = Config
    for part in path:
        annotation = _without_none(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            annotation = field.annotation
        elif get_origin(annotation) in (list, dict):
            annotation = get_args(annotation)[-1]
        else:
            return None
    return _without_none(annotation)


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation
