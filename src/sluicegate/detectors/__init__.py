"""Local detectors: text in, what was found in it out. Pure, and loaded once per process.

``pii`` finds personal data (patterns with validity checks, names by lexicons
and cues), ``classifiers`` scores prompt injection and harmful content with
shipped linear models, and ``scans`` puts each (and regular expressions)
behind the one interface the guardrails use. Nothing here knows a request.
"""
