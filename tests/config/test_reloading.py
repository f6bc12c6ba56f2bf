"""The README names every setting a reload cannot apply."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from sluicegate.config.reloading import restart_only
from sluicegate.config.schema import Config

README = Path(__file__).resolve().parents[2] / "README.md"


def restart_only_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        if restart_only(info.json_schema_extra):
            names.add(name)
        elif isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            names |= restart_only_names(info.annotation)
    return names


def test_the_readme_lists_every_restart_only_setting() -> None:
    paragraph = README.read_text().split("Reload: `SIGHUP`", 1)[1].split("\n\n", 1)[0]
    names = restart_only_names(Config)
    assert "port" in names and "storage" in names
    named = set(re.findall(r"`(?:[a-z_]+\.)?([a-z_]+)`", paragraph))
    assert names - named == set()
