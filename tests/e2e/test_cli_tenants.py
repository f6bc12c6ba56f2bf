"""``sluicegate tenant-limits`` as a user runs it, against a running gateway."""

from __future__ import annotations

import pytest

from fakes.cli import Cli
from fakes.ledger_load import echo_config
from fakes.stack import gateway_url


@pytest.fixture
async def cli(start_gateway) -> Cli:  # type: ignore[no-untyped-def]
    client = await start_gateway(echo_config({}))
    cli = Cli(gateway_url(client))
    await cli.ok("tenant-create", "team")
    return cli


def changes(out: str) -> list[str]:
    """The "before -> after" lines the command prints above its table."""
    return [line for line in out.splitlines() if " -> " in line]


async def test_a_limit_not_given_is_kept(cli: Cli) -> None:
    out = await cli.ok("tenant-limits", "team", "--budget-usd", "5", "--budget-period", "day")
    assert changes(out) == ["team: budget_usd - -> 5", "team: budget_period month -> day"]

    out = await cli.ok("tenant-limits", "team", "--rpm", "4")
    assert changes(out) == ["team: rpm - -> 4"]
    limits = await cli.limits("team")
    assert (limits["rpm"], limits["budget_usd"], limits["budget_period"]) == (4, 5.0, "day")


async def test_clear_makes_one_limit_unlimited_again(cli: Cli) -> None:
    await cli.ok("tenant-limits", "team", "--rpm", "4", "--budget-usd", "5", "--shadow")
    out = await cli.ok("tenant-limits", "team", "--clear", "budget-usd", "--no-shadow")
    assert changes(out) == ["team: budget_usd 5 -> -", "team: shadow True -> False"]
    limits = await cli.limits("team")
    assert (limits["rpm"], limits["budget_usd"], limits["shadow"]) == (4, None, False)


async def test_a_keys_and_an_aliass_limits_merge_the_same_way(cli: Cli) -> None:
    await cli.ok("tenant-limits", "team", "--rpm", "100")
    out = await cli.ok("tenant-limits", "team", "--key", "ci", "--budget-usd", "1")
    assert changes(out) == ["team/ci: budget_usd - -> 1"]
    out = await cli.ok("tenant-limits", "team", "--key", "ci", "--rpm", "3", "--priority",
                       "batch")
    assert changes(out) == ["team/ci: rpm - -> 3", "team/ci: priority - -> batch"]
    out = await cli.ok("tenant-limits", "team", "--model", "echo", "--tpm", "900")
    assert changes(out) == ["team|echo: tpm - -> 900"]

    limits = await cli.limits("team")
    assert limits["rpm"] == 100, "the tenant's own limits stay"
    key = limits["keys"]["ci"]
    assert (key["rpm"], key["budget_usd"], key["priority"]) == (3, 1.0, "batch")
    assert limits["models"]["echo"]["tpm"] == 900

    out = await cli.ok("tenant-limits", "team", "--key", "ci", "--clear", "rpm", "--clear",
                       "budget_usd", "--clear", "priority")
    assert len(changes(out)) == 3
    assert "ci" not in (await cli.limits("team"))["keys"], "an entry left at defaults goes"


async def test_nothing_given_shows_the_limits_and_changes_nothing(cli: Cli) -> None:
    await cli.ok("tenant-limits", "team", "--tpm", "1000")
    out = await cli.ok("tenant-limits", "team")
    assert changes(out) == []
    header, _, row = out.splitlines()
    assert header.split()[:3] == ["name", "rpm", "tpm"] and row.split()[:3] == ["team", "-", "1000"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--rpm", "3", "--clear", "rpm"], "--rpm and --clear rpm contradict each other"),
        (["--key", "ci", "--weight", "2"], "--weight applies to the whole tenant"),
        (["--model", "echo", "--shadow"], "--shadow applies to the whole tenant"),
        (["--model", "echo", "--priority", "batch"], "--priority applies to the tenant or one"),
        (["--clear", "priority"], "only a key's priority can be cleared"),
    ],
)
async def test_options_that_contradict_each_other_change_nothing(
    cli: Cli, args: list[str], says: str
) -> None:
    before = await cli.limits("team")
    code, _, err = await cli.run("tenant-limits", "team", *args)
    assert code == 2 and says in err
    assert await cli.limits("team") == before
