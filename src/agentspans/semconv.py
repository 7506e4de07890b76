"""Every attribute, event and span name agentspans writes, in one place.

Standard names come from the OpenTelemetry GenAI semantic conventions; what the conventions do
not name lives under ``agentspans.``. ``docs/attributes.md`` documents each of them; a test keeps
that table and this module in step.
"""

from __future__ import annotations

from typing import Final

# --- OpenTelemetry GenAI semantic conventions --------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
# The id of the tool call a tool span executes (set by framework integrations, which know it).
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"

GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"

GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"

GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"

GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"

ERROR_TYPE: Final = "error.type"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"

# gen_ai.operation.name values
OP_CHAT: Final = "chat"
OP_TEXT_COMPLETION: Final = "text_completion"
OP_EMBEDDINGS: Final = "embeddings"
OP_EXECUTE_TOOL: Final = "execute_tool"
OP_INVOKE_AGENT: Final = "invoke_agent"
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"
LLM_OPERATIONS: Final = frozenset({OP_CHAT, OP_TEXT_COMPLETION, OP_EMBEDDINGS, "generate_content"})

# --- agentspans.* : fixed by the contract in ARCHITECTURE.md ------------------------------------
REQUEST_FINGERPRINT: Final = "agentspans.request.fingerprint"
COST_USD: Final = "agentspans.cost.usd"

# --- agentspans.* : documented in docs/attributes.md --------------------------------------------
# Delegation patched by import path: what the coordinator asked the agent to do.
DELEGATE_ACTION: Final = "agentspans.delegate.action"
# Agent frameworks (docs/frameworks.md): the agents a graph node routed work to (LangGraph
# Command goto, conditional edges, Send); the node it routed to gets HANDOFF_FROM_AGENT.
ROUTE_TARGETS: Final = "agentspans.route.targets"
# The framework's own step number of a graph node's run (LangGraph's superstep).
FRAMEWORK_STEP: Final = "agentspans.framework.step"
# Where the instrumented callable lives (module.qualname) for decorated and patched functions.
CODE_FUNCTION: Final = "code.function.name"

# LLM call details the conventions do not name.
USAGE_ESTIMATED: Final = "agentspans.usage.estimated"
OUTPUT_TOKENS_PER_SECOND: Final = "agentspans.response.output_tokens_per_second"
STREAM_OUTCOME: Final = "agentspans.stream.outcome"
REQUEST_CONTEXT_WINDOW: Final = "agentspans.request.context_window"
COST_ESTIMATED: Final = "agentspans.cost.estimated"
PRICE_SOURCE: Final = "agentspans.cost.price_source"
# Dependency evidence, without content (wrappers/_evidence.py): the tool calls a response asked
# for, the tool results a request carries back (both by tool-call id), the request's messages.
RESPONSE_TOOL_CALL_IDS: Final = "agentspans.response.tool_call_ids"
REQUEST_TOOL_RESULT_IDS: Final = "agentspans.request.tool_result_ids"
REQUEST_MESSAGE_COUNT: Final = "agentspans.request.message_count"

# Resource usage while the span was open (from the background sampler's timeline).
CPU_TIME_S: Final = "agentspans.process.cpu.time_s"
CPU_UTILIZATION: Final = "agentspans.process.cpu.utilization"
MEMORY_RSS_PEAK_BYTES: Final = "agentspans.process.memory.rss_peak_bytes"
MEMORY_RSS_DELTA_BYTES: Final = "agentspans.process.memory.rss_delta_bytes"
VRAM_PEAK_BYTES: Final = "agentspans.gpu.memory.peak_bytes"
VRAM_TOTAL_BYTES: Final = "agentspans.gpu.memory.total_bytes"
VRAM_UTILIZATION_PEAK: Final = "agentspans.gpu.memory.peak_utilization"
VRAM_PROCESS_PEAK_BYTES: Final = "agentspans.gpu.memory.process_peak_bytes"
GPU_DEVICE: Final = "agentspans.gpu.device"

# Rollups onto agent and root spans: the subtree's totals.
ROLLUP_INPUT_TOKENS: Final = "agentspans.rollup.input_tokens"
ROLLUP_OUTPUT_TOKENS: Final = "agentspans.rollup.output_tokens"
ROLLUP_COST_USD: Final = "agentspans.rollup.cost_usd"
ROLLUP_LLM_CALLS: Final = "agentspans.rollup.llm_calls"
ROLLUP_TOOL_CALLS: Final = "agentspans.rollup.tool_calls"

