"""The one combined pass over the text that every ``find`` makes.

Python's re costs little per character while a pattern starts with a plain character
set (it skips ahead in C) and much per match (each one is a Python object and a
dispatch). So a few such passes find only the places worth a closer look: an "@", a run
of digits and separators long enough to be a number we care about (an IBAN is found
from its digits, looking back for its country code), a capitalised run. The per-type
checks then run on those windows only (structured.py, names.py).
"""

from __future__ import annotations

import re

# A run of digits and separators long enough to be any number we look for. Each pass
# starts with a plain character set, which re skips through in C; one alternation of
# all of them is slower (it loses that skip), so these are separate passes.
NUMERIC = re.compile(r"[+(\d][\d().\-/ ]{4,}\d")
