"""PostgreSQL implementations of the storage contracts (asyncpg, pooled connections)."""
