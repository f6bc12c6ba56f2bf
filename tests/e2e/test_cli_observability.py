"""``sluicegate model-card`` and ``sluicegate alerts`` as a user runs them."""

from __future__ import annotations

import json

import openai

from fakes.cli import Cli
from fakes.ledger_load import KEY, echo_config
from fakes.stack import gateway_url
from sluicegate.gateway import GATEWAY


async def test_the_model_card_in_markdown_and_json_and_the_alert_list(start_gateway) -> None:  # type: ignore[no-untyped-def]
    client = await start_gateway(echo_config({}))
    url = gateway_url(client)
    sdk = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
    for _ in range(3):
        await sdk.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "Hi"}]
        )
    cli = Cli(url)
    text = await cli.ok("model-card", "echo")
    assert text.startswith("# Model card: echo") and "| requests | 3 |" in text
    card = json.loads(await cli.ok("model-card", "echo", "--format", "json"))
    assert card["requests"] == 3 and card["served_models"]
    code, _, err = await cli.run("model-card", "nope")
    assert code != 0 and "nope" in err

    alerts = client.app[GATEWAY].alerts
    await alerts.emit_once("k", "drift", "echo: output_tokens went up", alias="echo")
    out = await cli.ok("alerts")
    assert "drift" in out and "echo: output_tokens went up" in out
    listed = json.loads(await cli.ok("alerts", "--type", "budget", "--json"))
    assert listed == {"data": []}
