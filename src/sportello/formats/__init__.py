"""Date and time formats of the agent UI, one per language (settings.FORMAT_MODULE_PATH).

Django's own locale files mix styles: English shows `Dec. 2, 2026, 3:17 a.m.` and `12/02/2026
3:17 a.m.`, and Bulgarian has no SHORT_DATETIME_FORMAT so it falls back to the US one. Here the
short and the long form of each language are the same, with a 24-hour clock, so every page reads
one way whichever named format a template asks for (`core/templatetags/ui.py` uses them too).
"""
