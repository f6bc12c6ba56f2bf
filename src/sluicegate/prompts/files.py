"""Prompt files: a version document in YAML, as kept in a repository and pushed from CI.

Reading one keeps the line of every field, so that a finding about
``messages[1].content`` can point at the line of the file it is on (text
output and SARIF both use it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class PromptFileError(Exception):
    """A file that is not a YAML mapping; the message names the file and line."""


@dataclass(frozen=True)
class PromptFile:
    path: Path
    data: dict[str, Any]
    _root: MappingNode

    @classmethod
    def read(cls, path: Path) -> PromptFile:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PromptFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise PromptFileError(f"{where}: not valid YAML: {exc}") from exc
        if not isinstance(root, MappingNode) or not isinstance(data, dict):
            raise PromptFileError(f"{path}: a prompt file is a version document (a mapping)")
        return cls(path, data, root)

    def line_of(self, field: str, line_in_text: int | None = None) -> int:
        """The file's line for a finding's ``path`` (and its line within that text)."""
        node: Node = self._root
        for name, index in _STEP.findall(field):
            child = _child(node, name, int(index) if index else None)
            if child is None:
                break
            node = child
        line = node.start_mark.line + 1
        if line_in_text is not None and isinstance(node, ScalarNode):
            # A block scalar (| or >) starts on the line after its indicator.
            line += line_in_text - 1 + (1 if node.style in ("|", ">") else 0)
        return line


def _child(node: Node, name: str, index: int | None) -> Node | None:
    if index is not None:
        if isinstance(node, SequenceNode) and index < len(node.value):
            item: Node = node.value[index]
            return item
        return None
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == name:
                found: Node = value
                return found
    return None
