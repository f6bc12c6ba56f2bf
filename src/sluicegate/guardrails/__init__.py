"""Guardrails: what a request may carry in and what an answer may carry out.

``stage`` is the pipeline stage; ``texts`` says which parts of a request are
scanned and as what; ``placeholders`` is PII redaction that restores;
``answers`` watches the answer on its way out; ``verdicts`` records what each
guardrail did. The detectors are in :mod:`sluicegate.detectors`, and the
configured guardrails of a snapshot in :mod:`sluicegate.runtime.guardrails`.
"""
