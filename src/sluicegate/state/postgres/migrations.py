"""The PostgreSQL schema, versioned: ``sluicegate migrate`` applies it, a gateway checks it.

Unlike SQLite (one file per deployment, migrated by whoever opens it), a
PostgreSQL database is shared by replicas that may run different versions
during a rollout, so a gateway never changes the schema itself: it refuses to
start on a schema older than it needs and names the command that fixes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sluicegate.state.postgres.connection import Conn

# Versioned migrations: append, never edit. Index i brings the schema to version i+1.
MIGRATIONS: tuple[str, ...] = (
    # 1: tenants, keys, the partitioned ledger, its daily roll-ups, spool offsets
    """
    CREATE TABLE sluicegate_schema (version integer NOT NULL);
    INSERT INTO sluicegate_schema VALUES (0);

    CREATE TABLE tenants (
        name text PRIMARY KEY,
        models jsonb,                -- allowed aliases, NULL = all
        limits jsonb NOT NULL,       -- LimitsConfig
        source text NOT NULL,        -- 'config' or 'admin'
        created_at double precision NOT NULL
    );
    CREATE TABLE api_keys (
        id text PRIMARY KEY,
        tenant text NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
        name text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        prefix text NOT NULL,
        source text NOT NULL,
        created_at double precision NOT NULL,
        revoked_at double precision,
        UNIQUE (tenant, name)
    );
    -- Bumped by any change to tenants or keys, from any replica or by hand:
    -- every replica polls it and reloads its in-memory directory when it moves.
    CREATE TABLE directory_version (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        version bigint NOT NULL
    );
    INSERT INTO directory_version VALUES (true, 0);
    CREATE FUNCTION sluicegate_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE directory_version SET version = version + 1;
        RETURN NULL;
    END $$;
    CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants
        FOR EACH STATEMENT EXECUTE FUNCTION sluicegate_directory_changed();
    CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
        FOR EACH STATEMENT EXECUTE FUNCTION sluicegate_directory_changed();

    -- One partition per UTC day (ts in unix seconds): retention drops whole days.
    CREATE TABLE ledger (
        id text NOT NULL,            -- unique per request; shipping is idempotent on it
        request_id text NOT NULL,
        ts double precision NOT NULL,
        tenant text,
        key_name text,
        alias text,
        target text,
        protocol text NOT NULL,
        operation text NOT NULL,
        stream boolean NOT NULL,
        tags text[] NOT NULL,
        status integer NOT NULL,
        error_code text,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        reasoning_tokens bigint NOT NULL,
        estimated boolean NOT NULL,
        cost_usd double precision NOT NULL,
        latency_ms double precision NOT NULL,
        ttft_ms double precision,
        attempts jsonb NOT NULL,
        cache text,
        saved_usd double precision NOT NULL,
        PRIMARY KEY (id, ts)         -- a record's ts never changes, so (id, ts) is its id
    ) PARTITION BY RANGE (ts);
    CREATE INDEX ledger_tenant_ts ON ledger (tenant, ts);
    CREATE INDEX ledger_ts ON ledger (ts);

    CREATE FUNCTION sluicegate_ledger_partition(d date) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
        name text := 'ledger_p' || to_char(d, 'YYYYMMDD');
        lo bigint := extract(epoch FROM d::timestamp)::bigint;
    BEGIN
        IF to_regclass(name) IS NULL THEN
            PERFORM pg_advisory_xact_lock(hashtext('sluicegate_ledger_partition'));
            IF to_regclass(name) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF ledger FOR VALUES FROM (%s) TO (%s)',
                               name, lo, lo + 86400);
            END IF;
        END IF;
    END $$;

    -- Daily sums per tenant, key, alias and target; tenant first for per-tenant ranges.
    -- '' stands for NULL so that the key can be a primary key.
    CREATE TABLE ledger_daily (
        tenant text NOT NULL,
        day date NOT NULL,
        key_name text NOT NULL,
        alias text NOT NULL,
        target text NOT NULL,
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        reasoning_tokens bigint NOT NULL,
        cost_usd double precision NOT NULL,
        errors bigint NOT NULL,
        estimated bigint NOT NULL,
        cache_hits bigint NOT NULL,
        saved_usd double precision NOT NULL,
        PRIMARY KEY (tenant, day, key_name, alias, target)
    );
    -- The same per tag: a request with two tags counts under each.
    CREATE TABLE ledger_daily_tags (
        tenant text NOT NULL,
        day date NOT NULL,
        key_name text NOT NULL,
        tag text NOT NULL,
        requests bigint NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        reasoning_tokens bigint NOT NULL,
        cost_usd double precision NOT NULL,
        errors bigint NOT NULL,
        estimated bigint NOT NULL,
        cache_hits bigint NOT NULL,
        saved_usd double precision NOT NULL,
        PRIMARY KEY (tenant, day, key_name, tag)
    );
    CREATE TABLE spool_offsets (
        file text PRIMARY KEY,       -- a spool file being shipped (names are unique per process)
        shipped bigint NOT NULL      -- bytes of it already in the ledger
    );
    """,
    # 2: requests served by an alias with no pricing (their cost_usd of 0 is unknown, not
    # free), on each row and counted in the roll-ups; days before it count none.
    """
    ALTER TABLE ledger ADD COLUMN unpriced boolean NOT NULL DEFAULT false;
    ALTER TABLE ledger_daily ADD COLUMN unpriced_requests bigint NOT NULL DEFAULT 0;
    ALTER TABLE ledger_daily_tags ADD COLUMN unpriced_requests bigint NOT NULL DEFAULT 0;
    """,
    # 3: tenants get an immutable id: config tenants the one derived from their name
    # (config_tenant_id), the others a random one.
    """
    ALTER TABLE tenants ADD COLUMN id text;
    UPDATE tenants SET id = CASE WHEN source = 'config'
        THEN 'cfg_' || left(encode(sha256(convert_to(name, 'UTF8')), 'hex'), 16)
        ELSE 'ten_' || left(md5(gen_random_uuid()::text), 16) END;
    ALTER TABLE tenants ALTER COLUMN id SET NOT NULL, ADD CONSTRAINT tenants_id_key UNIQUE (id);
    CREATE FUNCTION sluicegate_tenant_id_kept() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.id IS DISTINCT FROM OLD.id THEN
            RAISE EXCEPTION 'the id of tenant % never changes', OLD.name;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER tenants_id_kept BEFORE UPDATE OF id ON tenants
        FOR EACH ROW EXECUTE FUNCTION sluicegate_tenant_id_kept();
    """,
    # 4: usage is kept by tenant id (raw rows and roll-ups), so a tenant re-created under a
    # deleted one's name starts with none of its history. A raw row belongs to the tenant
    # of its name only if it is not older than that tenant (older ones were a deleted
    # namesake's); a roll-up row, only from the UTC day the tenant was created (the
    # earlier part of that day, if a namesake was deleted then, is counted for the tenant
    # in whole-day answers). What no tenant existing now can own gets one id per name
    # (legacy_tenant_id). '' stands for NULL in the roll-ups, as for the other key
    # columns. Replicas of the previous version cannot ship once this is applied (the
    # roll-ups' key changed): their records wait in their spools until they run this
    # version, which ships them.
    """
    CREATE FUNCTION sluicegate_legacy_tenant_id(name text) RETURNS text
        LANGUAGE sql IMMUTABLE AS
        $$ SELECT 'old_' || left(encode(sha256(convert_to(name, 'UTF8')), 'hex'), 16) $$;
    ALTER TABLE ledger ADD COLUMN tenant_id text;
    UPDATE ledger AS l SET tenant_id = coalesce(
        (SELECT t.id FROM tenants t WHERE t.name = l.tenant AND l.ts >= t.created_at),
        sluicegate_legacy_tenant_id(l.tenant))
    WHERE l.tenant IS NOT NULL;
    DROP INDEX ledger_tenant_ts;
    CREATE INDEX ledger_tenant_id_ts ON ledger (tenant_id, ts);

    ALTER TABLE ledger_daily ADD COLUMN tenant_id text NOT NULL DEFAULT '';
    ALTER TABLE ledger_daily_tags ADD COLUMN tenant_id text NOT NULL DEFAULT '';
    UPDATE ledger_daily AS d SET tenant_id = coalesce(
        (SELECT t.id FROM tenants t WHERE t.name = d.tenant
            AND d.day >= (to_timestamp(t.created_at) AT TIME ZONE 'UTC')::date),
        sluicegate_legacy_tenant_id(d.tenant))
    WHERE d.tenant <> '';
    UPDATE ledger_daily_tags AS d SET tenant_id = coalesce(
        (SELECT t.id FROM tenants t WHERE t.name = d.tenant
            AND d.day >= (to_timestamp(t.created_at) AT TIME ZONE 'UTC')::date),
        sluicegate_legacy_tenant_id(d.tenant))
    WHERE d.tenant <> '';
    ALTER TABLE ledger_daily DROP CONSTRAINT ledger_daily_pkey,
        ADD PRIMARY KEY (tenant_id, tenant, day, key_name, alias, target);
    ALTER TABLE ledger_daily_tags DROP CONSTRAINT ledger_daily_tags_pkey,
        ADD PRIMARY KEY (tenant_id, tenant, day, key_name, tag);
    DROP FUNCTION sluicegate_legacy_tenant_id(text);
    """,
    # 5: the prompt registry (immutable versions, labels and every move of them), and the
    # prompt version each ledger record was served with (NAME@VERSION), in the raw rows
    # and as a key of the daily roll-up. Replicas of the previous version cannot ship once
    # this is applied (the roll-up's key changed): their records wait in their spools.
    """
    CREATE TABLE prompts (
        name text PRIMARY KEY,
        tenant_id text,              -- NULL: a platform prompt
        tenant text,                 -- the owner's name when the prompt was made
        created_at double precision NOT NULL
    );
    CREATE TABLE prompt_versions (
        name text NOT NULL REFERENCES prompts (name),
        version integer NOT NULL,
        hash text NOT NULL,          -- sha256 of the content as canonical JSON
        document jsonb NOT NULL,
        created_at double precision NOT NULL,
        PRIMARY KEY (name, version),
        UNIQUE (name, hash)
    );
    CREATE TABLE prompt_labels (
        name text NOT NULL,
        label text NOT NULL,
        version integer NOT NULL,
        moved_at double precision NOT NULL,
        PRIMARY KEY (name, label),
        FOREIGN KEY (name, version) REFERENCES prompt_versions (name, version)
    );
    CREATE TABLE prompt_label_moves (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        label text NOT NULL,
        from_version integer,        -- NULL: the label was new
        to_version integer NOT NULL,
        at double precision NOT NULL
    );
    CREATE INDEX prompt_label_moves_name ON prompt_label_moves (name, id);
    -- Bumped by any change to the registry, from any replica or by hand: every replica
    -- polls it and reloads its in-memory registry when it moves.
    CREATE TABLE prompt_registry_version (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        version bigint NOT NULL
    );
    INSERT INTO prompt_registry_version VALUES (true, 0);
    CREATE FUNCTION sluicegate_prompts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE prompt_registry_version SET version = version + 1;
        RETURN NULL;
    END $$;
    CREATE TRIGGER prompts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON prompts
        FOR EACH STATEMENT EXECUTE FUNCTION sluicegate_prompts_changed();
    CREATE TRIGGER prompt_versions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON prompt_versions FOR EACH STATEMENT EXECUTE FUNCTION sluicegate_prompts_changed();
    CREATE TRIGGER prompt_labels_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON prompt_labels FOR EACH STATEMENT EXECUTE FUNCTION sluicegate_prompts_changed();
    CREATE FUNCTION sluicegate_prompt_version_kept() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'prompt version %@% never changes', OLD.name, OLD.version;
    END $$;
    CREATE TRIGGER prompt_versions_immutable BEFORE UPDATE ON prompt_versions
        FOR EACH ROW EXECUTE FUNCTION sluicegate_prompt_version_kept();
    ALTER TABLE ledger ADD COLUMN prompt text;
    ALTER TABLE ledger_daily ADD COLUMN prompt text NOT NULL DEFAULT '';
    ALTER TABLE ledger_daily DROP CONSTRAINT ledger_daily_pkey,
        ADD PRIMARY KEY (tenant_id, tenant, day, key_name, alias, target, prompt);
    """,
    # 6: a tenant's layer of the system prompt (PromptLayerConfig, NULL: none).
    """
    ALTER TABLE tenants ADD COLUMN prompt_layer jsonb;
    """,
    # 7: the output contract's verdict and the answers it checked, and what the
    # guardrails did, per ledger record (the raw rows only: no roll-up keys on them).
    """
    ALTER TABLE ledger ADD COLUMN contract text;
    ALTER TABLE ledger ADD COLUMN contract_attempts jsonb;
    ALTER TABLE ledger ADD COLUMN guardrails text;
    """,
    # 8: behaviour signals per ledger record (model cards, drift), the session of a request,
    # and the tables of feedback, captured bodies (apart from the ledger rows, so that usage
    # queries never read them), alerts, each target's served model and alias baselines.
    """
    ALTER TABLE ledger ADD COLUMN finish_reason text;
    ALTER TABLE ledger ADD COLUMN refusal boolean NOT NULL DEFAULT false;
    ALTER TABLE ledger ADD COLUMN served_model text;
    ALTER TABLE ledger ADD COLUMN response_id text;
    ALTER TABLE ledger ADD COLUMN session text;
    -- Request ids the gateway made are req_ and the row's id, found by its key; only
    -- those a client chose are indexed (each index costs every insert).
    CREATE INDEX ledger_request_id ON ledger (request_id) WHERE request_id <> 'req_' || id;
    CREATE INDEX ledger_response_id ON ledger (response_id) WHERE response_id IS NOT NULL;
    CREATE INDEX ledger_session ON ledger (tenant_id, session, ts) WHERE session IS NOT NULL;
    CREATE TABLE feedback (
        tenant_id text NOT NULL,
        id text NOT NULL,
        ledger_id text NOT NULL,
        request_id text NOT NULL,
        alias text,
        session text,
        name text NOT NULL,
        value jsonb NOT NULL,
        score double precision,
        comment text,
        correction text,
        ts double precision NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX feedback_ledger_id ON feedback (ledger_id);
    CREATE INDEX feedback_alias_ts ON feedback (alias, ts);
    CREATE TABLE bodies (
        id text PRIMARY KEY,
        tenant_id text,
        ts double precision NOT NULL,
        mode text NOT NULL,
        request jsonb NOT NULL,
        answer jsonb
    );
    CREATE INDEX bodies_tenant_ts ON bodies (tenant_id, ts);
    CREATE INDEX bodies_ts ON bodies (ts);
    CREATE TABLE alerts (
        seq bigserial PRIMARY KEY,
        key text NOT NULL UNIQUE,
        type text NOT NULL,
        at double precision NOT NULL,
        data jsonb NOT NULL
    );
    CREATE INDEX alerts_type_at ON alerts (type, at);
    CREATE INDEX alerts_at ON alerts (at);
    CREATE TABLE served_models (
        target text PRIMARY KEY,
        model text NOT NULL,
        at double precision NOT NULL
    );
    CREATE TABLE drift_baselines (
        alias text PRIMARY KEY,
        since double precision NOT NULL
    );
    """,
)

LATEST = len(MIGRATIONS)
_LOCK = "hashtext('sluicegate_migrate')"


class SchemaError(RuntimeError):
    """The database's schema is not the one this sluicegate needs."""


async def schema_version(conn: Conn) -> int:
    """0 for a database sluicegate never migrated."""
    exists = await conn.fetchval("SELECT to_regclass('sluicegate_schema') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT version FROM sluicegate_schema"))


