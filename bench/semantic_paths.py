"""Do the local embeddings depend on the CPU? Embed the labelled set, compare runs.

onnxruntime picks its kernels by CPU feature (SSE, AVX, AVX2+FMA, AVX-512,
VNNI, AMX). ``embed`` writes the embeddings of every text of
tests/cache/data/paraphrase_pairs.tsv, as this CPU computes them, to a file;
run it natively and under ``qemu-x86_64`` (Debian's qemu-user) with other CPU
models, which makes onnxruntime take other kernels, then ``compare`` the files::

    python bench/semantic_paths.py embed /tmp/native.npz
    qemu-x86_64 -cpu SandyBridge .venv/bin/python bench/semantic_paths.py embed /tmp/avx.npz
    qemu-x86_64 -cpu Nehalem .venv/bin/python bench/semantic_paths.py embed /tmp/sse.npz
    python bench/semantic_paths.py compare /tmp/native.npz /tmp/avx.npz /tmp/sse.npz

(SandyBridge: AVX without FMA, so onnxruntime's AVX float kernels and its SSE
integer kernels; Nehalem: SSE4.2 only. Under emulation a run takes minutes.)

``compare`` prints, for each run against the first, the largest difference of
a text's embedding (cosine and element) and of a labelled pair's similarity,
and how much more a similarity moves in a replica that reads the float16 copy
from Redis; then the margin check: the labelled pairs nearest to the default
threshold. When none lies within the measured differences of it, every CPU
makes the same hit-or-miss decision on every pair, and the published hit and
false-hit figures hold on all of them. ``--quantized`` embeds with the int8
graph instead of the default float32 one.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sluicegate.cache.semantic import DEFAULT_THRESHOLD
from sluicegate.cache.semantic.guard import same_question, signature
from sluicegate.cache.semantic.minilm import MiniLMEncoder

DATA = Path(__file__).resolve().parents[1] / "tests" / "cache" / "data" / "paraphrase_pairs.tsv"


def load_pairs() -> list[dict[str, str]]:
    with DATA.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def cpu_features() -> str:
    from numpy._core import _multiarray_umath  # type: ignore[attr-defined]

    features = _multiarray_umath.__cpu_features__  # what numpy's own dispatch found
    wanted = ("AVX", "FMA3", "AVX2", "AVX512F", "AVX512BW", "AVX512_VNNI", "AVX512_SPR")
    return " ".join(name for name in wanted if features.get(name))


def embed(out: Path, quantized: bool) -> None:
    import onnxruntime

    rows = load_pairs()
    texts = sorted({r["a"] for r in rows} | {r["b"] for r in rows})
    encoder = MiniLMEncoder(quantized=quantized)
    vectors = np.concatenate([encoder.encode([text]) for text in texts])
    np.savez(out, texts=np.array(texts), vectors=vectors, quantized=quantized,
             cpu=cpu_features() or "SSE only", onnxruntime=onnxruntime.__version__)
    print(f"{out}: {len(texts)} texts, quantized={quantized}, CPU features: {cpu_features()}")


def similarities(rows: list[dict[str, str]], by_text: dict[str, npt.NDArray[np.float32]],
                 stored_as_float16: bool = False) -> npt.NDArray[np.float64]:
    out = []
    for row in rows:
        stored = by_text[row["a"]]
        if stored_as_float16:
            stored = stored.astype(np.float16).astype(np.float32)
        out.append(float(stored @ by_text[row["b"]]))
    return np.array(out)


def compare(paths: list[Path]) -> bool:
    rows = load_pairs()
    runs = []
    for path in paths:
        data = np.load(path)
        runs.append(dict(zip(data["texts"].tolist(), data["vectors"], strict=True)))
        print(f"{path}: quantized={bool(data['quantized'])}, CPU {data['cpu']}, "
              f"onnxruntime {data['onnxruntime']}")
    first, *others = runs
    base = similarities(rows, first)
    moved = 0.0
    for path, run in zip(paths[1:], others, strict=True):
        cosines = np.array([float(first[t] @ run[t]) for t in first])
        element = max(float(np.abs(first[t] - run[t]).max()) for t in first)
        pair = float(np.abs(similarities(rows, run) - base).max())
        moved = max(moved, pair)
        print(f"{paths[0].name} vs {path.name}: text cosine min {cosines.min():.7f}, "
              f"element max |d| {element:.2e}, pair similarity max |d| {pair:.2e}, "
              f"texts identical to 1e-7: {int((cosines >= 1 - 1e-7).sum())} of {len(cosines)}")
    float16 = float(np.abs(similarities(rows, first, stored_as_float16=True) - base).max())
    print(f"float16 copy in Redis: pair similarity max |d| {float16:.2e}")

    guarded = np.array([same_question(signature(r["a"]), signature(r["b"])) for r in rows])
    distance = np.abs(base - DEFAULT_THRESHOLD)
    print(f"\nmargin check at threshold {DEFAULT_THRESHOLD}: pairs move by at most "
          f"{moved:.2e} between CPUs, {float16:.2e} more through Redis")
    for name, mask in (("any pair", np.ones(len(rows), bool)), ("pairs the guard passes", guarded)):
        nearest = int(np.flatnonzero(mask)[np.argmin(distance[mask])])
        print(f"  nearest of {name}: {base[nearest]:.5f} ({distance[nearest]:.2e} away) "
              f"{rows[nearest]['a']!r} ~ {rows[nearest]['b']!r}")
    held = bool(distance.min() > moved + float16)
    print(f"  {'held' if held else 'FAILED'}: "
          f"{'no' if held else 'a'} pair lies within {moved + float16:.2e} of the threshold")
    return held


def main() -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("embed")
    run.add_argument("out", type=Path)
    run.add_argument("--quantized", action="store_true")
    check = commands.add_parser("compare")
    check.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "embed":
        embed(args.out, args.quantized)
        return 0
    return 0 if compare(args.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