# Analysis written by the trace processor.
CRITICAL_PATH_SELF_MS: Final = "agentspans.critical_path.self_ms"
CRITICAL_PATH_ON_PATH: Final = "agentspans.critical_path.on_path"
CRITICAL_PATH_COMPOSITION: Final = "agentspans.critical_path.composition"
# The path in order, one readable string per stretch, and the whole answer in one line.
CRITICAL_PATH_STEPS: Final = "agentspans.critical_path.steps"
SUMMARY: Final = "agentspans.summary"
TRACE_DURATION_MS: Final = "agentspans.trace.duration_ms"
COORDINATION_OVERHEAD_MS: Final = "agentspans.coordination_overhead_ms"
COORDINATION_OVERHEAD_SHARE: Final = "agentspans.coordination_overhead_share"
TRACE_TOTAL_INPUT_TOKENS: Final = "agentspans.trace.input_tokens"
TRACE_TOTAL_OUTPUT_TOKENS: Final = "agentspans.trace.output_tokens"
TRACE_TOTAL_COST_USD: Final = "agentspans.trace.cost_usd"
TRACE_TOTAL_LLM_CALLS: Final = "agentspans.trace.llm_calls"
TRACE_TOTAL_TOOL_CALLS: Final = "agentspans.trace.tool_calls"
TRACE_FINDINGS_COUNT: Final = "agentspans.findings.count"
TRACE_FINDING_KINDS: Final = "agentspans.findings.kinds"
TRACE_ESTIMATED_SAVINGS_MS: Final = "agentspans.findings.estimated_savings_ms"
FINDING_KIND: Final = "agentspans.finding.kind"

# The event each finding adds to the span it concerns.
FINDING_EVENT: Final = "agentspans.finding"
FINDING_EVENT_KIND: Final = "agentspans.finding.kind"
FINDING_EVENT_SEVERITY: Final = "agentspans.finding.severity"
FINDING_EVENT_SAVINGS_MS: Final = "agentspans.finding.estimated_savings_ms"
FINDING_EVENT_MESSAGE: Final = "agentspans.finding.message"
FINDING_EVENT_SPAN_IDS: Final = "agentspans.finding.span_ids"
# How many spans the finding concerns (the id list above stops at 32).
FINDING_EVENT_SPAN_COUNT: Final = "agentspans.finding.span_count"
# On the root's copy of a finding that concerns other spans (counters skip it).
FINDING_EVENT_ROOT_COPY: Final = "agentspans.finding.root_copy"
# What a parallelizable_sequence rests on: "tool_call_ids" or "structure".
FINDING_EVENT_EVIDENCE: Final = "agentspans.finding.evidence"

# Instrumentation scope of every span agentspans starts itself.
INSTRUMENTATION_SCOPE: Final = "agentspans"

# --- cost, context window, resources and metrics (docs/cost.md) --------------------------------
# No cost: True when the model has no price (a warning names it once); never a guessed number.
COST_UNKNOWN: Final = "agentspans.cost.unknown"
# The price table entry that matched the span's model (e.g. "gpt-4o" for "gpt-4o-2024-08-06").
PRICE_MODEL: Final = "agentspans.cost.price_model"
# Input tokens as a share of the model's context window (0.9 = the prompt filled 90 %).
CONTEXT_WINDOW_SHARE: Final = "agentspans.request.context_window_share"
# VRAM over the span's window, beyond the peaks above (from the sampler's NVML timeline).
VRAM_DELTA_BYTES: Final = "agentspans.gpu.memory.delta_bytes"
VRAM_PROCESS_DELTA_BYTES: Final = "agentspans.gpu.memory.process_delta_bytes"
VRAM_PEAK_BYTES_PER_DEVICE: Final = "agentspans.gpu.memory.peak_bytes_per_device"
GPU_UTILIZATION_PEAK: Final = "agentspans.gpu.utilization.peak"
GPU_UTILIZATION_MEAN: Final = "agentspans.gpu.utilization.mean"
# PyTorch's CUDA caching allocator, when the app imported torch and initialised CUDA.
TORCH_ALLOCATED_PEAK_BYTES: Final = "agentspans.gpu.torch.allocated_peak_bytes"
TORCH_ALLOCATED_DELTA_BYTES: Final = "agentspans.gpu.torch.allocated_delta_bytes"
# Resource attribute: why spans carry no VRAM attributes ("nvidia-ml-py not installed", ...).
GPU_UNAVAILABLE_REASON: Final = "agentspans.gpu.unavailable_reason"

