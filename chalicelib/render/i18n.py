"""Pure: the page's language (status file `page.locale`): gettext catalogs and Babel formats.

Catalogs live in chalicelib/locales/<ll_CC>/LC_MESSAGES/outpost.{po,mo}. The .mo files are
compiled by `make catalogs` and committed, so a fresh checkout, the test suite and the Lambda
bundle need no build step (tests/unit/test_catalogs.py fails when a .mo lags its .po).
English is the source language: its catalog is empty and every msgid stands for itself.
"""
from __future__ import annotations

import os
from datetime import datetime
from functools import lru_cache
from typing import Optional

from babel import Locale
from babel.dates import format_skeleton, format_time
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALES = ("en", "de", "fr", "es", "ja", "pt-BR")     # the shipped set, as page.locale spells them
DEFAULT = "en"
DOMAIN = "outpost"
CATALOGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "locales")
# Scripts GSM-7 can't carry even with accents folded: their SMS go out as UCS-2.
UCS2_LOCALES = frozenset({"ja"})


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
    loc = babel_locale(locale)
    return (f"{format_skeleton('yMMMd', local, locale=loc)} "
            f"{format_time(local, 'HH:mm', locale=loc)} {local.tzname()}")


def day(local: datetime, locale: str = DEFAULT) -> str:
    return format_skeleton("yMMMd", local, locale=babel_locale(locale))


def month(local: datetime, locale: str = DEFAULT) -> str:
    """"May 2026", "Mai 2026", "2026年5月" (the stand-alone month name, as a heading wants)."""
    return format_skeleton("yMMMM", local, locale=babel_locale(locale))


def decimal(value: float, digits: int, locale: str = DEFAULT) -> str:
    """A number with exactly `digits` decimals in the locale's digits and separators."""
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=pattern, locale=babel_locale(locale),
                          decimal_quantization=True)


def percent(text_number: str, locale: str = DEFAULT) -> str:
    """`text_number` (already formatted) with the locale's percent sign and spacing."""
    pattern = babel_locale(locale).percent_formats[None].pattern.split(";")[0]
    return pattern.replace("#,##0", "\x00", 1).replace("\x00", text_number).replace("'", "")
