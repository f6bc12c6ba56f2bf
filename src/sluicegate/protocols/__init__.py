"""Pure translation between wire formats and the canonical model. No I/O here."""
