"""One adapter per upstream type. Each owns its HTTP details: URLs, auth headers,
and the mapping of upstream failures to canonical errors."""
