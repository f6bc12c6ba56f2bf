"""The shipped weight files are the ones bench/train_guardrails.py wrote, and they load."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from sluicegate.detectors.classifiers import (
    InjectionDetector,
    ModelFileError,
    ModerationClassifier,
)
from sluicegate.detectors.classifiers.injection import MODEL_FILE as INJECTION_FILE
from sluicegate.detectors.classifiers.linear import FORMAT, content_hash
from sluicegate.detectors.classifiers.moderation import MODEL_FILE as MODERATION_FILE

DATA = INJECTION_FILE.parent


def test_the_manifest_names_every_shipped_file_by_its_hash() -> None:
    manifest = json.loads((DATA / "MANIFEST.json").read_text())
    assert set(manifest) == {"injection.json.gz", "moderation.json.gz"}
    for name, digest in manifest.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("path", [INJECTION_FILE, MODERATION_FILE])
def test_each_file_records_its_own_content_hash(path: Path) -> None:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        payload = json.load(handle)
    assert payload["format"] == FORMAT
    assert payload["sha256"] == content_hash(payload)


def test_the_loaded_detectors_carry_that_hash_as_their_version() -> None:
    with gzip.open(INJECTION_FILE, "rt", encoding="utf-8") as handle:
        assert InjectionDetector.load().version == json.load(handle)["sha256"]
    with gzip.open(MODERATION_FILE, "rt", encoding="utf-8") as handle:
        assert ModerationClassifier.load().version == json.load(handle)["sha256"]


def test_the_files_are_small() -> None:
    assert sum(p.stat().st_size for p in DATA.iterdir()) < 5 * 1024 * 1024


def test_a_tampered_file_is_refused(tmp_path: Path) -> None:
    with gzip.open(INJECTION_FILE, "rt", encoding="utf-8") as handle:
        payload = json.load(handle)
    payload["thresholds"]["user"] = 0.99
    tampered = tmp_path / "injection.json.gz"
    with gzip.open(tampered, "wt", encoding="utf-8") as handle:
        json.dump(payload, handle)
    with pytest.raises(ModelFileError, match="sha256"):
        InjectionDetector.from_file(tampered)
