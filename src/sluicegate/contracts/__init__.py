"""Output contracts: answers checked against a JSON Schema, repaired honestly, re-asked.

``parse`` reads an answer's JSON (syntax repair only), ``contract`` works out
which contract applies to a request, ``check`` judges one answer, ``reask``
builds the follow-up turn and ``stage`` is the pipeline stage that runs it
all. Schemas are compiled by :mod:`sluicegate.json_schema`, which the config
uses too.
"""
