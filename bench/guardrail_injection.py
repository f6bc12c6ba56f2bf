"""Measure the shipped injection detector, beside LiteLLM's heuristic, on dev or held-out test sets.

    .venv/bin/python bench/guardrail_injection.py --split dev
    .venv/bin/python bench/guardrail_injection.py --split test

Prints, per labelled set (see bench/train_guardrails.py for what each split holds): attacks and
benign rows, precision, recall and false-positive rate of ``InjectionDetector`` at its shipped
thresholds, and the same for LiteLLM's ``detect_prompt_injection`` heuristic; then the cost of
``detect`` in µs per KB (p50/p95, in this process, one core).

The LiteLLM heuristic (litellm/proxy/hooks/prompt_injection_detection.py,
``_OPTIONAL_PromptInjectionDetection.check_user_input_similarity``) lowercases the text and flags
it when any substring as long as one of its 376 attack phrases ("ignore previous instructions",
"bypass prior and start over", ...) has a difflib ``SequenceMatcher.ratio()`` above 0.7 with it.
As written it costs ~16 s per KB of benign text here (a SequenceMatcher per keyword per character),
too slow for thousands of rows, so this file runs an exact equivalent: the phrases come from
litellm's own ``generate_injection_keywords()``, each window is first bounded by the characters it
shares with the phrase (``SequenceMatcher``'s ratio can't exceed that bound, so a window under it
can't match), and the windows that pass are scored by a ``SequenceMatcher`` of the same two strings.
``--verify N`` checks the equivalent against litellm's own function on N rows first (needs
``pip install litellm fastapi`` in the venv; the import needs LITELLM_LOCAL_MODEL_COST_MAP=True).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_guardrails import Example, injection_sets

from sluicegate.detectors.classifiers import InjectionDetector

LITELLM_THRESHOLD = 0.7  # litellm.constants.DEFAULT_PROMPT_INJECTION_SIMILARITY_THRESHOLD


def litellm_hook() -> object:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at import
    from litellm.proxy.hooks.prompt_injection_detection import _OPTIONAL_PromptInjectionDetection

    return _OPTIONAL_PromptInjectionDetection()


class LiteLLMHeuristic:
    """litellm's check_user_input_similarity, same answers, with an exact character-count bound."""

    def __init__(self, keywords: list[str], threshold: float = LITELLM_THRESHOLD) -> None:
        self.threshold = threshold
        self.phrases = []
        for keyword in keywords:
            matcher = SequenceMatcher(None)
            matcher.set_seq2(keyword)  # what SequenceMatcher(None, substring, keyword) caches
            self.phrases.append((keyword, Counter(keyword), matcher))

    def __call__(self, text: str) -> bool:
        low = text.lower()
        for keyword, need, matcher in self.phrases:
            size = len(keyword)
            if len(low) < size:
                continue
            have: Counter[str] = Counter(low[:size])
            shared = sum(min(n, have[ch]) for ch, n in need.items())
            for i in range(len(low) - size + 1):
                if i:
                    out, new = low[i - 1], low[i + size - 1]
                    if out != new:
                        have[out] -= 1
                        if have[out] < need.get(out, 0):
                            shared -= 1
                        if have[new] < need.get(new, 0):
                            shared += 1
                        have[new] += 1
                # ratio() = 2*M/(2*size) with M <= shared: the same float formula as difflib's.
                if 2.0 * shared / (2 * size) <= self.threshold:
                    continue
                matcher.set_seq1(low[i : i + size])
                if matcher.ratio() > self.threshold:
                    return True
        return False


def rates(pairs: list[tuple[bool, int]]) -> tuple[float | None, float | None, float | None]:
    tp = sum(1 for flag, label in pairs if flag and label)
    fp = sum(1 for flag, label in pairs if flag and not label)
    pos = sum(1 for _, label in pairs if label)
    neg = len(pairs) - pos
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / pos if pos else None
    fpr = fp / neg if neg else None
    return precision, recall, fpr


def _fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def _sample(examples: list[Example], per_label: int) -> list[int]:
    """Indices of at most ``per_label`` attacks and as many benign rows (fixed seed)."""
    rng = random.Random(0)
    picked: list[int] = []
    for label in (1, 0):
        idx = [i for i, e in enumerate(examples) if e.label == label]
        picked.extend(sorted(rng.sample(idx, min(per_label, len(idx)))))
    return sorted(picked)


def table(
    rows: dict[str, list[Example]],
    detector: InjectionDetector,
    heuristic: LiteLLMHeuristic | None,
    per_label: int,
) -> None:
    head = f"{'set':46} {'attacks':>7} {'benign':>6} | {'P':>6} {'R':>6} {'FPR':>6} |"
    head += f" {'LiteLLM on':>10} {'P':>6} {'R':>6} {'FPR':>6}" if heuristic else ""
    print(head)
    print("-" * len(head))
    pooled: dict[str, tuple[list[tuple[bool, int]], list[tuple[bool, int]]]] = {}
    for name, examples in rows.items():
        ours = [(detector.detect(e.text, e.source).flagged, e.label) for e in examples]  # type: ignore[arg-type]
        sample = _sample(examples, per_label)
        theirs = (
            {i: (heuristic(examples[i].text), examples[i].label) for i in sample}
            if heuristic
            else {}
        )
        _line(name, examples, ours, list(theirs.values()), heuristic is not None)
        source = examples[0].source if examples else "user"
        mine, other = pooled.setdefault(source, ([], []))
        mine.extend(ours)
        other.extend(theirs.values())
        if name.startswith("bastioncorpus user"):
            traps = [i for i, e in enumerate(examples) if not e.label]
            _line(
                "  of which benign traps (trigger words)",
                [examples[i] for i in traps],
                [ours[i] for i in traps],
                [theirs[i] for i in traps if i in theirs],
                heuristic is not None,
            )
    print("-" * len(head))
    for source, (mine, other) in pooled.items():
        fake = [Example("", label) for _, label in mine]
        _line(f"all {source} sets pooled", fake, mine, other, heuristic is not None)
    if heuristic:
        print(
            f"(LiteLLM: at most {per_label} attacks and {per_label} benign rows of each set,"
            " a fixed random sample: it costs ~0.1 s a short prompt, ~2 s a KB)"
        )


