"""Reproducible builder of the curated training corpus (classifier/data/corpus.csv.gz)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from classifier.corpus_sources import (
    HANDWRITTEN_FILES,
    MAPPINGS_DIR,
    READERS,
    SourceRow,
    label_keys,
    load_mapping,
    read_handwritten,
)
from classifier.dedupe import near_duplicate_groups
from classifier.normalize import mask_personal_data, normalize, tokenize
from classifier.quality import check_text

CORPUS_PATH = Path(__file__).parent / "data" / "corpus.csv.gz"
HANDWRITTEN = "handwritten"
# Dedupe keeps the copy from the earliest source: curated rows first, then the richest texts.
SOURCE_PRIORITY = (HANDWRITTEN, "kursk", "cheboksary", "spb")
LABEL_CAP = 400  # per source label, so one frequent portal reason cannot fill a block
BLOCK_CAP = 1500  # per block per source
TEST_FRACTION = 0.2
MAX_TEXT_CHARS = 1500
NEAR_DUP_JACCARD = 0.9
COLUMNS = ("text", "block", "source", "split", "urgent")

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class CorpusRow:
    """One row of the curated corpus."""

    text: str
    block: str
    source: str
    split: str = "train"
    urgent: bool | None = None
    key: str = field(default="", compare=False, repr=False)
    label: str = field(default="", compare=False, repr=False)
    # Hand-written file the row came from ("" for the first): each batch is split on its own.
    batch: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class CorpusStats:
    """What the builder kept and dropped."""

    path: Path
    sha256: str
    counts: dict[str, dict[str, int]]  # source -> block -> rows
    splits: dict[str, dict[str, int]]  # split -> block -> rows
    dropped: dict[str, int]  # reason -> rows

    @property
    def rows(self) -> int:
        """Total rows written."""
        return sum(sum(c.values()) for c in self.counts.values())

    def markdown(self) -> str:
        """Counts per block and source as a Markdown table."""
        sources = sorted(self.counts, key=_priority)
        blocks = sorted({b for c in self.counts.values() for b in c})
        lines = [
            "| block | " + " | ".join(sources) + " | total | test |",
            "|---" * (len(sources) + 3) + "|",
        ]
        for b in blocks:
            cells = [str(self.counts[s].get(b, 0)) for s in sources]
            total = sum(self.counts[s].get(b, 0) for s in sources)
            test = self.splits.get("test", {}).get(b, 0)
            lines.append(f"| {b} | " + " | ".join(cells) + f" | {total} | {test} |")
        totals = [str(sum(self.counts[s].values())) for s in sources]
        test_total = sum(self.splits.get("test", {}).values())
        lines.append("| **всего** | " + " | ".join(totals) + f" | {self.rows} | {test_total} |")
        return "\n".join(lines)


def _priority(source: str) -> int:
    return SOURCE_PRIORITY.index(source) if source in SOURCE_PRIORITY else len(SOURCE_PRIORITY)


def _truncate(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit]


def prepare_text(raw: str) -> tuple[str, str] | str:
    """(masked text, dedupe key) for a usable message, or the reason it is dropped."""
    text = _truncate(mask_personal_data(raw))
    normalized = normalize(text)
    tokens = tokenize(normalized)
    if len(tokens) < 2:
        return "too_short"
    if check_text(normalized):
        return "not_russian_or_junk"
    return text, " ".join(tokens)


def _map_rows(
    source: str,
    rows: Iterable[SourceRow],
    dropped: Counter[str],
    progress: Progress | None,
    batch: str = "",
) -> list[CorpusRow]:
    mapping = None if source == HANDWRITTEN else load_mapping(MAPPINGS_DIR / f"{source}.csv")
    out: list[CorpusRow] = []
    for n, row in enumerate(rows, 1):
        if progress and n % 2000 == 0:
            progress(source, 2000)
        block: str | None = row.label
        if mapping is not None:
            found, block = mapping.lookup(*label_keys(source, row.label))
            if not found:
                dropped["unmapped_label"] += 1
                continue
        if not block:
            dropped["label_dropped_by_mapping"] += 1
            continue
        prepared = prepare_text(row.text)
        if isinstance(prepared, str):
            dropped[prepared] += 1
            continue
        out.append(
            CorpusRow(
                prepared[0], block, source, "train", row.urgent, prepared[1], row.label, batch
            )
        )
    return out


def dedupe_exact(rows: Sequence[CorpusRow], dropped: Counter[str]) -> list[CorpusRow]:
    """Keep one row per normalised text; drop texts whose sources disagree on the block."""
    groups: dict[str, list[CorpusRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: _priority(r.source)):
        groups[row.key].append(row)
    kept: list[CorpusRow] = []
    for group in groups.values():
        first = group[0]
        if first.source != HANDWRITTEN and len({r.block for r in group}) > 1:
            dropped["conflicting_labels"] += len(group)
            continue
        kept.append(first)
        dropped["exact_duplicate"] += len(group) - 1
    return kept


def dedupe_near(rows: Sequence[CorpusRow], dropped: Counter[str], seed: int) -> list[CorpusRow]:
    """Drop rows whose character 5-gram Jaccard with an earlier row is ≥ 0.9."""
    ordered = sorted(rows, key=lambda r: (_priority(r.source), r.key))
    roots = near_duplicate_groups([r.key for r in ordered], threshold=NEAR_DUP_JACCARD, seed=seed)
    kept = [r for i, r in enumerate(ordered) if roots[i] == i]
    dropped["near_duplicate"] += len(ordered) - len(kept)
    return kept


def _sample(rows: list[CorpusRow], cap: int, rng: random.Random) -> list[CorpusRow]:
    return rows if len(rows) <= cap else rng.sample(rows, cap)


def cap_classes(rows: Sequence[CorpusRow], dropped: Counter[str], seed: int) -> list[CorpusRow]:
    """Sample at most LABEL_CAP rows per source label and BLOCK_CAP per block per source."""
    rng = random.Random(seed)
    by_label: dict[tuple[str, str], list[CorpusRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.source, r.label, r.key)):
        by_label[(row.source, row.label)].append(row)
    by_block: dict[tuple[str, str], list[CorpusRow]] = defaultdict(list)
    for (source, _), group in sorted(by_label.items()):
        cap = len(group) if source == HANDWRITTEN else LABEL_CAP
        for row in _sample(group, cap, rng):
            by_block[(source, row.block)].append(row)
    kept: list[CorpusRow] = []
    for (source, _), group in sorted(by_block.items()):
        kept.extend(_sample(group, len(group) if source == HANDWRITTEN else BLOCK_CAP, rng))
    dropped["capped"] += len(rows) - len(kept)
    return kept


def assign_split(rows: Sequence[CorpusRow], seed: int) -> list[CorpusRow]:
    """Stratified deterministic train/test split per (source, block, hand-written batch)."""
    groups: dict[tuple[str, str, str], list[CorpusRow]] = defaultdict(list)
    for row in rows:
        groups[(row.source, row.block, row.batch)].append(row)
    out: list[CorpusRow] = []
    for (source, block, batch), group in sorted(groups.items()):
        group.sort(key=lambda r: hashlib.sha1(r.key.encode()).hexdigest())
        suffix = f":{batch}" if batch else ""
        random.Random(f"{seed}:{source}:{block}{suffix}").shuffle(group)
        n_test = round(len(group) * TEST_FRACTION) if len(group) >= 3 else 0
        out.extend(replace(r, split="test" if i < n_test else "train") for i, r in enumerate(group))
    return out


def _urgent_cell(value: bool | None) -> str:
    return "" if value is None else str(int(value))


def write_corpus(rows: Sequence[CorpusRow], out: Path) -> str:
    """Write a deterministic gzip CSV; return its sha256."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in sorted(rows, key=lambda r: (_priority(r.source), r.block, r.split, r.text)):
        writer.writerow((r.text, r.block, r.source, r.split, _urgent_cell(r.urgent)))
    raw = io.BytesIO()
    # mtime=0 keeps the file byte-identical between rebuilds.
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(buf.getvalue().encode("utf-8"))
    data = raw.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def read_corpus(path: Path = CORPUS_PATH) -> list[CorpusRow]:
    """Rows of a corpus file written by write_corpus."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return [
            CorpusRow(r["text"], r["block"], r["source"], r["split"], _parse_bool(r["urgent"]))
            for r in csv.DictReader(fh)
        ]


def _parse_bool(value: str) -> bool | None:
    return None if value == "" else value == "1"


def build_corpus(
    *,
    shared_data: Path,
    out: Path,
    seed: int = 13,
    handwritten: Path | Sequence[Path] = HANDWRITTEN_FILES,
    progress: Progress | None = None,
) -> CorpusStats:
    """Read, map, mask, dedupe, cap and split all sources; write the corpus file."""
    dropped: Counter[str] = Counter()
    files = [handwritten] if isinstance(handwritten, Path) else list(handwritten)
    rows: list[CorpusRow] = []
    for n, path in enumerate(files):
        # The first file is batch "": its rows keep the split they had before batches existed.
        batch = path.stem if n else ""
        rows.extend(_map_rows(HANDWRITTEN, read_handwritten(path), dropped, progress, batch))
    for source, reader in READERS.items():
        rows.extend(_map_rows(source, reader(shared_data), dropped, progress))
    rows = dedupe_exact(rows, dropped)
    rows = dedupe_near(rows, dropped, seed)
    rows = assign_split(cap_classes(rows, dropped, seed), seed)
    sha = write_corpus(rows, out)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    splits: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        counts[r.source][r.block] = counts[r.source].get(r.block, 0) + 1
        splits[r.split][r.block] = splits[r.split].get(r.block, 0) + 1
    return CorpusStats(out, sha, dict(counts), dict(splits), dict(dropped))
