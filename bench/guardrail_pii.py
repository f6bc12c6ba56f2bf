"""Measure the pii guardrail's detector: precision, recall, false positives and cost.

    .venv/bin/python bench/guardrail_pii.py --split dev|test|test2|test3 [--show ENTITY]
        [--cost-texts N]

Reads bench/data/guardrails/pii/{split}.jsonl (labelled sentences, see generate.py there)
and benign_{split}.txt (look-alikes with no PII, see benign.py). ``dev`` is what the
detector was tuned on; ``test`` has other templates, people, locales and seeds; its
figures (never its misses) were seen during the second round of tuning. ``test2`` was
written then, before that round, and measured once at its end. ``test3`` was written
before the name classifier was trained (its own templates, locales and seed) and is
measured once at the end of that round.

Scoring is per span: a predicted span is a true positive when it overlaps a gold span of
the same entity; recall is the share of gold spans overlapped by such a prediction.
Predictions overlapping a street address or ZIP code (unlabelled for us: they hold city
names and house numbers) are not counted. "exact" requires identical boundaries. FP/1k is
predictions per 1,000 benign sentences.

Cost: texts of about 1 KB made by joining the split's sentences, each timed with
time.perf_counter (best of 3 runs per text, to drop scheduler noise), normalised to a
KB; p50 and p95 over the texts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from sluicegate.detectors.pii import PII_ENTITIES, PiiDetector

DATA = Path(__file__).parent / "data" / "guardrails" / "pii"


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def load(split: str) -> tuple[dict[str, object], list[dict[str, object]], list[str]]:
    lines = (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])["header"]
    rows = [json.loads(line) for line in lines[1:]]
    benign = (DATA / f"benign_{split}.txt").read_text(encoding="utf-8").splitlines()
    return header, rows, benign


def score(detector: PiiDetector, rows: list[dict], show: str | None) -> dict[str, Counter[str]]:
    stats = {e: Counter[str]() for e in PII_ENTITIES}
    for row in rows:
        text = row["text"]
        gold = [(s, e, ent) for s, e, ent in row["spans"]]
        ignore = [tuple(z) for z in row["ignore"]]
        pred = [(p.start, p.end, p.entity) for p in detector.find(text)]
        for s, e, ent in gold:
            st = stats[ent]
            st["gold"] += 1
            if any(p[2] == ent and overlaps((s, e), p[:2]) for p in pred):
                st["found"] += 1
            elif show == ent:
                print(f"MISS  {text[s:e]!r:40} in {text!r}")
            if (s, e, ent) in pred:
                st["exact"] += 1
        for s, e, ent in pred:
            hit = any(g[2] == ent and overlaps((s, e), g[:2]) for g in gold)
            if not hit and any(overlaps((s, e), z) for z in ignore):  # type: ignore[arg-type]
                continue
            st = stats[ent]
            st["pred"] += 1
            if hit:
                st["tp"] += 1
            elif show == ent:
                other = [text[g[0]:g[1]] + "/" + g[2] for g in gold if overlaps((s, e), g[:2])]
                print(f"FP    {text[s:e]!r:40} {other} in {text!r}")
    return stats


def benign_fp(detector: PiiDetector, benign: list[str], show: str | None) -> Counter[str]:
    fps: Counter[str] = Counter()
    for text in benign:
        for p in detector.find(text):
            fps[p.entity] += 1
            if show == p.entity:
                print(f"BENIGN {text[p.start:p.end]!r:40} in {text!r}")
    return fps


def cost(detector: PiiDetector, rows: list[dict], count: int) -> tuple[float, float, float]:
    texts, buf = [], ""
    for row in rows:
        buf += row["text"] + " "
        if len(buf.encode()) >= 1000:
            texts.append(buf)
            buf = ""
        if len(texts) >= count:
            break
    per_kb = []
    for text in texts:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            detector.find(text)
            best = min(best, time.perf_counter() - t0)
        per_kb.append(best / (len(text.encode()) / 1024) * 1e6)
    per_kb.sort()
    p95 = per_kb[int(0.95 * (len(per_kb) - 1))]
    return statistics.median(per_kb), p95, statistics.mean(len(t.encode()) for t in texts)


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "  -  "


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=["dev", "test", "test2", "test3"], default="dev")
    parser.add_argument("--show", choices=PII_ENTITIES, help="print misses and false positives")
    parser.add_argument("--cost-texts", type=int, default=1000)
    args = parser.parse_args()
    header, rows, benign = load(args.split)
    t0 = time.perf_counter()
    detector = PiiDetector()
    build_ms = (time.perf_counter() - t0) * 1e3
    stats = score(detector, rows, args.show)
    fps = benign_fp(detector, benign, args.show)
    print(f"split={args.split}  {len(rows)} labelled sentences, {len(benign)} benign; "
          f"data: {header['generator']}, faker {header['faker']}, seed {header['seed']}, "
          f"own locales {','.join(header['locales'])}")
    print(f"{'entity':12} {'gold':>6} {'pred':>6} {'P':>6} {'R':>6} {'FP/1k':>7} "
          f"{'exactP':>7} {'exactR':>7}")
    for ent in PII_ENTITIES:
        st = stats[ent]
        fp1k = 1000 * fps[ent] / len(benign)
        print(f"{ent:12} {st['gold']:6} {st['pred']:6} {ratio(st['tp'], st['pred']):>6} "
              f"{ratio(st['found'], st['gold']):>6} {fp1k:7.1f} "
              f"{ratio(st['exact'], st['pred']):>7} {ratio(st['exact'], st['gold']):>7}")
    p50, p95, size = cost(detector, rows, args.cost_texts)
    print(f"cost: all 8 entities, {args.cost_texts} texts of ~{size:.0f} B: "
          f"p50 {p50:.1f} us/KB, p95 {p95:.1f} us/KB (detector built in {build_ms:.0f} ms, "
          f"lexicons included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
