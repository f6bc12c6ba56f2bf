"""Measure the shipped moderation classifier as the local half of a cascade, on dev or test sets.

    .venv/bin/python bench/guardrail_moderation.py --split dev
    .venv/bin/python bench/guardrail_moderation.py --split test

Prints, per set and pooled: harmful and benign rows; precision, recall and false-positive rate of
the local flag alone (``verdict.flagged``); the share of rows in the ``uncertain()`` band, which the
gateway would send to an LLM judge; and the cascade's recall and FPR if that judge were always right
(flagged or uncertain-and-harmful), which bounds what the cascade can reach. Then recall per
category and whether the predicted category was right, the same figures for alt-profanity-check
(a profanity model, trained on offensive-language comments, shown for comparison: it is not a
harmful-request detector), and the cost of ``score`` in µs per KB.

Traffic here is the S-Labs benign prompts of the same split (ordinary requests) plus the
hand-written harmful and near-miss rows, so the uncertain share is quoted both over all rows and
over the benign traffic alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_guardrails import Example, moderation_sets

from sluicegate.detectors.classifiers import ModerationClassifier, Verdict


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def summarize(name: str, rows: list[tuple[Example, Verdict, bool, bool]]) -> None:
    pos = [r for r in rows if r[0].label]
    neg = [r for r in rows if not r[0].label]
    tp = sum(1 for r in pos if r[1].flagged)
    fp = sum(1 for r in neg if r[1].flagged)
    unsure = sum(1 for r in rows if r[2])
    cascade_tp = sum(1 for r in pos if r[1].flagged or r[2])
    base_tp = sum(1 for r in pos if r[3])
    base_fp = sum(1 for r in neg if r[3])
    print(
        f"{name:42} {len(pos):5d} {len(neg):6d} |"
        f" {_fmt(_ratio(tp, tp + fp))} {_fmt(_ratio(tp, len(pos)))}"
        f" {_fmt(_ratio(fp, len(neg)))} | {_fmt(_ratio(unsure, len(rows)))}"
        f" {_fmt(_ratio(cascade_tp, len(pos)))} {_fmt(_ratio(fp, len(neg)))} |"
        f" {_fmt(_ratio(base_tp, base_tp + base_fp))} {_fmt(_ratio(base_tp, len(pos)))}"
        f" {_fmt(_ratio(base_fp, len(neg)))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs of each 1 KB text")
    args = parser.parse_args()

    try:
        from profanity_check import predict_prob
    except ImportError:  # the comparison is optional

        def predict_prob(texts: list[str]) -> list[float]:
            return [0.0 for _ in texts]

    sets = moderation_sets()[args.split].sets
    model = ModerationClassifier.load()
    print(
        f"split {args.split}; model {model.version[:12]};"
        f" flag at score >= {model.flag_threshold:.4f},"
        f" uncertain in [{model.uncertain_from:.4f}, {model.flag_threshold:.4f})\n"
    )
    head = (
        f"{'set':42} {'harm':>5} {'benign':>6} | {'P':>6} {'R':>6} {'FPR':>6} | {'unsure':>6}"
        f" {'casc R':>6} {'FPR':>6} | {'profanity-check P':>6} {'R':>6} {'FPR':>6}"
    )
    print("local flag alone: P R FPR; the uncertain band's share; the cascade with a perfect judge")
    print(head)
    print("-" * len(head))
    pooled: list[tuple[Example, Verdict, bool, bool]] = []
    per_category: dict[str, list[tuple[bool, bool, bool]]] = defaultdict(list)
    for name, examples in sets.items():
        baseline = [p >= 0.5 for p in predict_prob([e.text for e in examples])] if examples else []
        rows = []
        for e, base in zip(examples, baseline, strict=True):
            verdict = model.score(e.text)
            rows.append((e, verdict, model.uncertain(verdict), bool(base)))
            if e.label:
                per_category[e.category].append(
                    (
                        verdict.flagged,
                        verdict.flagged or model.uncertain(verdict),
                        verdict.category == e.category,
                    )
                )
        summarize(name, rows)
        pooled.extend(rows)
    print("-" * len(head))
    summarize("all rows pooled", pooled)
    traffic = [r for r in pooled if not r[0].label]
    print(
        "\nuncertain share of benign traffic alone:"
        f" {sum(r[2] for r in traffic) / max(1, len(traffic)):.3f}"
        f" ({len(traffic)} rows)"
    )
    print(f"\n{'category':12} {'rows':>5} {'local R':>8} {'cascade R':>9} {'category right':>14}")
    for category, hits in sorted(per_category.items()):
        n = len(hits)
        print(
            f"{category:12} {n:5d} {sum(h[0] for h in hits) / n:8.3f}"
            f" {sum(h[1] for h in hits) / n:9.3f}"
            f" {sum(h[2] for h in hits) / n:14.3f}"
        )

    stream = " ".join(e.text for e in sets["S-Labs benign prompts (traffic)"])
    texts = [stream[i : i + 1024] for i in range(0, min(len(stream), 200 * 1024) - 1024, 1024)]
    times = []
    for text in texts:
        model.score(text)
        for _ in range(args.repeat):
            start = time.perf_counter()
            model.score(text)
            times.append((time.perf_counter() - start) * 1e6)
    q = statistics.quantiles(times, n=100)
    print(
        f"\ncost of score() on {len(texts)} 1 KB texts x {args.repeat}: p50 {q[49]:.1f} µs,"
        f" p95 {q[94]:.1f} µs, p99 {q[98]:.1f} µs per KB"
    )


if __name__ == "__main__":
    main()
