"""`mcu classify` and `mcu classifier …`: corpus, training, evaluation and model versions."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from classifier.blocks import load_blocks
from classifier.corpus import CORPUS_PATH, CorpusStats, build_corpus
from classifier.evaluate import evaluate
from classifier.model import BlockClassifier
from classifier.place import Gazetteer, extract_place
from classifier.registry import ModelNotFoundError, ModelRegistry
from config.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
console = Console()
err = Console(stderr=True)
classifier_app = typer.Typer(help="Классификатор: корпус, обучение, оценка, версии моделей.")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _models_dir() -> Path:
    return get_settings().models_dir


def _config_dir() -> Path:
    return get_settings().config_dir


def _shared_dir() -> Path:
    return Path(os.environ.get("MCU_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")


ModelsDir = Annotated[
    Path | None, typer.Option("--models-dir", help="Каталог моделей (по умолчанию var/models).")
]


def _load_active(models_dir: Path | None) -> BlockClassifier:
    registry = ModelRegistry(models_dir or _models_dir())
    try:
        return registry.load_active()
    except ModelNotFoundError:
        err.print("[red]Нет обученной модели:[/red] выполните `mcu classifier train`.")
        raise typer.Exit(1) from None


def _read_csv(path: Path, *, columns: tuple[str, ...]) -> Iterator[dict[str, str]]:
    if not path.is_file():
        err.print(f"[red]Файл не найден:[/red] {path}")
        raise typer.Exit(2)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            err.print(f"[red]{path}: нет колонок {', '.join(missing)}[/red]")
            raise typer.Exit(2)
        yield from reader


def _batches(items: Iterator[str], size: int = 2000) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def classify_command(
    text: Annotated[str | None, typer.Argument(help="Текст сообщения.")] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input", "-i", help="CSV с колонкой text.")
    ] = None,
    models_dir: ModelsDir = None,
    threshold: Annotated[float, typer.Option(help="Порог уверенности для проверки.")] = 0.5,
) -> None:
    """Классифицировать текст или CSV: по одному JSON-объекту на строку."""
    if (text is None) == (input_file is None):
        err.print("[red]Укажите текст или --input FILE.csv (что-то одно).[/red]")
        raise typer.Exit(2)
    model = _load_active(models_dir)
    gazetteer = Gazetteer.from_yaml(_config_dir() / "gazetteer.yaml")
    texts: Iterator[str] = (
        iter([text or ""])
        if input_file is None
        else (row.get("text") or "" for row in _read_csv(input_file, columns=("text",)))
    )
    for batch in _batches(texts):
        for item, prediction in zip(
            batch, model.predict_many(batch, threshold=threshold), strict=True
        ):
            record = prediction.to_dict()
            record["place"] = extract_place(item, gazetteer).to_dict()
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def _corpus_table(stats: CorpusStats) -> Table:
    sources = sorted(stats.counts)
    table = Table(title=f"Корпус: {stats.rows} строк, {stats.path}")
    for column in ("блок", *sources, "всего", "test"):
        table.add_column(column, justify="left" if column == "блок" else "right")
    for block in sorted({b for c in stats.counts.values() for b in c}):
        cells = [stats.counts[s].get(block, 0) for s in sources]
        test = stats.splits.get("test", {}).get(block, 0)
        table.add_row(block, *map(str, cells), str(sum(cells)), str(test))
    return table


@classifier_app.command("build-corpus")
def build_corpus_command(
    shared: Annotated[
        Path | None, typer.Option("--shared", help="Каталог shared/data с наборами данных.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Куда записать корпус.")] = CORPUS_PATH,
    seed: Annotated[int, typer.Option(help="Seed выборки и разбиения.")] = 13,
    markdown: Annotated[bool, typer.Option(help="Таблица в Markdown (для README).")] = False,
) -> None:
    """Собрать корпус classifier/data/corpus.csv.gz из shared/data и ручных примеров."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    shared_dir = shared or _shared_dir()
    if not shared_dir.is_dir():
        err.print(f"[red]Нет каталога с данными:[/red] {shared_dir} (--shared или MCU_SHARED_DATA)")
        raise typer.Exit(2)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=err) as progress:
        task = progress.add_task("чтение источников", total=None)

        def report(source: str, rows: int) -> None:
            progress.update(task, description=f"чтение: {source}", advance=rows)

        stats = build_corpus(shared_data=shared_dir, out=out, seed=seed, progress=report)
    if markdown:
        sys.stdout.write(stats.markdown() + "\n")
    else:
        console.print(_corpus_table(stats))
    dropped = ", ".join(f"{k}: {v}" for k, v in sorted(stats.dropped.items()))
    console.print(f"Отброшено — {dropped}")
    console.print(f"sha256: {stats.sha256}")


def _read_examples(path: Path) -> list[tuple[str, str]]:
    rows = _read_csv(path, columns=("text", "block"))
    return [(r["text"], r["block"].strip()) for r in rows if r["text"] and r["block"]]


