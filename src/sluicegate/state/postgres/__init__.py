"""PostgreSQL storage: tenants, keys, limits and the usage ledger shared by every replica.

connection     the asyncpg pool, configured for a gateway
migrations     versioned schema, applied by ``sluicegate migrate``, checked at start
directory_store tenants and keys, with a version counter other replicas poll
ledger_store   idempotent batch shipping and usage queries
rollups        daily roll-ups, kept in the shipping transaction
partitions     one ledger partition a day; retention drops old ones
"""
