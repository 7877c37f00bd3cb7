"""Every shipped catalog is complete and matches the code: extracted fresh from the sources (not
from the committed .pot), so a string added anywhere, by anyone, fails here until it is
translated. To fix a failure: `make catalogs`, translate the new entries in each
chalicelib/locales/*/LC_MESSAGES/outpost.po, then `make catalogs` again (compiles the .mo)."""
from __future__ import annotations

import os
import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from chalicelib.render import i18n

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%%")


def _extracted() -> Catalog:
    """What `make catalogs` extracts (babel.cfg's mapping, the N_ marker)."""
    method_map = [("chalicelib/render/**.py", "python"),
                  ("chalicelib/render/templates/**.html", "jinja2"),
                  ("chalicelib/render/templates/**.xml", "jinja2")]
    options = {pattern: {"extensions": "jinja2.ext.i18n", "trimmed": "false"}
               for pattern, _ in method_map[1:]}
    with open(os.path.join(ROOT, "babel.cfg")) as fh:
        cfg = fh.read()
    assert all(f"[{method}: {pattern}]" in cfg for pattern, method in method_map), \
        "babel.cfg and this test must extract the same files"
    catalog = Catalog()
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT, method_map, options, keywords=keywords):
        catalog.add(message, None, [(filename, lineno)], context=context)
    return catalog


@pytest.fixture(scope="module")
def source() -> Catalog:
    return _extracted()


def _po(locale: str) -> Catalog:
    path = os.path.join(i18n.CATALOGS, i18n.directory_name(locale), "LC_MESSAGES", "outpost.po")
    with open(path, "rb") as fh:
        return read_po(fh, locale=i18n.directory_name(locale))


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_the_shipped_set_is_the_catalog_directories():
    on_disk = {d for d in os.listdir(i18n.CATALOGS)
               if os.path.isdir(os.path.join(i18n.CATALOGS, d))}
    assert on_disk == {i18n.directory_name(loc) for loc in SHIPPED}


def test_extraction_finds_the_page_the_feeds_and_the_messages(source):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in source if m.id}
    assert len(ids) > 100
    for expected in ("Incident history", "All Systems Operational", "Operational",
                     "Posted %(when)s", "Maintenance: %(name)s (%(status)s)",
                     "Live status, incidents and maintenance for %(name)s"):
        assert expected in ids


@pytest.mark.parametrize("locale", SHIPPED)
def test_every_message_is_translated_with_the_same_placeholders(locale, source):
    po = _po(locale)
    problems = []
    for msg in source:
        if not msg.id:
            continue
        key = msg.id if isinstance(msg.id, str) else msg.id[0]
        got = po.get(msg.id)
        if got is None:
            problems.append(f"missing: {key!r}")
            continue
        if got.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        strings = [got.string] if isinstance(got.string, str) else list(got.string)
        if isinstance(msg.id, tuple) != isinstance(got.string, tuple):
            problems.append(f"singular/plural mismatch: {key!r}")
            continue
        if isinstance(got.string, tuple) and len(strings) != po.num_plurals:
            problems.append(f"{len(strings)} plural forms, {po.num_plurals} wanted: {key!r}")
        wanted = _placeholders(key)
        for text in strings:
            if not text.strip():
                problems.append(f"empty: {key!r}")
            elif _placeholders(text) != wanted:
                problems.append(f"placeholders {_placeholders(text)} != {wanted}: {key!r}")
        # Each plural form names the same values the English plural does.
        if isinstance(msg.id, tuple):
            assert _placeholders(msg.id[0]) == _placeholders(msg.id[1]), key
    # Babel's own checks (python-format agreement, plural count) on top.
    for msg, errors in po.check():
        problems += [f"babel: {msg.id!r}: {e}" for e in errors]
    assert not problems, f"{locale}: " + "\n".join(problems)


@pytest.mark.parametrize("locale", SHIPPED)
def test_no_stale_entries_in_the_catalog(locale, source):
    """A message the code no longer has is dead weight that misleads translators."""
    ids = {m.id for m in source if m.id}
    stale = [m.id for m in _po(locale) if m.id and m.id not in ids]
    assert not stale, f"{locale}: run `make catalogs` to drop {stale[:5]}"


@pytest.mark.parametrize("locale", SHIPPED)
def test_the_committed_mo_is_compiled_from_the_po(locale):
    """The runtime reads the .mo; `make catalogs` compiles it. A .po edited without that step
    would ship old text."""
    base = os.path.join(i18n.CATALOGS, i18n.directory_name(locale), "LC_MESSAGES", "outpost")
    with open(base + ".mo", "rb") as fh:
        mo = read_mo(fh)
    po = _po(locale)
    def table(catalog) -> dict:
        return {tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id:
                tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string
                for m in catalog if m.id and m.string and not m.fuzzy}
    compiled, written = table(mo), table(po)
    assert compiled == written, f"{locale}: run `make catalogs`"


@pytest.mark.parametrize("locale", SHIPPED)
def test_the_runtime_loads_the_catalog(locale):
    t = i18n.translations(locale)
    assert t.gettext("Incident history") != "Incident history"
    assert t.ngettext("%(days)d day ago", "%(days)d days ago", 3) % {"days": 3} != "3 days ago"


def test_unknown_locales_fall_back_to_english():
    assert i18n.known("xx") == "en" and i18n.known(None) == "en" and i18n.known("pt-BR") == "pt-BR"
    assert i18n.translations("xx").gettext("Incident history") == "Incident history"
