"""The wallet's two languages: Chinese first, English on request.

A resident's choice is a cookie (``eseal_lang``), set by the switch link
each page shows; it holds nothing but the language, so it needs no CSRF
token.  Texts are written as pairs where they are used: ``say(lang, zh, en)``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar.connection import ASGIConnection

__all__ = ["LANG_COOKIE", "html_lang", "language", "safe_back", "say", "switch_link"]

LANG_COOKIE = "eseal_lang"
ZH, EN = "zh", "en"


def language(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The page language of a request: "en" when chosen, else "zh"."""
    return EN if request.cookies.get(LANG_COOKIE) == EN else ZH


def html_lang(lang: str) -> str:
    return "en" if lang == EN else "zh-CN"


def say(lang: str, zh: str, en: str) -> str:
    return en if lang == EN else zh


def switch_link(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The link to the other language, back to this page."""
    lang = language(request)
    other, label = (ZH, "中文") if lang == EN else (EN, "English")
    back = quote(request.url.path, safe="/")
    return (
        f'<a class="lang" lang="{html_lang(other)}" '
        f'href="/wallet/lang?to={other}&amp;back={back}">{label}</a>'
    )


def safe_back(back: str) -> str:
    """Where the switch returns to: a wallet page of this site, nothing else."""
    if back == "/wallet" or (
        back.startswith("/wallet/")
        and not any(bad in back for bad in ("//", "\\", "..", "%"))
    ):
        return back
    return "/wallet/"