async def migrate(conn: Conn) -> tuple[int, int]:
    """Apply pending migrations in one transaction; returns (before, after).

    An advisory lock makes concurrent runs wait for each other instead of racing.
    """
    async with conn.transaction():
        await conn.execute(f"SELECT pg_advisory_xact_lock({_LOCK})")
        before = await schema_version(conn)
        if before > LATEST:
            raise SchemaError(
                f"database schema version {before} is newer than this sluicegate ({LATEST}); "
                "upgrade sluicegate"
            )
        for version in range(before, LATEST):
            await conn.execute(MIGRATIONS[version])
            await conn.execute("UPDATE sluicegate_schema SET version = $1", version + 1)
    return before, LATEST


async def check_schema(conn: Conn) -> int:
    """Raise :class:`SchemaError`, saying what to do, unless the schema is the latest."""
    version = await schema_version(conn)
    if version < LATEST:
        state = "not migrated" if version == 0 else f"at schema version {version}"
        raise SchemaError(
            f"the PostgreSQL database is {state}; this sluicegate needs version {LATEST}. "
            "Run `sluicegate migrate --config FILE` (once, from any host), then start again."
        )
    if version > LATEST:
        raise SchemaError(
            f"the PostgreSQL database is at schema version {version}, newer than this "
            f"sluicegate ({LATEST}); upgrade sluicegate"
        )
    return version
