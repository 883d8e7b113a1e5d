"""English dates and times in 24-hour form, like the Russian pages and the times with seconds ("19:41:32").

Django's own English formats say "7:41 p.m.", which sat beside "19:41:32" on the same page.
"""

TIME_FORMAT = "H:i"
DATETIME_FORMAT = "N j, Y, H:i"
SHORT_DATETIME_FORMAT = "m/d/Y H:i"
