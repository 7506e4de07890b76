"""A real MCP server over stdio with two tools, one of which fails (run as a script).

mcp 2.x renamed FastMCP to MCPServer; the tools are the same on both.
"""

from __future__ import annotations

import logging

try:
    from mcp.server.mcpserver import MCPServer as Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server  # type: ignore[no-redef]

server = Server("calculator")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@server.tool()
def divide(a: int, b: int) -> float:
    """Divide a by b."""
    return a / b


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)  # the failing tool is on purpose: no traceback on stderr
    server.run()
