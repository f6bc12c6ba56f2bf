"""From the client's bytes to a canonical request: reading and decoding the body."""
