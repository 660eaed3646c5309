"""How resident text is turned into comparable tokens: one place for both the matter
recognizer and the legal FAQ retrieval.

Residents type with full-width digits, pinyin-input homophones (露水 for 漏水, 电题 for
电梯), dialect words (啥子, 莫得) and colloquial terms for legal concepts (楼上扔东西 for
高空抛物). ``normalize`` folds the forms, ``synonyms.yaml`` maps the words to the terms
the knowledge is written in, and jieba — with the domain words added — cuts the text.

Usage::

    tokens = Tokenizer(extra_words=["飞线充电"]).tokens("楼上露水到我家了")
    # ['楼上', '漏水', '我家']
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

import jieba
import yaml

SYNONYMS_FILE = Path(__file__).resolve().parent / "synonyms.yaml"
TOKENS_CACHE = 2048  # texts whose tokens a Tokenizer keeps

jieba.setLogLevel(logging.WARNING)

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
# Words that carry no meaning for telling matters or questions apart.
STOPWORDS = frozenset(
    "的 了 是 我 我们 你 你们 他 她 它 在 有 和 就 都 也 还 又 吗 呢 吧 啊 呀 哦 嗯 哈 么 嘛 噻 撒 "
    "这 那 这个 那个 这些 那些 一个 一下 什么 怎么 怎么办 为什么 请问 请 您好 你好 谢谢 麻烦 "
    "领导 尊敬 反映 问题 情况 现在 已经 一直 时候 能 会 要 想 把 被 给 让 对 跟 与 及 或 "
    "到 从 向 上 下 里 中 去 来 说 看 做 啥 咋 啥子 咋个 不 没 没有 莫得 很 太 好 多 大 小".split()
)


@cache
def synonym_table() -> dict[str, str]:
    """Colloquial word or typo → the canonical term (canonical terms map to themselves)."""
    with SYNONYMS_FILE.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    table: dict[str, str] = {}
    for canonical, variants in raw.items():
        table[str(canonical)] = str(canonical)
        for variant in variants or []:
            table[str(variant)] = str(canonical)
    return table


@cache
def _synonym_pattern() -> re.Pattern[str]:
    # One pass, longest alternative first: a canonical word is matched as itself before
    # a shorter variant inside it could be (停车位 stays 停车位 although 车位 → 停车位).
    words = sorted(synonym_table(), key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words))


def normalize(text: str) -> str:
    """Full-width → half-width, lower case, synonyms and typos → canonical terms."""
    folded = unicodedata.normalize("NFKC", text).lower()
    table = synonym_table()
    return _synonym_pattern().sub(lambda m: table[m.group()], folded)


class Tokenizer:
    def __init__(self, extra_words: Iterable[str] = ()) -> None:
        self._jieba = jieba.Tokenizer()
        for word in {*extra_words, *synonym_table().values()}:
            if len(word) >= 2:
                self._jieba.add_word(word, freq=20000)

        # A question is tokenised by the search and again by the answer's checks; jieba
        # is most of a lookup's cost, so the last texts' tokens are kept.
        self._recent = lru_cache(maxsize=TOKENS_CACHE)(self._tokens)

    def tokens(self, text: str) -> list[str]:
        """Search-mode tokens of the normalized text, without punctuation and stopwords."""
        return list(self._recent(text))

    def forget(self) -> None:
        """Drop the kept tokens (benchmarks measure the work, not the cache)."""
        self._recent.cache_clear()

    def _tokens(self, text: str) -> tuple[str, ...]:
        out: list[str] = []
        for token in self._jieba.lcut_for_search(normalize(text)):
            token = token.strip()
            if not token or _PUNCT.fullmatch(token) or token in STOPWORDS:
                continue
            out.append(token)
        return tuple(out)
