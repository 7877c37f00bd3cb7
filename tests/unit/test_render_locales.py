"""page.locale end to end through the pure renderers: every page, feed and message in each
shipped language, with no English fixed string left, dates in the locale's own format, and
the Statuspage JSON left exactly as it is."""
from __future__ import annotations

import html as htmllib
import json
import re
from dataclasses import replace

import pytest
from babel.messages.mofile import read_mo

from chalicelib.core import aws_limits
from chalicelib.render import feeds, html, i18n, messages, v2
from tests import factories as f

SHIPPED = [loc for loc in i18n.LOCALES if loc != i18n.DEFAULT]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|<[^>]+>")
# Operator-typed text in the fixtures (page and component names): not ours to translate.
OPERATOR_WORDS = ("Acme Status", "Network maintenance")


def busy(locale: str) -> dict:
    """Every kind of item the page draws (incidents, maintenance, failing and degraded
    components, public reports, a verified backup), in `locale`."""
    snap = f.busy_snapshot()
    extra = snap["outpost"]
    extra["locale"] = locale
    api = f.cid("api")
    extra["reports"] = {api: 12}
    extra["reports_window_seconds"] = 1800
    extra["last_verified_backup"] = f.iso_ms(f.T0 - 3 * f.DAY)
    extra["components"][f.cid("web")]["maintenance"] = {
        "name": None, "ends_at": f.iso_ms(f.T0 + 3600)}
    return snap


def _visible(markup: str) -> str:
    """Text and attribute values a reader meets; not the stylesheet, script or icon shapes."""
    markup = re.sub(r"<(style|script|symbol)[\s\S]*?</\1>", " ", markup)
    markup = re.sub(r"<category>[^<]*</category>", " ", markup)     # machine enums, as in v2
    attrs = " ".join(re.findall(r'(?:title|content|aria-label|placeholder|alt)="([^"]*)"', markup))
    text = re.sub(r"<[^>]+>", " ", markup)
    text = htmllib.unescape(f"{text} {attrs}")
    for word in OPERATOR_WORDS:
        text = text.replace(word, " ")
    return " ".join(text.split())


def _english_fragments(locale: str) -> list[str]:
    """The English wording of every message the locale translates differently: the literal
    pieces between placeholders and markup. A piece the translation itself keeps (a brand,
    "JSON API", a code sample) is not a leak."""
    with open(f"{i18n.CATALOGS}/{i18n.directory_name(locale)}/LC_MESSAGES/outpost.mo", "rb") as fh:
        catalog = read_mo(fh)
    out = set()
    for msg in catalog:
        if not msg.id:
            continue
        ids = msg.id if isinstance(msg.id, (list, tuple)) else [msg.id]
        strings = msg.string if isinstance(msg.string, (list, tuple)) else [msg.string]
        translated = " ".join(strings)
        for english in ids:
            for piece in PLACEHOLDER.split(english):
                piece = piece.strip(" .,:;()")
                if len(piece) >= 4 and piece not in translated:
                    out.add(piece)
    return sorted(out, key=len, reverse=True)


