"""An OpenAI Agents SDK app written the way the SDK's docs show: a triage agent with a function
tool and handoffs to two specialists, each with tools of its own (sync and async; one async tool
makes an LLM call of its own, one sync tool body is also decorated with ``@agentspans.tool``).

``script(...)`` is what the 127.0.0.1 server answers for each agent, so a run takes the same
path every time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents import Agent, GuardrailFunctionOutput, function_tool, input_guardrail
from openai import AsyncOpenAI
from tests.frameworks.responses_script import MODEL, Call, Say, Step

import agentspans

# Set by the test before a run: the client the async tool makes its own LLM call with.
tool_client: dict[str, AsyncOpenAI] = {}


@function_tool
async def lookup_customer(email: str) -> str:
    """Find the customer id for an email address."""
    await asyncio.sleep(0.01)
    return f"customer 42 ({email})"


@function_tool
@agentspans.tool
def get_invoice(customer_id: str) -> str:
    """The customer's latest invoice."""
    return f"invoice 7 for {customer_id}: 30 USD"


@function_tool
async def get_balance(customer_id: str) -> str:
    """The customer's balance, summarised by a model."""
    client = tool_client["client"]
    reply = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"Summarise {customer_id}'s balance"}]
    )
    return reply.choices[0].message.content or ""


@function_tool
async def issue_refund(invoice: str, amount: float) -> str:
    """Refund an invoice."""
    await asyncio.sleep(0.01)
    return f"refunded {amount} on {invoice}"


@input_guardrail
async def polite(context: Any, agent: Any, question: Any) -> GuardrailFunctionOutput:
    """Trips on rude questions (none here)."""
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="idiot" in str(question))


billing = Agent(
    name="Billing",
    instructions="You are Billing. Answer invoice questions.",
    tools=[get_invoice, get_balance],
    model=MODEL,
)
refunds = Agent(
    name="Refunds",
    instructions="You are Refunds. Issue refunds.",
    tools=[issue_refund],
    model=MODEL,
)
triage = Agent(
    name="Triage",
    instructions="You are Triage. Hand the customer to the right specialist.",
    tools=[lookup_customer],
    handoffs=[billing, refunds],
    input_guardrails=[polite],
    model=MODEL,
)


def script(specialist: str) -> dict[str, list[Step]]:
    """Triage looks the customer up, then hands off to ``specialist`` ("billing"/"refunds")."""
    first: dict[str, list[Step]] = {
        "Triage": [
            (Call("lookup_customer", {"email": "ada@example.com"}),),
            (Call(f"transfer_to_{specialist}"),),
        ],
        "Billing": [
            # Two tools in one response: the SDK runs them concurrently.
            (
                Call("get_invoice", {"customer_id": "42"}),
                Call("get_balance", {"customer_id": "42"}),
            ),
            (Say("Invoice 7 is 30 USD and your balance is clear."),),
        ],
        "Refunds": [
            (Call("issue_refund", {"invoice": "7", "amount": 30.0}),),
            (Say("Your refund of 30 USD is on its way."),),
        ],
    }
    return first


EXPECTED_TOOLS: dict[str, Any] = {
    "billing": {"Triage": ["lookup_customer"], "Billing": ["get_invoice", "get_balance"]},
    "refunds": {"Triage": ["lookup_customer"], "Refunds": ["issue_refund"]},
}
