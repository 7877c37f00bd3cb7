"""What subscribers receive: SMS is GSM-7 and at most 160 characters whatever the operator typed."""
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.outbox import events
from chalicelib.render.messages import SMS_LIMIT, gsm7, septets, sms, subject

GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
          "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


def incident(name):
    return {"name": name}


def update(body, status="investigating"):
    return {"status": status, "body": body}


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=500), body=st.text(max_size=2000),
       page=st.text(min_size=1, max_size=80),
       status=st.sampled_from(["investigating", "identified", "resolved", "in_progress"]))
def test_every_sms_is_gsm7_and_fits_one_message(name, body, page, status):
    text = sms(page, incident(name), update(body, status),
               "https://status.acme.example/incidents/abcdefghijkl")
    assert set(text) <= GSM
    assert septets(text) <= SMS_LIMIT


def test_sms_keeps_the_link_and_says_what_happened():
    text = sms("Acme", incident("API 🔥 errors"), update("We’re on it — details soon…"),
               "https://s.acme.example/i/abc")
    assert text == "[Acme] Investigating: API errors - We're on it - details soon... https://s.acme.example/i/abc"


def test_long_text_is_cut_with_an_ellipsis_before_the_link():
    text = sms("Acme", incident("x" * 300), update("y" * 300), "https://s.acme.example/i/abc")
    assert septets(text) == 160 and text.endswith("... https://s.acme.example/i/abc")  # [ ] cost 2


def test_gsm7_extended_characters_count_twice():
    assert septets("{}") == 4 and gsm7("naïve café ✓") == "naive café"


def test_subject_is_one_ascii_line_under_100():
    s = subject("Acme\nStatus", incident("Ünïcode “quotes” " + "z" * 200), update(""))
    assert s.isascii() and "\n" not in s and len(s) < 100      # SNS: "less than 100"


def doc(updates, **extra):
    return {"id": "inc", "updates": updates, "component_ids": ["api"], **extra}


def upd(uid, status="investigating", deliver=True):
    return {"id": uid, "status": status, "body": "", "created_at": 1.0,
            "deliver_notifications": deliver}


def test_events_are_the_new_updates_only_with_stable_ids():
    old = doc([upd("a")])
    new = doc([upd("b", "resolved"), upd("a")])
    (ev,) = events("incident#inc", old, new)
    assert (ev.id, ev.first, ev.sms_worthy) == ("update:b", False, True)
    assert [e.id for e in events("incident#inc", None, old)] == ["update:a"]
    assert events("incident#inc", old, old) == []
    assert events("incident#inc", old, doc([upd("c", "identified", deliver=False), upd("a")])) == []
    assert events("incident#inc", old, doc([upd("a")], deleted_at=5.0)) == []


def test_sms_worthiness_follows_statuspage():
    created = events("incident#inc", None, doc([upd("a", "identified")]))[0]
    assert created.sms_worthy                          # creation always
    later = events("incident#inc", doc([upd("a")]), doc([upd("b", "monitoring"), upd("a")]))[0]
    assert not later.sms_worthy                        # a middle update: email and webhooks only


def test_component_events_from_the_components_document():
    old = {"api": {"status": "operational", "since": 1.0}}
    new = {"api": {"status": "major_outage", "since": 9.0}, "web": {"status": "operational", "since": 9.0}}
    (ev,) = events("components", old, new)
    assert (ev.id, ev.old_status, ev.new_status) == ("component:api:9.0", "operational", "major_outage")
    assert events("snapshot", old, new) == []


def cev(at, old, new):
    from chalicelib.core.outbox import Event
    return Event(id=f"component:api:{at}", kind="component_update", component="api",
                 old_status=old, new_status=new, at=at, components=("api",))


def test_debounce_folds_flaps_into_one_change_or_none():
    from chalicelib.core.outbox import debounce, due
    p = debounce({}, cev(10, "operational", "major_outage"))
    assert due(p, 100, 300) == []                                   # still inside the window
    back = debounce(p, cev(50, "major_outage", "operational"))
    assert back == {}                                               # down and up: nothing to say
    worse = debounce(p, cev(50, "major_outage", "partial_outage"))
    (ev,) = due(worse, 350, 300)
    assert (ev.old_status, ev.new_status, ev.id) == ("operational", "partial_outage",
                                                     "component:api:50")
    assert debounce(worse, cev(10, "operational", "major_outage")) == worse   # replayed: no-op
