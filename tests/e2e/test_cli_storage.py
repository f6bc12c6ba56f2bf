"""``sluicegate migrate``, a gateway refusing an unmigrated PostgreSQL, and the usage,
export and forecast commands as a user runs them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import yaml

from fakes.ledger_load import ADMIN_KEY, KEY, Received, ask, echo_config
from fakes.stack import gateway_url
from sluicegate.state.postgres.migrations import LATEST

SLUICEGATE = [sys.executable, "-m", "sluicegate.cli"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SLUICEGATE, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60)


async def arun(*args: str) -> tuple[int, str, str]:
    """The CLI in a child process, without blocking the loop an in-process gateway runs on."""
    proc = await asyncio.create_subprocess_exec(
        *SLUICEGATE, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_migrate_a_postgresql_database_once(empty_postgres_url: str) -> None:
    first = run("migrate", "--url", empty_postgres_url)
    assert first.returncode == 0, first.stderr
    assert f"schema migrated from version 0 to {LATEST}" in first.stdout
    again = run("migrate", "--url", empty_postgres_url)
    assert again.returncode == 0 and f"schema already at version {LATEST}" in again.stdout


def test_migrate_from_a_config_file_and_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(echo_config({"url": f"sqlite:///{tmp_path}/gw.db"})))
    done = run("migrate", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert "schema migrated from version 0 to" in done.stdout


def test_serve_refuses_an_unmigrated_postgresql_and_names_the_fix(
    empty_postgres_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(yaml.safe_dump(echo_config({"url": empty_postgres_url})))
    refused = run("serve", "--config", str(path), cwd=tmp_path)
    assert refused.returncode == 1
    assert "not migrated" in refused.stderr and "sluicegate migrate" in refused.stderr
    assert "ready on" not in refused.stdout


async def test_usage_tables_exports_and_forecast(start_gateway) -> None:  # type: ignore[no-untyped-def]
    client = await start_gateway(echo_config({}))
    url = gateway_url(client)
    got = Received()
    async with aiohttp.ClientSession() as http:
        for n in range(1, 5):
            await ask(http, url, n, got, key=KEY)
    assert len(got.complete) == 4
    admin = ["--url", url, "--admin-key", ADMIN_KEY]

    code, table, err = await arun("usage", *admin, "--group-by", "key")
    assert code == 0, err
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["key", "requests", "input_tokens"]
    assert lines[2].split()[:2] == ["ci", "4"] and lines[-1].split()[:2] == ["(total)", "4"]
    unpriced = lines[0].split().index("unpriced_requests")
    assert lines[-1].split()[unpriced] == "0", "the echo alias is priced"

    code, out, err = await arun("usage", *admin, "--group-by", "day", "--format", "csv")
    assert code == 0, err
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["requests"] == "4" and int(row["input_tokens"]) == got.input_tokens

    code, out, err = await arun("usage", *admin, "--format", "json", "--forecast")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["totals"]["output_tokens"] == got.output_tokens
    assert [f["tenant"] for f in answer["forecast"]] == ["acme"]

    code, out, err = await arun("forecast", *admin)
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header[:4] == ["tenant", "month", "spent_usd", "forecast_usd"]
    assert out.splitlines()[2].split()[0] == "acme"
