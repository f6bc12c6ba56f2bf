"""The embedded SQLite database: opening it and bringing its schema up to date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sluicegate.state.directory import config_tenant_id, legacy_tenant_id

# Versioned migrations: append, never edit. Index i brings the schema to version i+1.
# Statements are separated by ";" at the end of a line.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE tenants (
        name TEXT PRIMARY KEY,
        models TEXT,               -- JSON list of allowed aliases, NULL = all
        limits TEXT NOT NULL,      -- JSON of LimitsConfig
        source TEXT NOT NULL,      -- 'config' or 'admin'
        created_at REAL NOT NULL
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,      -- first characters, to tell keys apart in listings
        source TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL,
        UNIQUE (tenant, name)
    );
    CREATE TABLE ledger (
        id TEXT PRIMARY KEY,       -- unique per request, and shipping is idempotent on it
        request_id TEXT NOT NULL,  -- the client-visible x-request-id
        ts REAL NOT NULL,          -- unix seconds when the request arrived
        tenant TEXT,
        key_name TEXT,
        alias TEXT,
        target TEXT,
        protocol TEXT NOT NULL,
        operation TEXT NOT NULL,
        stream INTEGER NOT NULL,
        tags TEXT NOT NULL,        -- JSON list
        status INTEGER NOT NULL,
        error_code TEXT,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        estimated INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        latency_ms REAL NOT NULL,
        ttft_ms REAL
    );
    CREATE INDEX ledger_tenant_ts ON ledger (tenant, ts);
    CREATE INDEX ledger_ts ON ledger (ts);
    CREATE TABLE spool_offsets (
        file TEXT PRIMARY KEY,     -- a spool file being shipped
        shipped INTEGER NOT NULL   -- bytes of it already in the ledger
    );
    """,
    # 2: every upstream attempt of a request: [[target, outcome], ...]
    """
    ALTER TABLE ledger ADD COLUMN attempts TEXT NOT NULL DEFAULT '[]';
    """,
    # 3: response-cache outcome ('hit' | 'miss' | NULL) and the upstream cost a hit saved
    """
    ALTER TABLE ledger ADD COLUMN cache TEXT;
    ALTER TABLE ledger ADD COLUMN saved_usd REAL NOT NULL DEFAULT 0;
    """,
    # 4: 1 when the serving alias had no pricing (its cost_usd of 0 is unknown, not free)
    """
    ALTER TABLE ledger ADD COLUMN unpriced INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: tenants get an immutable id: config tenants the one derived from their name (what
    # sync_config gives them), the others a random one. NOT NULL cannot be added to a
    # column here, so triggers keep ids given and unchanged.
    """
    ALTER TABLE tenants ADD COLUMN id TEXT;
    UPDATE tenants SET id = CASE WHEN source = 'config' THEN sluicegate_config_tenant_id(name)
        ELSE 'ten_' || lower(hex(randomblob(8))) END;
    CREATE UNIQUE INDEX tenants_id ON tenants (id);
    CREATE TRIGGER tenants_id_given BEFORE INSERT ON tenants WHEN NEW.id IS NULL
        BEGIN SELECT RAISE(ABORT, 'a tenant needs an id'); END;
    CREATE TRIGGER tenants_id_kept BEFORE UPDATE OF id ON tenants WHEN NEW.id IS NOT OLD.id
        BEGIN SELECT RAISE(ABORT, 'a tenant''s id never changes'); END;
    """,
    # 6: ledger rows get the id of the tenant they were for, so a tenant re-created under a
    # deleted one's name starts with none of its usage. A row belongs to the tenant of its
    # name only if it is not older than that tenant (older ones were a deleted namesake's);
    # rows no tenant existing now can own get one id per name (see legacy_tenant_id).
    """
    ALTER TABLE ledger ADD COLUMN tenant_id TEXT;
    UPDATE ledger SET tenant_id = coalesce(
        (SELECT t.id FROM tenants t WHERE t.name = ledger.tenant AND ledger.ts >= t.created_at),
        sluicegate_legacy_tenant_id(tenant)) WHERE tenant IS NOT NULL;
    DROP INDEX ledger_tenant_ts;
    CREATE INDEX ledger_tenant_id_ts ON ledger (tenant_id, ts);
    """,
    # 7: the prompt registry (immutable versions, labels and every move of them), and the
    # prompt version each ledger record was served with (NAME@VERSION).
    """
    CREATE TABLE prompts (
        name TEXT PRIMARY KEY,
        tenant_id TEXT,            -- NULL: a platform prompt
        tenant TEXT,               -- the owner's name when the prompt was made
        created_at REAL NOT NULL
    );
    CREATE TABLE prompt_versions (
        name TEXT NOT NULL REFERENCES prompts (name),
        version INTEGER NOT NULL,
        hash TEXT NOT NULL,        -- sha256 of the content as canonical JSON
        document TEXT NOT NULL,    -- the version document as JSON
        created_at REAL NOT NULL,
        PRIMARY KEY (name, version),
        UNIQUE (name, hash)
    );
    CREATE TABLE prompt_labels (
        name TEXT NOT NULL,
        label TEXT NOT NULL,
        version INTEGER NOT NULL,
        moved_at REAL NOT NULL,
        PRIMARY KEY (name, label),
        FOREIGN KEY (name, version) REFERENCES prompt_versions (name, version)
    );
    CREATE TABLE prompt_label_moves (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        label TEXT NOT NULL,
        from_version INTEGER,      -- NULL: the label was new
        to_version INTEGER NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX prompt_label_moves_name ON prompt_label_moves (name, id);
    CREATE TABLE prompt_registry_version (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        version INTEGER NOT NULL
    );
    INSERT INTO prompt_registry_version VALUES (1, 0);
    CREATE TRIGGER prompt_versions_immutable BEFORE UPDATE ON prompt_versions
        BEGIN SELECT RAISE(ABORT, 'a prompt version never changes'); END;
    CREATE TRIGGER prompts_changed AFTER INSERT ON prompts
        BEGIN UPDATE prompt_registry_version SET version = version + 1; END;
    CREATE TRIGGER prompt_versions_changed AFTER INSERT ON prompt_versions
        BEGIN UPDATE prompt_registry_version SET version = version + 1; END;
    CREATE TRIGGER prompt_labels_added AFTER INSERT ON prompt_labels
        BEGIN UPDATE prompt_registry_version SET version = version + 1; END;
    CREATE TRIGGER prompt_labels_moved AFTER UPDATE ON prompt_labels
        BEGIN UPDATE prompt_registry_version SET version = version + 1; END;
    ALTER TABLE ledger ADD COLUMN prompt TEXT;
    """,
    # 8: a tenant's layer of the system prompt (JSON of PromptLayerConfig, NULL: none).
    """
    ALTER TABLE tenants ADD COLUMN prompt_layer TEXT;
    """,
    # 9: the output contract's verdict and the answers it checked (JSON), and what the
    # guardrails did, per ledger record.
    """
    ALTER TABLE ledger ADD COLUMN contract TEXT;
    ALTER TABLE ledger ADD COLUMN contract_attempts TEXT;
    ALTER TABLE ledger ADD COLUMN guardrails TEXT;
    """,
    # 10: behaviour signals per ledger record (for model cards and drift), the session a
    # request belongs to, and the tables of feedback, captured bodies (apart from the
    # ledger rows, so that usage queries never read them), alerts, the served model of
    # each target (model_changed) and each alias's baseline start.
    """
    ALTER TABLE ledger ADD COLUMN finish_reason TEXT;
    ALTER TABLE ledger ADD COLUMN refusal INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE ledger ADD COLUMN served_model TEXT;
    ALTER TABLE ledger ADD COLUMN response_id TEXT;
    ALTER TABLE ledger ADD COLUMN session TEXT;
    -- Request ids the gateway made are req_ and the row's id, found by its key; only
    -- those a client chose are indexed (each index costs every insert).
    CREATE INDEX ledger_request_id ON ledger (request_id) WHERE request_id <> 'req_' || id;
    CREATE INDEX ledger_response_id ON ledger (response_id) WHERE response_id IS NOT NULL;
    CREATE INDEX ledger_session ON ledger (tenant_id, session, ts) WHERE session IS NOT NULL;
    CREATE TABLE feedback (
        tenant_id TEXT NOT NULL,
        id TEXT NOT NULL,          -- the client's id, or one the gateway made
        ledger_id TEXT NOT NULL,   -- ledger.id of the request it is about
        request_id TEXT NOT NULL,  -- that request's x-request-id
        alias TEXT,
        session TEXT,
        name TEXT NOT NULL,
        value TEXT NOT NULL,       -- JSON: a number, boolean or string
        score REAL,                -- value as a number (booleans 0/1), NULL for strings
        comment TEXT,
        correction TEXT,
        ts REAL NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE INDEX feedback_ledger_id ON feedback (ledger_id);
    CREATE INDEX feedback_alias_ts ON feedback (alias, ts);
    CREATE TABLE bodies (
        id TEXT PRIMARY KEY,       -- ledger.id
        tenant_id TEXT,
        ts REAL NOT NULL,
        mode TEXT NOT NULL,        -- 'full' or 'redacted'
        request TEXT NOT NULL,     -- JSON: the canonical conversation asked
        answer TEXT                -- JSON: the answer's message (NULL: none)
    );
    CREATE INDEX bodies_tenant_ts ON bodies (tenant_id, ts);
    CREATE INDEX bodies_ts ON bodies (ts);
    CREATE TABLE alerts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,  -- raised once per key, whichever replica sees it first
        type TEXT NOT NULL,
        at REAL NOT NULL,
        data TEXT NOT NULL         -- JSON: the alert as the webhook gets it
    );
    CREATE INDEX alerts_type_at ON alerts (type, at);
    CREATE INDEX alerts_at ON alerts (at);
    CREATE TABLE served_models (
        target TEXT PRIMARY KEY,   -- provider/model label of a configured target
        model TEXT NOT NULL,       -- the model its answers last said served them
        at REAL NOT NULL
    );
    CREATE TABLE drift_baselines (
        alias TEXT PRIMARY KEY,
        since REAL NOT NULL        -- the first N requests from here are the baseline
    );
    """,
)


class transaction:
    """One transaction; ``BEGIN IMMEDIATE`` (the default) takes the write lock at once, so
    processes sharing the file take turns instead of failing at their first write."""

    def __init__(self, conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> None:
        self._conn = conn
        self._begin = begin

    def __enter__(self) -> None:
        self._conn.execute(self._begin)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def sqlite_path(url: str) -> str:
    """``sqlite:///./file.db`` -> ``./file.db`` (relative to the working directory);
    ``sqlite:////abs/file.db`` -> ``/abs/file.db``. No in-memory databases: the
    ledger shipper needs a second connection to the same data."""
    if not url.startswith("sqlite://"):
        raise ValueError(f"not a sqlite URL: {url!r}")
    rest = url[len("sqlite://") :]
    if not rest.startswith("/"):
        raise ValueError(f"sqlite URL must look like sqlite:///path/to/file.db, got {url!r}")
    return rest[1:]


def open_database(url: str) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database.

    WAL mode with ``synchronous=NORMAL``: a committed ledger row survives the
    process being killed (it is in the WAL file), at the price of one write
    syscall per commit and no fsync on the request path.
    """
    path = sqlite_path(url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # The timeout (busy_timeout) must be in force before switching to WAL, which
    # needs a moment of exclusive access when several processes open a new file.
    conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations; returns the schema version. Safe for concurrent starters."""
    # What migrations 5 and 6 derive ids with: like a migration, what they return never changes.
    conn.create_function("sluicegate_config_tenant_id", 1, config_tenant_id, deterministic=True)
    conn.create_function("sluicegate_legacy_tenant_id", 1, legacy_tenant_id, deterministic=True)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema version {version} is newer than this sluicegate "
                f"({len(MIGRATIONS)}); upgrade sluicegate"
            )
        for i in range(version, len(MIGRATIONS)):
            for statement in MIGRATIONS[i].split(";\n"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(MIGRATIONS)
