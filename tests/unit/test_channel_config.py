"""`channels:` in the status file: variable names only, events or public, unique names."""
import pytest

from chalicelib.core.config import ConfigError, load_status_text
from chalicelib.core.model import Channel
from chalicelib.render.messages import channel_fit, split_link, units

BASE = "page: {id: a, name: A, url: https://s.example}\ncomponents: [{id: api, name: API}]\n"


def test_channels_name_variables_and_what_they_carry():
    cfg = load_status_text(BASE + """channels:
  - url: ${SLACK_URL}
    events: [incidents, alerts]
  - {name: oncall, url: "${PD_URL}"}
  - {name: community, url: "${DISCORD_URL}", events: [incidents]}
  - {url: "${MATRIX_URL}", public: true}
""", environ={})                                 # the loader never reads the variables
    assert cfg.channels == (
        Channel("slack-url", "SLACK_URL", alerts=True, public=True),
        Channel("oncall", "PD_URL", alerts=True, public=False),
        Channel("community", "DISCORD_URL", alerts=False, public=True),
        Channel("matrix-url", "MATRIX_URL", alerts=True, public=True))


@pytest.mark.parametrize("entry,key,words", [
    ("{url: 'https://hooks.slack.com/services/T/B/X'}", "channels[0].url", "write ${NAME}"),
    ("{url: '${A:-slack://x/y/z}'}", "channels[0].url", "write ${NAME}"),
    ("{url: '${A}', public: true, events: [alerts]}", "channels[0].public", "not both"),
    ("{url: '${A}', events: [pages]}", "channels[0].events[0]", "alerts or incidents"),
    ("{name: Ops, url: '${A}'}", "channels[0].name", "lowercase"),
    ("{name: ops}", "channels[0].url", "required"),
])
def test_bad_channels_name_the_key(entry, key, words):
    with pytest.raises(ConfigError) as exc:
        load_status_text(BASE + f"channels: [{entry}]\n", environ={})
    assert exc.value.key == key and words in exc.value.message


def test_two_channels_with_one_name():
    with pytest.raises(ConfigError) as exc:
        load_status_text(BASE + "channels: [{url: '${A}'}, {name: a, url: '${B}'}]\n",
                         environ={})
    assert "duplicate channel name 'a'" in str(exc.value)


def test_fit_keeps_the_link_and_cuts_at_a_word():
    title, body = channel_fit("[Acme] Investigating: API", "word " * 1000,
                              "https://s.example/incidents/1", 2000, 250)
    assert units(title) + 2 + units(body) <= 2000
    assert body.endswith("word…\nhttps://s.example/incidents/1")
    short = channel_fit("T", "Short.", "https://s.example/x", 4096, 0)
    assert short == ("T", "Short.\nhttps://s.example/x")


def test_fit_counts_emoji_as_two_units_and_cuts_long_titles():
    title, body = channel_fit("x" * 500, "😀" * 3000, "https://l.example/i", 1024, 0)
    assert units(title) <= 200 and units(title) + 2 + units(body) <= 1024
    assert body.endswith("…\nhttps://l.example/i")


def test_an_alert_keeps_its_last_link_line():
    assert split_link("Something.\n\nMore.\nhttps://s.example/incidents/9") == \
        ("Something.\n\nMore.", "https://s.example/incidents/9")
    assert split_link("No link here.") == ("No link here.", "")
