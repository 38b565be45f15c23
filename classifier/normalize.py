"""Pure text normalisation for citizen messages: cleaning, masking, tokens and lemmas."""

from __future__ import annotations

import html
import re
from functools import lru_cache

# morph_analyzer is imported from here by other modules too.
from classifier.morph import best_normal_form, morph_analyzer

URL_TOKEN = "<url>"
EMAIL_TOKEN = "<email>"
PHONE_TOKEN = "<phone>"
NAME_TOKEN = "<name>"
MASK_TOKENS = (URL_TOKEN, EMAIL_TOKEN, PHONE_TOKEN, NAME_TOKEN)

# Cap the work done on one message: real appeals are < 15k chars, longer input is junk or abuse.
MAX_CHARS = 20_000

_SURROGATES = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\ufeff]")
_HTML_BREAK = re.compile(r"<\s*(?:br|/p|p|/div|div|li)\b[^>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(?!(?:url|email|phone|name)>)/?[a-zA-Z][^<>]{0,500}>")
_VK_MENTION = re.compile(r"\[(?:id|club|public|event)\d+\|([^\[\]]{1,200})\]")
_EMAIL = re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+\b")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"«»]*[^\s<>\"«».,;:!?)\]]"
    r"|\b(?:[a-z0-9-]{1,63}\.)+(?:ru|com|org|net|su|info|рф)(?:/[^\s<>\"«»]*[^\s<>\"«».,;:!?)\]])?",
    re.IGNORECASE,
)
# Two shapes: «+7 (900) 123-45-67» / «8 900 1234567» and local «12-34-56», neither glued to
# a preceding word. Written to start with one character class, which lets the regex engine
# skip to the next «+» or digit in C: 3x faster than the plain form
#   (?<![\w])(?:\+7|8|7)<REST>|(?<![\w.,/-])\d{2,3}-\d{2}-\d{2}(?![\w-])
# with the same matches (tests/unit/classifier/test_classifier_fast_paths.py compares them).
_PHONE_REST = r"[\s\-–(]*\d{3,5}[\s\-–)]*\d{1,3}[\s\-–]*\d{2}[\s\-–]*\d{2}(?![\w])"
_PHONE = re.compile(
    r"[+\d](?:"
    r"(?:(?<=\+)(?<!\w.)7|(?<=[78])(?<!\w.))"
    + _PHONE_REST
    + r"|(?<=\d)(?<![\w.,/-].)\d{1,2}-\d{2}-\d{2}(?![\w-])"
    r")",
    re.DOTALL,
)
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U0001f1e6-\U0001f1ff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u20e3\u200d]"
)
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[а-яёa-z])(?=[А-ЯЁA-Z])")
_STRETCH = re.compile(r"([^\W\d_])\1{2,}")
# Three equal characters in a row: a cheap test that rules _STRETCH out for most messages.
_TRIPLE = re.compile(r"(.)\1\1", re.DOTALL)
# Matches only where something changes: replacing every single space is 5x slower.
_SPACES = re.compile(r"[ \t\r\f\v\xa0]{2,}|[\t\r\f\v\xa0]")
_SPACING = ("  ", "\t", "\r", "\f", "\v", "\xa0")  # a _SPACES match needs one of these
_NEWLINES = re.compile(r"\s*\n\s*")
_MIXED_WORD = re.compile(r"[A-Za-zА-Яа-яЁё]+")
_MIXED_HINT = re.compile(r"[A-Za-z][А-Яа-яЁё]|[А-Яа-яЁё][A-Za-z]")
_URL_HINTS = ("http", "www.", ".ru", ".com", ".org", ".net", ".su", ".info", ".рф")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_TOKEN = re.compile(r"<(?:url|email|phone|name)>|[а-яa-z]+(?:-[а-яa-z]+)*|\d+")
# Full names: «Иванов И.И.», «И. И. Иванов», «Иван Петрович», «Иванов Иван Петрович».
_INITIALS = re.compile(
    r"\b[А-ЯЁ][а-яё]{1,30}\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.|\b[А-ЯЁ]\.\s?[А-ЯЁ]\.\s?[А-ЯЁ][а-яё]{1,30}"
)
_PATRONYMIC = re.compile(
    r"(?:\b[А-ЯЁ][а-яё]{1,30}\s+)?\b[А-ЯЁ][а-яё]{1,30}\s+"
    r"[А-ЯЁ][а-яё]{2,30}(?:ович|евич|вич|овна|евна|ична|инична)(?:а|у|ем|ом|е|ы|ой|ну)?\b"
)

_LATIN_TO_CYRILLIC = str.maketrans("aeopcxykmthbAEOPCXYKMTHB", "аеорсхукмтнвАЕОРСХУКМТНВ")
_LOOKALIKE_LATIN = frozenset("aeopcxykmthbAEOPCXYKMTHB")

# Frequent spellings of comment Russian; whole-word replacements after lowercasing.
TYPOS: dict[str, str] = {
    "щас": "сейчас",
    "щяс": "сейчас",
    "ща": "сейчас",
    "ваще": "вообще",
    "вобще": "вообще",
    "сдесь": "здесь",
    "зделать": "сделать",
    "зделайте": "сделайте",
    "зделали": "сделали",
    "калидор": "коридор",
    "колидор": "коридор",
    "подьезд": "подъезд",
    "подъэзд": "подъезд",
    "обьявление": "объявление",
    "пожалуста": "пожалуйста",
    "пожалусто": "пожалуйста",
    "плиз": "пожалуйста",
    "извените": "извините",
    "чо": "что",
    "шо": "что",
    "че": "что",
    "ничо": "ничего",
    "тока": "только",
    "скока": "сколько",
    "када": "когда",
    "седня": "сегодня",
    "севодня": "сегодня",
    "помойму": "по-моему",
    "ложат": "кладут",
    "асфальд": "асфальт",
    "электричесво": "электричество",
}


