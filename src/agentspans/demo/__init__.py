"""``agentspans demo``: a multi-agent app, a local LLM simulator, and the report of its trace."""
