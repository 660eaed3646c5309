"""The statute texts linli cites, loaded from ``knowledge/law/`` and checked by id.

Answers and the matter table cite articles by id (``民法典-1254``). A citation is valid
only if the article exists and its law is in force: quoting a repealed law to a
resident would be wrong advice, so the checker treats it as an error, not a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LAW_DIR = Path(__file__).resolve().parent / "law"


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    law: str
    short: str
    article_cn: str
    chapter: str
    text: str

    @property
    def citation(self) -> str:
        """How a resident reads it: 《民法典》第一千二百五十四条."""
        return f"《{self.short}》{self.article_cn}"


@dataclass(frozen=True)
class LawLibrary:
    articles: dict[str, Article]
    status: dict[str, str]  # short name → "current" | "repealed"

    def get(self, article_id: str) -> Article | None:
        return self.articles.get(article_id)

    def problem(self, article_id: str) -> str | None:
        """Why ``article_id`` cannot be cited, or None when it can."""
        article = self.articles.get(article_id)
        if article is None:
            return f"{article_id}: no such article"
        if self.status.get(article.short) != "current":
            return f"{article_id}: {article.short} is {self.status.get(article.short, 'unknown')}"
        if article.text.strip() in {"（删去）", "(删去)"}:
            return f"{article_id}: the article was deleted"
        return None


@cache
def load_law(directory: Path = LAW_DIR) -> LawLibrary:
    with (directory / "articles.json").open(encoding="utf-8") as fh:
        raw = json.load(fh)
    with (directory / "laws.json").open(encoding="utf-8") as fh:
        laws = json.load(fh)
    articles = {
        a["id"]: Article(a["id"], a["law"], a["short"], a["article_cn"], a["chapter"], a["text"])
        for a in raw
    }
    return LawLibrary(articles, {law["short"]: law["status"] for law in laws})