def _line(
    name: str,
    examples: list[Example],
    ours: list[tuple[bool, int]],
    theirs: list[tuple[bool, int]],
    show_theirs: bool,
) -> None:
    pos = sum(e.label for e in examples)
    p, r, f = rates(ours)
    line = f"{name:46} {pos:7d} {len(examples) - pos:6d} | {_fmt(p)} {_fmt(r)} {_fmt(f)} |"
    if show_theirs:
        tp, tr, tf = rates(theirs)
        line += f" {len(theirs):10d} {_fmt(tp)} {_fmt(tr)} {_fmt(tf)}"
    print(line, flush=True)


def cost(detector: InjectionDetector, rows: dict[str, list[Example]], repeat: int) -> None:
    """µs per KB of detect(), on 1 KB texts cut from the split's own rows, per source."""
    by_source: dict[str, list[str]] = {"user": [], "document": [], "tool": []}
    user_stream = " ".join(e.text for name, ex in rows.items() for e in ex if e.source == "user")
    for i in range(0, min(len(user_stream), 300 * 1024) - 1024, 1024):
        by_source["user"].append(user_stream[i : i + 1024])
    for examples in rows.values():
        for e in examples:
            if e.source != "user" and len(e.text) >= 1024:
                by_source[e.source].append(e.text[:1024])
    print(
        f"\ncost of detect() on 1 KB texts (µs per KB; {repeat} runs of each text, per-call times)"
    )
    print(f"{'source':10} {'texts':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for source, texts in by_source.items():
        if not texts:
            continue
        times = []
        for text in texts:
            detector.detect(text, source)  # type: ignore[arg-type]
            for _ in range(repeat):
                start = time.perf_counter()
                detector.detect(text, source)  # type: ignore[arg-type]
                times.append((time.perf_counter() - start) * 1e6)
        times.sort()
        q = statistics.quantiles(times, n=100)
        print(
            f"{source:10} {len(texts):6d} {q[49]:8.1f} {q[94]:8.1f} {q[98]:8.1f} {times[-1]:8.1f}"
        )


def message_check(detector: InjectionDetector) -> None:
    """bench/guardrail_throughput.py's ``MESSAGE`` (a ~1 KB support e-mail, never trained on):
    the whole message and each sentence, as a user turn and as a document."""
    import re

    from guardrail_throughput import MESSAGE

    print("\nheld-out check: guardrail_throughput.MESSAGE (score, flagged at shipped thresholds)")
    print(f"{'text':72} {'user':>11} {'document':>11}")
    parts = [(f"(whole message, {len(MESSAGE)} chars)", MESSAGE)]
    parts += [(s, s) for s in re.split(r"(?<=[.?!])\s+", MESSAGE)]
    for label, text in parts:
        cells = []
        for source in ("user", "document"):
            verdict = detector.detect(text, source)
            cells.append(f"{verdict.score:.3f} {'FLAG' if verdict.flagged else 'ok  '}")
        shown = label if len(label) <= 72 else label[:69] + "..."
        print(f"{shown:72} {cells[0]:>11} {cells[1]:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM's heuristic")
    parser.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="N",
        help="first check the heuristic's equivalent against litellm's own on N rows",
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed runs of each 1 KB text")
    parser.add_argument(
        "--litellm-per-label",
        type=int,
        default=150,
        metavar="N",
        help="LiteLLM runs on at most N attacks and N benign rows of each set",
    )
    args = parser.parse_args()

    rows = injection_sets()[args.split].sets
    detector = InjectionDetector.load()
    print(
        f"split {args.split}; model {detector.version[:12]}; thresholds "
        + ", ".join(f"{k} {v:.4f}" for k, v in sorted(detector.thresholds.items()))
    )
    heuristic = None
    if not args.no_litellm:
        hook = litellm_hook()
        heuristic = LiteLLMHeuristic(hook.generate_injection_keywords())  # type: ignore[attr-defined]
        if args.verify:
            # Half the rows use one of the heuristic's verbs, so the check is seen to flag some.
            short = [e.text for ex in rows.values() for e in ex if len(e.text) < 400]
            verbs = ("ignore", "disregard", "forget", "bypass", "skip", "neglect", "overlook")
            hot = [t for t in short if any(v in t.lower() for v in verbs)][: args.verify // 2]
            taken = set(hot)
            sample = hot + [t for t in short if t not in taken][: args.verify - len(hot)]
            theirs = [hook.check_user_input_similarity(t) for t in sample]  # type: ignore[attr-defined]
            same = sum(heuristic(t) == flag for t, flag in zip(sample, theirs, strict=True))
            print(
                f"LiteLLM equivalent agrees with litellm's own check on {same}/{len(sample)} rows"
                f" ({sum(theirs)} of them flagged by litellm)"
            )
            start = time.perf_counter()
            hook.check_user_input_similarity("The quick brown fox jumps over the lazy dog. " * 23)  # type: ignore[attr-defined]
            print(
                f"litellm's own check on 1 KB of benign text: {time.perf_counter() - start:.1f} s"
            )
    print()
    table(rows, detector, heuristic, args.litellm_per_label)
    message_check(detector)
    cost(detector, rows, args.repeat)


if __name__ == "__main__":
    main()