def _metrics_table(metrics: dict[str, Any], *, title: str) -> Table:
    table = Table(title=title)
    table.add_column("блок")
    table.add_column("F1", justify="right")
    for block, f1 in sorted(metrics.get("per_block_f1", {}).items()):
        table.add_row(block, f"{f1:.3f}")
    return table


@classifier_app.command("train")
def _database_corrections() -> list[tuple[str, str]]:
    """Operators' block corrections stored in the database (none if it is unreachable)."""
    from app.context import build_context
    from app.models import operator_examples
    from core.errors import AppError

    try:
        examples = operator_examples(build_context())
    except AppError as exc:
        err.print(f"[yellow]Исправления операторов не загружены:[/yellow] {exc}")
        return []
    console.print(f"Исправлений операторов из базы: {len(examples)}")
    return examples


def train_command(
    models_dir: ModelsDir = None,
    extra: Annotated[
        Path | None, typer.Option("--extra", help="CSV text,block с исправлениями операторов.")
    ] = None,
    corpus: Annotated[Path, typer.Option(help="Файл корпуса.")] = CORPUS_PATH,
) -> None:
    """Обучить модель на корпусе (+ примеры), сохранить новой версией и сделать активной."""
    from classifier.train import train_active

    if not corpus.is_file():
        err.print(f"[red]Нет корпуса {corpus}:[/red] выполните `mcu classifier build-corpus`.")
        raise typer.Exit(2)
    extra_examples = (_read_examples(extra) if extra else []) + _database_corrections()
    blocks = load_blocks(_config_dir() / "municipality.yaml")
    with console.status("Обучение…"):
        metadata = train_active(
            models_dir=models_dir or _models_dir(),
            extra_examples=extra_examples,
            blocks=blocks,
            corpus_path=corpus,
        )
    m = metadata.metrics
    console.print(_metrics_table(m, title=f"Версия {metadata.version}: F1 по блокам (CV)"))
    console.print(
        f"Кросс-валидация ({m.get('cv_folds', 0)} фолда): macro-F1 {m.get('macro_f1', 0):.3f}, "
        f"accuracy {m.get('accuracy', 0):.3f}; примеров {metadata.n_train}, "
        f"отброшено {metadata.dropped_examples}."
    )


def _report_table(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"n={report['n']}  accuracy={report['accuracy']:.3f}  "
        f"macro-F1={report['macro_f1']:.3f}"
    )
    for column in ("блок", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "блок" else "right")
    for block, m in report["per_block"].items():
        table.add_row(
            block,
            f"{m['precision']:.3f}",
            f"{m['recall']:.3f}",
            f"{m['f1']:.3f}",
            str(m["support"]),
        )
    return table


def _confusion_table(report: dict[str, Any]) -> Table:
    labels = report["confusion"]["labels"]
    table = Table(title="Матрица ошибок (строки — истина, столбцы — прогноз)")
    table.add_column("")
    for label in labels:
        table.add_column(label[:5], justify="right")
    for label, row in zip(labels, report["confusion"]["matrix"], strict=True):
        table.add_row(label, *map(str, row))
    return table


@classifier_app.command("eval")
def eval_command(
    data: Annotated[Path, typer.Option("--data", help="CSV с колонками text,block.")],
    as_json: Annotated[bool, typer.Option("--json", help="Один JSON-объект.")] = False,
    models_dir: ModelsDir = None,
) -> None:
    """Оценить активную модель на размеченном CSV."""
    examples = _read_examples(data)
    model = _load_active(models_dir)
    predictions = model.predict_many([t for t, _ in examples])
    report = evaluate(
        [b for _, b in examples], [p.block for p in predictions], model.metadata.blocks
    )
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    console.print(_report_table(report))
    console.print(_confusion_table(report))


@classifier_app.command("rollback")
def rollback_command(models_dir: ModelsDir = None) -> None:
    """Вернуть предыдущую версию модели."""
    try:
        version = ModelRegistry(models_dir or _models_dir()).rollback()
    except ModelNotFoundError as exc:
        err.print(f"[red]Откат невозможен:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"Активная версия: {version}")


@classifier_app.command("versions")
def versions_command(models_dir: ModelsDir = None) -> None:
    """Список сохранённых версий модели."""
    registry = ModelRegistry(models_dir or _models_dir())
    active = registry.active_version()
    table = Table(title=f"Модели в {registry.root}")
    for column in ("", "версия", "обучена", "macro-F1 (CV)", "примеров"):
        table.add_column(column)
    for version in reversed(registry.list_versions()):
        meta = registry.metadata(version)
        metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
        f1 = metrics.get("macro_f1") if isinstance(metrics, dict) else None
        table.add_row(
            "*" if version == active else "",
            version,
            str(meta.get("trained_at", "")),
            f"{f1:.3f}" if isinstance(f1, float) else "—",
            str(meta.get("n_train", "")),
        )
    console.print(table if registry.list_versions() else "Сохранённых моделей нет.")