def _leaks(text: str, locale: str) -> list[str]:
    return [p for p in _english_fragments(locale)
            if re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", text)]


def _pages(locale: str) -> dict[str, str]:
    snap = busy(locale)
    incident_id = snap["incidents"][0]["id"]
    return {
        "index": html.render_index(snap, False).decode(),
        "index (stale)": html.render_index(snap, True).decode(),
        "incident": html.render_incident(snap, incident_id).decode(),
        "maintenance": html.render_incident(snap, snap["scheduled_maintenances"][0]["id"]).decode(),
        "history": html.render_history(snap, 1).decode(),
        "not found": html.render_not_found(snap).decode(),
        "atom": feeds.render_atom(snap).decode(),
        "rss": feeds.render_rss(snap).decode(),
    }


def test_the_fragment_check_catches_english():
    """The check below must be able to fail: the English page is all leaks to it."""
    english = _visible(_pages("en")["index"])
    leaks = _leaks(english, "de")
    assert "Incident history" in leaks and "Past incidents" in leaks and "Operational" in leaks


@pytest.mark.parametrize("locale", SHIPPED)
def test_no_english_fixed_strings_left(locale):
    for name, markup in _pages(locale).items():
        if name in ("atom", "rss"):
            # Feeds carry the entry HTML escaped once more: unescape to read it as a reader does.
            markup = htmllib.unescape(markup)
        leaks = _leaks(_visible(markup), locale)
        assert not leaks, f"{locale} {name}: English left: {leaks[:8]}"


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_html_lang_and_feed_language(locale):
    pages = _pages(locale)
    for name in ("index", "incident", "history", "not found"):
        assert f'<html lang="{locale}"' in pages[name]
    assert f'xml:lang="{locale}"' in pages["atom"]
    assert f"<language>{locale}</language>" in pages["rss"]


def test_a_german_page_shows_german_text_and_german_dates():
    snap = busy("de")
    page = html.render_index(snap, False).decode()
    text = _visible(page)
    # data_as_of is 2026-05-28 20:26 UTC; the busy fixture's maintenance starts the next day
    assert "Zuletzt geprüft: 28. Mai 2026 20:26 UTC" in text
    assert "Aktuelle Störungen" in text and "Vergangene Störungen" in text
    assert "Schwerer Ausfall" in text and "Eingeschränkte Leistung" in text
    assert "12 Personen haben in den letzten 30 Minuten Probleme mit API gemeldet" in text
    assert "Geplant: 29. Mai 2026 20:26 UTC bis 29. Mai 2026 22:26 UTC" in text
    assert "99,99 %" in text or "100 %" in text           # German decimal comma, spaced sign
    assert "fehlerhaft aus 2 von 3 Regionen" in text
    history = _visible(html.render_history(snap, 1).decode())
    assert "Mai 2026" in history and "May 2026" not in history


def test_dates_follow_each_locale():
    from chalicelib.render import common
    at = "2026-05-28T20:26:00.000Z"
    assert common.human_time(at, "Etc/UTC") == "May 28, 2026 20:26 UTC"      # unchanged
    assert common.human_time(at, "Europe/Berlin", "de") == "28. Mai 2026 22:26 CEST"
    assert common.human_time(at, "Asia/Tokyo", "ja") == "2026年5月29日 05:26 JST"
    assert common.human_time(at, "Etc/UTC", "fr") == "28 mai 2026 20:26 UTC"
    assert common.month_label(at, "Etc/UTC", "es").lower() == "mayo de 2026"
    assert common.month_label(at, "Etc/UTC", "pt-BR").lower() == "maio de 2026"


def test_the_statuspage_json_is_the_same_in_every_language():
    english = busy("en")
    for locale in SHIPPED:
        snap = busy(locale)
        for name in v2.ENDPOINTS:
            assert v2.render(snap, name) == v2.render(english, name), (locale, name)
    summary = json.loads(v2.render(busy("ja"), "summary"))
    assert summary["status"]["description"] == "Major Service Outage" or \
        summary["status"]["description"].isascii()
    assert "locale" not in summary["outpost"]


# -- messages -------------------------------------------------------------------------------------

LONG_NAMES = ["Zahlungsabwicklung für Großkunden und Händlerportal (Europa-Rechenzentrum Süd)",
              "Интеграция платёжного шлюза", "決済ゲートワイと加盟店管理ポータル（東京リージョン）",
              "Paiements – façade « temps réel » ✨ et réconciliation", "x" * 400]
LINK = "https://status.acme.example/incidents/01hz7k3m9q2w8e5r"
STATUSES = ["investigating", "identified", "monitoring", "resolved", "postmortem",
            "scheduled", "in_progress", "verifying", "completed"]


def _event(name: str, status: str, body: str):
    incident = {"name": name, "impact": "major", "components": [{"name": name}]}
    update = {"status": status, "body": body, "created_at": "2026-05-28T20:26:00.000Z",
              "affected_components": [{"name": name, "old_status": "operational",
                                       "new_status": "major_outage"}]}
    return incident, update


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_sms_fits_one_gsm7_message_or_the_ucs2_budget(locale):
    for name in LONG_NAMES:
        for status in STATUSES:
            for body in ("", name * 3):
                incident, update = _event(name, status, body)
                text = messages.sms(name, incident, update, LINK, locale)
                assert text.endswith(LINK), (locale, text)
                if locale in i18n.UCS2_LOCALES:
                    assert aws_limits.ucs2_units(text) <= aws_limits.SMS_UCS2_UNITS
                    assert all(ord(ch) <= 0xFFFF for ch in text)
                    parts = -(-aws_limits.ucs2_units(text) // aws_limits.SMS_UCS2_PART)
                    assert aws_limits.ucs2_units(text) <= aws_limits.SMS_UCS2_SINGLE or \
                        parts <= aws_limits.SMS_UCS2_SEGMENTS
                else:
                    assert all(ch in messages.gsm7(ch) or ch == " " for ch in text), text
                    assert messages.septets(text) <= messages.SMS_LIMIT, (locale, text)


@pytest.mark.parametrize("locale", SHIPPED)
def test_sms_status_words_are_translated(locale):
    incident, update = _event("API", "investigating", "")
    text = messages.sms("Acme", incident, update, LINK, locale)
    assert "Investigating" not in text
    if locale == "ja":
        assert "調査中" in text and "[Acme]" in text


def test_a_japanese_sms_keeps_the_sentence_and_cuts_with_an_ellipsis():
    incident, update = _event("決済API", "investigating", "決済の一部でエラーが発生しています。" * 10)
    text = messages.sms("Acme", incident, update, LINK, "ja")
    assert text.startswith("[Acme] 調査中: 決済API - 決済の一部で") and "… " + LINK in text
    assert aws_limits.ucs2_units(text) == aws_limits.SMS_UCS2_UNITS


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_email_and_subject_in_the_locale(locale):
    incident, update = _event("API", "investigating", "Looking into it.")
    mail = messages.email("Acme", incident, update, LINK, "https://status.acme.example/#subscribe",
                          locale, "Europe/Berlin")
    subject = messages.subject("Acme", incident, update, locale)
    assert len(subject) < 100 and subject.isascii() and "\n" not in subject
    assert "API" in subject
    if locale == "en":
        assert "Posted May 28, 2026 22:26 CEST" in mail and "Status: Investigating" in mail
        return
    leaks = _leaks(mail, locale)
    assert not leaks, f"{locale}: {leaks}"
    if locale == "de":
        assert "Veröffentlicht: 28. Mai 2026 22:26 CEST" in mail
        assert "API: Funktioniert -> Schwerer Ausfall" in mail
        assert subject == "[Acme] Wird untersucht: API"
    if locale == "ja":
        assert subject == "[Acme] Investigating: API"    # ASCII-only Subject: the English word


def test_the_sns_document_carries_the_localised_sms_and_email():
    incident, update = _event("API", "investigating", "Looking into it.")
    incident.update({"id": "x", "incident_updates": [update], "updated_at": update["created_at"]})
    doc = json.loads(messages.sns_message("Acme", {"id": "acme"}, {"indicator": "major",
                                          "description": "Partial System Outage"}, incident,
                                          update, LINK, "u", "d", "fr", "Etc/UTC"))
    assert doc["sms"].startswith("[Acme] Analyse en cours: API")
    assert "Publié le 28 mai 2026 20:26 UTC" in doc["email"]
    assert json.loads(doc["sqs"])["page"]["status_description"] == "Partial System Outage"


def test_config_locale_default_and_validation():
    from chalicelib.core.config import ConfigError, load_status_text
    base = ("page: {id: acme, name: Acme, url: 'https://status.acme.example'%s}\n"
            "components: []\n")
    assert load_status_text(base % "").page.locale == "en"
    assert load_status_text(base % ", locale: pt-BR").page.locale == "pt-BR"
    with pytest.raises(ConfigError) as caught:
        load_status_text(base % ", locale: pt_BR")
    message = str(caught.value)
    assert "page.locale" in message and "'pt_BR'" in message
    assert "en, de, fr, es, ja, pt-BR" in message and ":1:" in message


def test_snapshot_carries_the_locale():
    cfg = replace(f.CFG, page=replace(f.CFG.page, locale="ja"))
    assert f.snapshot(cfg=cfg)["outpost"]["locale"] == "ja"
    assert f.snapshot()["outpost"]["locale"] == "en"


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_the_signup_code_sms_in_every_language(locale):
    text = messages.verification_sms("Zahlungsabwicklung und Händlerportal " * 3, "042917", locale)
    assert "042917" in text and "STOP" in text          # the carriers' keyword, untranslated
    if locale in i18n.UCS2_LOCALES:
        assert aws_limits.ucs2_units(text) <= aws_limits.SMS_UCS2_UNITS and "確認コード" in text
    else:
        assert messages.septets(text) <= messages.SMS_LIMIT and text == messages.gsm7(text)
    if locale == "en":
        assert text.endswith("code: 042917. It expires in 10 minutes. Reply STOP to opt out.")
