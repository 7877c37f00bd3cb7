"""The languages Outpost ships: the status file validates `page.locale` against them and the
renderer loads their catalogs (render/i18n.py)."""

LOCALES = ("en", "de", "fr", "es", "ja", "pt-BR")     # the shipped set, as page.locale spells them
DEFAULT = "en"
# Scripts GSM-7 can't carry even with accents folded: their SMS go out as UCS-2.
UCS2_LOCALES = frozenset({"ja"})
