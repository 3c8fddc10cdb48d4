# A modern-only MCP server built on the official Python SDK (`mcp` 2.3.0, pinned in
# tests/python/requirements.txt), over stdio. It speaks only 2026-07-28: a middleware refuses
# `initialize` with -32022 (the SDK's stdio loop would otherwise serve a 2025 handshake too).
# `greet` echoes its argument; `confirm` and `ask_model` need the client's input (elicitation,
# sampling) and ask for it the 2026-07-28 way, through the SDK's resolvers (`Resolve` with
# `Elicit` / `Sample`), which answer an InputRequiredResult and resume when the client retries.
# With `--record FILE` it appends every line it receives to FILE. Run by Manifold as an upstream
# in tests/e2e/python_sdk.rs.
import os
import sys
import threading
from typing import Annotated

import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve, Sample
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel


async def refuse_initialize(ctx, call_next):
    """Vetoes the 2025 handshake before the SDK serves it: this server is 2026-07-28 only."""
    if ctx.method == "initialize":
        requested = (ctx.params or {}).get("protocolVersion")
        raise MCPError(
            code=types.UNSUPPORTED_PROTOCOL_VERSION,
            message="this server speaks only 2026-07-28",
            data={"supported": ["2026-07-28"], "requested": requested},
        )
    return await call_next(ctx)


server = MCPServer(
    "python-modern-only",
    version="2.3.0",
    instructions="A modern-only Python test server.",
    middleware=[refuse_initialize],
)


class Who(BaseModel):
    name: str


def ask_who() -> Elicit[Who]:
    return Elicit("Who is there?", Who)


def ask_the_model(question: str) -> Sample:
    message = types.SamplingMessage(role="user", content=types.TextContent(type="text", text=question))
    return Sample([message], max_tokens=20)


@server.tool(description="Greets someone")
def greet(name: str) -> str:
    return f"hello {name}"


@server.tool(description="Asks who is there (elicitation)")
def confirm(who: Annotated[Who, Resolve(ask_who)]) -> str:
    return f"confirmed by {who.name}"


@server.tool(description="Asks the client's model (sampling)")
def ask_model(question: str, answer: Annotated[types.CreateMessageResult, Resolve(ask_the_model)]) -> str:
    return f"the model said: {answer.content.text}"


def record_stdin(path: str) -> None:
    """Puts a pipe in place of fd 0, fed line by line from the real stdin by a thread that
    appends each line to `path` first; EOF on stdin closes the pipe, so the server ends too."""
    source = os.fdopen(os.dup(0), "rb")
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)

    def pump() -> None:
        with source, os.fdopen(write_end, "wb", buffering=0) as sink, open(path, "ab") as record:
            for line in source:
                record.write(line)
                record.flush()
                sink.write(line)

    threading.Thread(target=pump, daemon=True).start()


if "--record" in sys.argv:
    record_stdin(sys.argv[sys.argv.index("--record") + 1])
server.run("stdio")
