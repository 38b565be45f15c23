"""Corpus builder on a miniature copy of the shared datasets, and the mapping tables."""

from __future__ import annotations

import csv
from pathlib import Path

from classifier.blocks import DEFAULT_BLOCK_CODES
from classifier.corpus import build_corpus, read_corpus
from classifier.corpus_sources import MAPPINGS_DIR
from classifier.dedupe import near_duplicate_groups


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _fake_shared(root: Path) -> Path:
    spb = "Благоустройство | Повреждения дорожного покрытия  проезжей части"
    category, reason = spb.split(" | ")
    spb_rows = [
        [
            "1",
            "",
            "",
            "",
            "",
            "",
            category,
            "",
            reason,
            "",
            "1",
            "0",
            f"Яма на дороге у дома {i}, машины бьют колёса",
        ]
        for i in range(10)
    ]
    spb_rows.append(
        [
            "99",
            "",
            "",
            "",
            "",
            "",
            category,
            "",
            reason,
            "",
            "1",
            "0",
            "Яма на дороге у дома 0, машины бьют колёса!",
        ]
    )
    _write(
        root / "spb-our-petersburg" / "spb_our_petersburg_2020_2021.csv",
        [
            "id",
            "created",
            "district",
            "municipality",
            "city_object",
            "category_id",
            "category",
            "reason_id",
            "reason",
            "executor_org",
            "n_user_messages",
            "masked_chars",
            "text",
        ],
        spb_rows,
    )
    kursk = [
        [
            str(i),
            "train",
            "Неработающее наружное освещение",
            "",
            "3",
            "",
            "",
            f"Не горит фонарь номер {i} на улице, темно вечером",
        ]
        for i in range(6)
    ] + [["50", "train", "Тестовая категория", "", "12", "", "", "тестовое сообщение для проверки"]]
    _write(
        root / "kursk-pos-2022" / "kursk_all_derived.csv",
        [
            "id",
            "split",
            "Тематика",
            "Ответственное лицо",
            "Категория",
            "category_name_inferred",
            "category_source",
            "text_plain",
        ],
        kursk,
    )
    _write(
        root / "cheboksary-narodny-kontrol-2021" / "cheboksary_narodny_kontrol_appeals.csv",
        [
            "id",
            "Тематика обращения",
            "Дата создания",
            "Категория",
            "Муниципалитет ",
            "Текст обращения",
        ],
        [
            [
                "1",
                "Грязь в подъезде",
                "",
                "Жилищно-коммунальные услуги",
                "ГЖИ",
                "Управляющая компания не убирает подъезд, звоните 8-914-123-45-67\nСоздание ссылки",
            ],
            [
                "2",
                "Вывеска",
                "",
                "Дороги",
                "Минтранс",
                "Ҫул ҫинчи кӑтартӑш пӗр чӗлхепе кӑна ҫырса хунӑ",
            ],
        ],
    )
    return root


def test_build_corpus_maps_masks_dedupes_and_splits(tmp_path: Path) -> None:
    shared = _fake_shared(tmp_path / "shared")
    handwritten = tmp_path / "handwritten.csv"
    _write(
        handwritten,
        ["text", "block", "urgent", "style"],
        [
            ["Пожар в сарае, горит крыша", "emergency", "1", "vk"],
            ["Пожар в бане у соседей", "emergency", "1", "vk"],
            ["Продам гараж недорого", "other", "0", "vk"],
        ],
    )
    out = tmp_path / "corpus.csv.gz"
    stats = build_corpus(shared_data=shared, out=out, handwritten=handwritten)
    rows = read_corpus(out)
    assert stats.rows == len(rows)
    assert {r.source for r in rows} == {"spb", "kursk", "cheboksary", "handwritten"}
    assert stats.counts["spb"] == {"roads": 10}  # the "!" copy is an exact duplicate
    assert stats.counts["kursk"] == {"energy": 6}
    assert stats.dropped["label_dropped_by_mapping"] == 1  # Kursk test category
    assert stats.dropped["not_russian_or_junk"] == 1  # the Chuvash row
    chuvash_free = [r for r in rows if r.source == "cheboksary"]
    assert len(chuvash_free) == 1 and "<phone>" in chuvash_free[0].text
    assert "Создание ссылки" not in chuvash_free[0].text
    assert {r.split for r in rows if r.source == "spb"} == {"train", "test"}
    assert [r.urgent for r in rows if r.source == "handwritten" and r.block == "emergency"] == [
        True,
        True,
    ]
    again = build_corpus(shared_data=shared, out=tmp_path / "again.csv.gz", handwritten=handwritten)
    assert again.sha256 == stats.sha256  # reproducible byte for byte
    assert "| roads |" in stats.markdown()


def test_a_new_handwritten_file_leaves_the_earlier_split_alone(tmp_path: Path) -> None:
    shared = _fake_shared(tmp_path / "shared")
    header = ["text", "block", "urgent", "style"]
    places = ["Лесной", "Школьной", "Заречной", "Новой", "Садовой", "Мира", "Озёрной", "Полевой"]
    first = tmp_path / "handwritten.csv"
    _write(first, header, [[f"Горит сарай на улице {p}", "emergency", "1", "vk"] for p in places])
    more = tmp_path / "handwritten_more.csv"
    floods = [
        "Паводок подтопил погреба у реки",
        "Вода зашла во дворы на Береговой",
        "Размыло дамбу за селом, нужна техника",
        "Затопило дорогу к школе, дети не пройдут",
        "Ливень залил подвалы домов на окраине",
    ]
    _write(more, header, [[text, "emergency", "1", "tg"] for text in floods])

    def split_of_first(files: list[Path], out: Path) -> dict[str, str]:
        build_corpus(shared_data=shared, out=out, handwritten=files)
        return {r.text: r.split for r in read_corpus(out) if "сарай" in r.text}

    alone = split_of_first([first], tmp_path / "alone.csv.gz")
    together = split_of_first([first, more], tmp_path / "together.csv.gz")
    assert len(alone) == len(places) and "test" in alone.values()
    assert together == alone
    rows = read_corpus(tmp_path / "together.csv.gz")
    assert sum(r.source == "handwritten" and "сарай" not in r.text for r in rows) == len(floods)


def test_near_duplicates_are_grouped() -> None:
    texts = [
        "во дворе дома пять не вывозят мусор уже неделю контейнеры переполнены",
        "во дворе дома пять не вывозят мусор уже неделю контейнеры переполнены!",
        "совсем другой текст про яму на дороге",
    ]
    assert near_duplicate_groups(texts) == [0, 0, 2]


def test_mapping_tables_are_valid() -> None:
    for name in ("spb", "kursk", "cheboksary"):
        with (MAPPINGS_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows, name
        for row in rows:
            assert row["block"] in ("", *DEFAULT_BLOCK_CODES), row
            assert row["note"].strip(), f"{name}: a mapping without a reason: {row['label']}"