# Metric instruments (names and units fixed in docs/cost.md; dashboards rely on them).
METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
METRIC_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
METRIC_COST: Final = "agentspans.cost.usd"
METRIC_FINDINGS: Final = "agentspans.findings"
METRIC_GPU_MEMORY_USAGE: Final = "hw.gpu.memory.usage"
METRIC_GPU_MEMORY_LIMIT: Final = "hw.gpu.memory.limit"
METRIC_GPU_UTILIZATION: Final = "hw.gpu.utilization"
# Spans the trace processor exported without analysis / dropped, by reason (processors/pipeline).
METRIC_SPANS_UNANALYSED: Final = "agentspans.spans.unanalysed"
METRIC_SPANS_DROPPED: Final = "agentspans.spans.dropped"
OVERFLOW_REASON: Final = "agentspans.overflow.reason"
# Metric attributes from the GenAI and hardware conventions.
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
TOKEN_TYPE_INPUT: Final = "input"
TOKEN_TYPE_OUTPUT: Final = "output"
HW_ID: Final = "hw.id"
HW_NAME: Final = "hw.name"
HW_VENDOR: Final = "hw.vendor"

# Read, never written: names other instrumentations use (OpenLLMetry, older GenAI conventions),
# so their spans get cost and metrics too.
GEN_AI_SYSTEM: Final = "gen_ai.system"
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
OPENLLMETRY_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read_input_tokens"
OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation_input_tokens"
OPENLLMETRY_REQUEST_TYPE: Final = "llm.request.type"
OPENLLMETRY_LLM_REQUEST_TYPES: Final = frozenset({"chat", "completion", "embedding"})

# --- agentspans.* : analysis results added by the analysis core (issue 4/7) ---------------------
# The subtree's highest GPU memory peak, on agent spans and the root.
ROLLUP_VRAM_PEAK_BYTES: Final = "agentspans.rollup.gpu.memory.peak_bytes"
# How many of the subtree's LLM calls carried a cost (the rolled-up cost covers only those).
ROLLUP_PRICED_CALLS: Final = "agentspans.rollup.priced_calls"
# On the root: one line per problem the analysis met in the input (orphans, clock skew, ...).
ANALYSIS_PROBLEMS: Final = "agentspans.analysis.problems"

# --- agent frameworks (wrappers/openai_agents.py, mcp.py; docs/frameworks.md) -------------------
# GenAI conventions (semantic-conventions-genai v0.1.0): the conversation (thread, session, the
# Agents SDK's trace group id) a run belongs to, and the id of the model's tool call.
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
# A handoff from one agent to another (the conventions have no handoff span).
HANDOFF_FROM_AGENT: Final = "agentspans.handoff.from_agent"
HANDOFF_TO_AGENT: Final = "agentspans.handoff.to_agent"
# A guardrail run by the framework (the Agents SDK's input/output guardrails).
GUARDRAIL_NAME: Final = "agentspans.guardrail.name"
GUARDRAIL_TRIGGERED: Final = "agentspans.guardrail.triggered"
# MCP conventions (the GenAI conventions' MCP page) on MCP tool calls.
MCP_METHOD_NAME: Final = "mcp.method.name"
MCP_PROTOCOL_VERSION: Final = "mcp.protocol.version"
RPC_RESPONSE_STATUS_CODE: Final = "rpc.response.status_code"
# error.type of an MCP tool call whose result says isError (the MCP page's value).
MCP_TOOL_ERROR: Final = "tool_error"
# Duration histograms of finished agent / workflow and tool spans (GenAI conventions).
METRIC_INVOKE_AGENT_DURATION: Final = "gen_ai.invoke_agent.duration"
METRIC_EXECUTE_TOOL_DURATION: Final = "gen_ai.execute_tool.duration"

# --- LLM client wrappers (wrappers/openai.py, anthropic.py, litellm.py) --------------------------
# Requested embedding size (GenAI conventions).
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
# HTTP status of a failed provider call (HTTP conventions), beside error.type.
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
