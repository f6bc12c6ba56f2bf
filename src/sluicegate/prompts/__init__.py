"""Prompts as deployable artifacts: a versioned registry, layers and a linter.

- :mod:`.document`: the version document an author writes (JSON or YAML)
- :mod:`.template`: strict, sandboxed Jinja2 templates
- :mod:`.version`: one compiled version, and rendering it for a request
- :mod:`.registry`: every version and label in memory, kept current
- :mod:`sluicegate.state.prompt_store`: where they are kept (SQLite or PostgreSQL)
- :mod:`.stage`: the pipeline stage that renders a prompt and composes the layers
- :mod:`.lint`: the rules a version or a layer is checked against
"""

from sluicegate.prompts.document import PromptDocument
from sluicegate.prompts.registry import PromptRegistry
from sluicegate.prompts.stage import ComposePrompt
from sluicegate.prompts.version import PromptVersion

__all__ = ["ComposePrompt", "PromptDocument", "PromptRegistry", "PromptVersion"]
