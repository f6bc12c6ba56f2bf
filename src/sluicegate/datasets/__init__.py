"""Fine-tuning datasets from captured bodies and feedback (GET /admin/datasets/export).

export   the JSON Lines of each format (sft, dpo), written a page at a time
queries  the few SQL queries, one text for SQLite and PostgreSQL alike
"""

from sluicegate.datasets.export import Filter, Format, export_lines
from sluicegate.datasets.queries import Database, database_of

__all__ = ["Database", "Filter", "Format", "database_of", "export_lines"]
