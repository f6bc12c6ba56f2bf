"""The admin API: tenants, keys, usage and operations, behind the admin key."""
