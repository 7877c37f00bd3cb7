"""The one sanitizer for what goes to AWS, checked against real SNS's rules (tests/sns_rules.py),
not against moto, which takes more than AWS does."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core import aws_limits
from chalicelib.core.audience import (MAX_FILTERED_COMPONENTS, PAGE_WIDE, event_components,
                                      filter_policy, wants)
from chalicelib.render import messages
from tests.sns_rules import (filter_policy_problems, policy_admits, publish_problems, sms_problems,
                             subject_problems)

CONTROLS = "".join(chr(c) for c in range(0, 32)) + "\x7f\x85\u2028"
LINK = "https://status.acme.example/incidents/abcdefghijkl"


def test_a_subject_with_control_characters_becomes_one_clean_line():
    raw = "API\x00 down\r\nagain\x1b[31m red\x07 \x7f" + "\u2028" + "now\t!"
    out = aws_limits.sns_subject(raw)
    assert subject_problems(out) == []
    assert out == "API down again [31m red now !"


def test_a_300_character_subject_is_cut_under_100_with_an_ellipsis():
    out = aws_limits.sns_subject("x" * 300)
    assert subject_problems(out) == [] and len(out) == 99 and out.endswith("...")
    # exactly at the limit: untouched; one over: cut
    assert aws_limits.sns_subject("y" * 99) == "y" * 99
    assert aws_limits.sns_subject("y" * 100) == "y" * 96 + "..."


def test_a_subject_that_starts_with_a_symbol_or_has_nothing_left_falls_back():
    assert aws_limits.sns_subject("$$ + | price up").startswith("price")
    assert aws_limits.sns_subject("🔥🔥\x00\n", fallback="Acme") == "Acme"
    assert aws_limits.sns_subject("", fallback="") == "Outpost"


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400), st.text(max_size=60))
def test_every_subject_is_one_sns_accepts(text, fallback):
    assert subject_problems(aws_limits.sns_subject(text, fallback)) == []


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=300), page=st.text(max_size=80),
       status=st.sampled_from(["investigating", "resolved", "in_progress", "weird\x00"]))
def test_every_incident_subject_and_sms_is_one_sns_accepts(name, page, status):
    update = {"status": status, "body": name * 3}
    assert subject_problems(messages.subject(page, {"name": name}, update)) == []
    assert sms_problems(messages.sms(page, {"name": name}, update, LINK)) == []


def test_an_incident_subject_with_controls_and_300_characters():
    name = "Database\x00 \x1b failover\r\n" + "é" * 300
    out = messages.subject("Acme Status", {"name": name}, {"status": "investigating"})
    assert subject_problems(out) == []
    assert out.startswith("[Acme Status] Investigating: Database failover eeee")
    assert out.endswith("...") and len(out) == 99


def test_sms_keeps_the_whole_link_and_cuts_the_text():
    text = aws_limits.sms("Ünïcode “quoted” 🔥 " + "word " * 100, LINK)
    assert sms_problems(text) == [] and text.endswith("... " + LINK)
    assert text.startswith('Ünicode "quoted" word')      # Ü is GSM-7, ï is not
    # a link too long to leave room for words is dropped, not the words
    assert aws_limits.sms("Short", "https://x.example/" + "a" * 200) == "Short"
    # extension characters count twice
    braces = aws_limits.sms("{" * 200)
    assert aws_limits.septets(braces) <= 160 and sms_problems(braces) == []


def test_body_text_loses_what_sqs_refuses_and_is_cut_on_a_character_boundary():
    assert aws_limits.sns_text("a\x00b\x07c\td\ne\ud800f") == "abc\td\nef"
    cut = aws_limits.sns_text("é" * 1000, 101)
    assert len(cut.encode()) <= 101 and cut.endswith("...")
    assert aws_limits.sns_text("ok", 10) == "ok"
    assert aws_limits.operator_text("") == "(no details)"
    huge = aws_limits.operator_text("🔥" * 200_000)          # 800 KB of UTF-8
    assert len(huge.encode()) <= aws_limits.MESSAGE_MAX_BYTES - 1024


@pytest.mark.parametrize("name", [
    "AWS.custom", "amazon.thing", "Amazon.X", ".lead", "trail.", "a..b", "sp ace", "é", "",
    "x" * 257])
def test_attribute_names_aws_refuses_are_refused(name):
    with pytest.raises(aws_limits.LimitError):
        aws_limits.message_attributes({name: "v"})


def test_attributes_have_the_documented_shapes():
    attrs = aws_limits.message_attributes({"components": ["api", "web"], "sms_worthy": True,
                                           "event_kind": "incident_update", "n": 3})
    assert attrs == {
        "components": {"DataType": "String.Array", "StringValue": '["api","web"]'},
        "sms_worthy": {"DataType": "String", "StringValue": "true"},
        "event_kind": {"DataType": "String", "StringValue": "incident_update"},
        "n": {"DataType": "Number", "StringValue": "3"}}
    kwargs = {"TopicArn": "arn:x", "Message": "hello", "MessageAttributes": attrs}
    assert publish_problems(kwargs) == []
    with pytest.raises(aws_limits.LimitError):
        aws_limits.message_attributes({f"a{i}": "v" for i in range(11)})
    with pytest.raises(aws_limits.LimitError):
        aws_limits.message_attributes({"empty": ""})
    sms_type = aws_limits.message_attributes({"AWS.SNS.SMS.SMSType": "Transactional"},
                                             reserved_ok=True)
    assert publish_problems({"PhoneNumber": "+14155550123", "Message": "hi",
                             "MessageAttributes": sms_type}) == []


def test_the_size_check_counts_the_attributes():
    attrs = aws_limits.message_attributes({"components": ["a" * 50] * 40})
    room = aws_limits.message_budget(attrs)
    aws_limits.check_publish_size("x" * room, attrs)
    with pytest.raises(aws_limits.LimitError):
        aws_limits.check_publish_size("x" * (room + 1), attrs)


def _incident(n_components=2, n_updates=1, body="Looking into it.", metadata=None):
    comps = [{"id": f"c{i:04d}", "name": f"Component {i} ✓", "status": "major_outage",
              "created_at": "2026-01-01T00:00:00.000Z", "description": None,
              "position": i, "group_id": None, "showcase": True, "only_show_if_degraded": False,
              "page_id": "acme", "group": False, "start_date": None}
             for i in range(n_components)]
    updates = [{"id": f"u{i}", "status": "investigating", "body": body,
                "created_at": "2026-01-01T00:00:00.000Z", "display_at": "x",
                "affected_components": None} for i in range(n_updates)]
    return {"id": "inc1", "name": "Outage \u2603 " + "n" * 180, "status": "investigating",
            "impact": "major", "components": comps, "incident_updates": updates,
            "metadata": metadata or {}, "shortlink": LINK, "updated_at": "x"}, updates[0]


@pytest.mark.parametrize("shape", [
    dict(),
    dict(n_updates=300, body="é" * 3000),                       # a long-running incident
    dict(n_components=400, body="ü" * 5000),                    # a page-wide outage
    dict(n_components=400, n_updates=50, body="😀" * 3000,
         metadata={f"k{i}": "🔥" * 500 for i in range(50)}),   # everything at once
])
def test_the_json_message_always_fits_sns_with_its_attributes(shape):
    incident, update = _incident(**shape)
    message = messages.sns_message("Acme", {"id": "acme"}, {"indicator": "major",
                                   "description": "x"}, incident, update, LINK,
                                   "https://status.acme.example/#subscribe", "docs")
    attrs = aws_limits.message_attributes({
        "components": event_components(c["id"] for c in incident["components"]),
        "sms_worthy": True, "event_kind": "incident_update"})
    kwargs = {"TopicArn": "arn:x", "Message": message, "MessageStructure": "json",
              "Subject": messages.subject("Acme", incident, update),
              "MessageAttributes": attrs}
    assert publish_problems(kwargs) == []
    doc = json.loads(message)
    assert json.loads(doc["sqs"])["incident"]["id"] == "inc1"
    assert doc["sms"].endswith(LINK)


# -- who hears what -----------------------------------------------------------------------------

def test_filter_policies_and_attributes_follow_the_audience_rule():
    assert filter_policy(None, False) is None
    assert filter_policy(["web", "api", "api"], False) == {"components": ["api", "web", PAGE_WIDE]}
    assert filter_policy([], True) == {"sms_worthy": ["true"]}
    assert event_components([]) == [PAGE_WIDE]
    assert event_components(["web", "api"]) == ["api", "web"]
    assert event_components([f"c{i}" for i in range(101)]) == [PAGE_WIDE]
    # a component event never carries PAGE_WIDE: that was the bug (everyone got everything)
    assert PAGE_WIDE not in event_components(["api"])


def test_a_subscriber_to_more_components_than_a_policy_holds_gets_everything():
    many = [f"c{i:03d}" for i in range(MAX_FILTERED_COMPONENTS + 1)]
    assert filter_policy(many, False) is None
    fits = filter_policy(many[:-1], True)
    assert filter_policy_problems(fits) == []


component = st.sampled_from(["api", "web", "db", "cdn", "mail"])


@settings(max_examples=500, deadline=None)
@given(sub=st.lists(component, max_size=4), sms_only=st.booleans(),
       about=st.lists(component, max_size=4), sms_worthy=st.booleans())
def test_sns_filtering_and_webhook_selection_give_the_same_answer(sub, sms_only, about,
                                                                 sms_worthy):
    attrs = aws_limits.message_attributes({"components": event_components(about),
                                           "sms_worthy": sms_worthy,
                                           "event_kind": "incident_update"})
    by_sns = policy_admits(filter_policy(sub, sms_only), attrs)
    expected = (not sub or not about or bool(set(sub) & set(about))) \
        and (sms_worthy or not sms_only)
    assert by_sns == expected
    assert wants(sub, about) == (not sub or not about or bool(set(sub) & set(about)))
