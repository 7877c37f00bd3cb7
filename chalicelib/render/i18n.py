"""Pure: the page's language (status file `page.locale`): gettext catalogs and Babel formats.

Catalogs live in chalicelib/locales/<ll_CC>/LC_MESSAGES/outpost.{po,mo}. The .mo files are
compiled by `make catalogs` and committed, so a fresh checkout, the test suite and the Lambda
bundle need no build step (tests/unit/test_catalogs.py fails when a .mo lags its .po).
English is the source language: its catalog is empty and every msgid stands for itself.
"""
from __future__ import annotations

import os
from datetime import date, datetime
from functools import lru_cache
from typing import Optional

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from ..core.locales import DEFAULT, LOCALES, UCS2_LOCALES  # noqa: F401 - UCS2_LOCALES re-exported

DOMAIN = "outpost"
CATALOGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "locales")


def N_(message: str) -> str:
    """Marks a constant for extraction; it is translated where it is shown."""
    return message


def known(locale: Optional[str]) -> str:
    """`locale` when it is shipped, else the default (an old snapshot, a hand-edited document)."""
    return locale if locale in LOCALES else DEFAULT


def directory_name(locale: str) -> str:
    """gettext's directory name: "pt-BR" -> "pt_BR"."""
    return str(Locale.parse(locale, sep="-"))


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str = DEFAULT) -> NullTranslations:
    """The catalog for `locale`: gettext/ngettext, and pgettext for words that need a context."""
    locale = known(locale)
    if locale == DEFAULT:
        return NullTranslations()
    return Translations.load(CATALOGS, [directory_name(locale)], DOMAIN)


@lru_cache(maxsize=len(LOCALES))
def babel_locale(locale: str = DEFAULT) -> Locale:
    return Locale.parse(known(locale), sep="-")


def date_time(local: datetime, locale: str = DEFAULT) -> str:
    """"May 28, 2026 14:06 UTC", "28. Mai 2026 14:06 UTC", "2026年5月28日 14:06 UTC": the
    locale's own date, a 24-hour time and the zone's abbreviation."""
    # Keyed by wall-clock time and zone name: aware datetimes of the same instant in two zones
    # are equal (and hash alike), so they can't be the cache key.
    return _date_time(local.replace(tzinfo=None), local.tzname(), locale)


def day(local: date, locale: str = DEFAULT) -> str:
    """"May 28, 2026", "28. Mai 2026", "2026年5月28日"."""
    return _day(local if type(local) is date else local.replace(tzinfo=None), locale)


def month(local: datetime, locale: str = DEFAULT) -> str:
    """"May 2026", "Mai 2026", "2026年5月" (the stand-alone month name, as a heading wants)."""
    return _month(local.replace(tzinfo=None), locale)


# Babel formats by interpreting a CLDR pattern on every call (~0.3 ms); a page repeats the same
# 90 days for every component and the same few times everywhere, so results are cached.
@lru_cache(maxsize=4096)
def _date_time(wall: datetime, zone: str, locale: str) -> str:
    loc = babel_locale(locale)
    return (f"{format_skeleton('yMMMd', wall, locale=loc)} "
            f"{format_time(wall, 'HH:mm', locale=loc)} {zone}")


@lru_cache(maxsize=4096)
def _day(wall: date, locale: str) -> str:
    return format_skeleton("yMMMd", wall, locale=babel_locale(locale))


@lru_cache(maxsize=1024)
def _month(wall: datetime, locale: str) -> str:
    return format_skeleton("yMMMM", wall, locale=babel_locale(locale))


@lru_cache(maxsize=4096)
def decimal(value: float, digits: int, locale: str = DEFAULT) -> str:
    """A number with exactly `digits` decimals in the locale's digits and separators."""
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=pattern, locale=babel_locale(locale),
                          decimal_quantization=True)


@lru_cache(maxsize=4096)
def percent(text_number: str, locale: str = DEFAULT) -> str:
    """`text_number` (already formatted) with the locale's percent sign and spacing."""
    pattern = babel_locale(locale).percent_formats[None].pattern.split(";")[0]
    return pattern.replace("#,##0", "\x00", 1).replace("\x00", text_number).replace("'", "")