_TYPO_WORDS = frozenset(TYPOS)
_TYPO = re.compile(
    r"(?<![\w-])(?:" + "|".join(sorted(TYPOS, key=len, reverse=True)) + r")(?![\w-])"
)


def _collapse_spaces(text: str) -> str:
    # Substring tests are ~10x cheaper than a _SPACES pass that finds nothing.
    return _SPACES.sub(" ", text) if any(s in text for s in _SPACING) else text


def strip_markup(text: str) -> str:
    """Remove invalid code points, control chars, HTML tags/entities and VK mention markup."""
    text = _SURROGATES.sub("", text[:MAX_CHARS])
    # The guards skip regex passes most messages do not need (normalize runs per message).
    if "<" in text:
        text = _HTML_TAG.sub(" ", _HTML_BREAK.sub("\n", text))
    if "&" in text:
        text = html.unescape(text)
    text = _CONTROL.sub(" ", text)
    if "[" in text:
        text = _VK_MENTION.sub(r"\1", text)
    text = _collapse_spaces(text)
    return (_NEWLINES.sub("\n", text) if "\n" in text else text).strip()


def mask_contacts(text: str) -> str:
    """Replace e-mails, URLs and phone numbers with placeholder tokens."""
    if "@" in text:
        text = _EMAIL.sub(f" {EMAIL_TOKEN} ", text)
    lowered = text.lower()
    if any(hint in lowered for hint in _URL_HINTS):
        text = _URL.sub(f" {URL_TOKEN} ", text)
    return _PHONE.sub(f" {PHONE_TOKEN} ", text)


def mask_names(text: str) -> str:
    """Replace full names (with initials or a patronymic) by a placeholder token."""
    text = _INITIALS.sub(NAME_TOKEN, text)
    return _PATRONYMIC.sub(NAME_TOKEN, text)


def mask_personal_data(text: str) -> str:
    """Clean markup and mask phones, e-mails, URLs and full names."""
    masked = mask_names(mask_contacts(strip_markup(text)))
    return _SPACES.sub(" ", masked).replace(" ,", ",").strip()


def fix_lookalikes(text: str) -> str:
    """Turn Latin look-alike letters into Cyrillic inside otherwise Cyrillic words."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        latin = {ch for ch in word if ch.isascii()}
        has_cyrillic = any(not ch.isascii() for ch in word)
        if not latin or not has_cyrillic or not latin <= _LOOKALIKE_LATIN:
            return word
        return word.translate(_LATIN_TO_CYRILLIC)

    if not _LATIN_LETTER.search(text) or not _MIXED_HINT.search(text):
        return text
    return _MIXED_WORD.sub(fix, text)


def _hashtag_words(match: re.Match[str]) -> str:
    words = _CAMEL.sub(" ", match.group(1)).replace("_", " ")
    # «#нетводы», «#нетсвета»: the most common complaint tags glue «нет» to the noun.
    if words.lower().startswith("нет") and len(words) > 5 and " " not in words:
        words = words[:3] + " " + words[3:]
    return f" {words} "


def normalize(text: str) -> str:
    """Cleaned, masked, lowercased text: no emoji, hashtags as words, ё→е, typos fixed."""
    return normalize_tokens(text)[0]


def normalize_tokens(text: str) -> tuple[str, list[str]]:
    """normalize(text) and its tokens, for less than the two calls cost apart."""
    text = mask_contacts(strip_markup(text))
    text = _EMOJI.sub(" ", text)
    if "#" in text:
        text = _HASHTAG.sub(_hashtag_words, text)
    text = fix_lookalikes(text).lower().replace("ё", "е")
    if _TRIPLE.search(text):
        text = _STRETCH.sub(r"\1", text)
    tokens = _TOKEN.findall(text)
    # A typo is a whole word, so it is also a token: messages without one skip the typo
    # pass, and their tokens stay valid (collapsing spaces does not change tokens).
    if not _TYPO_WORDS.isdisjoint(tokens):
        text = _TYPO.sub(lambda m: TYPOS[m.group(0)], text)
        tokens = _TOKEN.findall(text)
    return _collapse_spaces(text).strip(), tokens


def tokenize(normalized: str) -> list[str]:
    """Word, number and mask tokens of an already normalised text."""
    return _TOKEN.findall(normalized)


def parse_lemma(word: str) -> str:
    """Normal form of one lowercase word (masks, numbers and Latin words are kept); uncached."""
    if not word or word[0] in "<0123456789" or word.isascii():
        return word
    return best_normal_form(word).replace("ё", "е")


lemma = lru_cache(maxsize=200_000)(parse_lemma)


@lru_cache(maxsize=200_000)
def is_known_word(word: str) -> bool:
    """Whether the Russian dictionary knows this lowercase word."""
    analyzer = morph_analyzer()
    # An exact dictionary key is known; only other words need the ё-tolerant search, which
    # is ~7x slower and finds the exact key too, so the answer is the same.
    return word in analyzer.dictionary.words or bool(analyzer.word_is_known(word))


def lemmas(normalized: str) -> list[str]:
    """Lemmas of the tokens of an already normalised text."""
    return [lemma(tok) for tok in tokenize(normalized)]


def lemma_text(normalized: str) -> str:
    """Space-joined lemmas, the input of the word n-gram features."""
    return " ".join(lemmas(normalized))
