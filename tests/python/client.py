# The official MCP Python SDK client (`mcp` 2.3.0, pinned in tests/python/requirements.txt)
# against Manifold over stdio (argv[1] = "stdio", plan.command/plan.args) or Streamable HTTP
# (argv[1] = the MCP URL), with `Client(mode=plan.mode)`: "2026-07-28" (adopted without a probe)
# or "auto" (server/discover, else initialize). Its sampling and elicitation callbacks (those in
# plan.callbacks) answer input requests, counted. It lists tools, prompts, resources and
# templates, runs plan.calls in order (each result or JSON-RPC error), the first round alone of
# plan.firstRounds (an input_required result, as sent), a call with a progress callback
# (plan.progress, waiting up to 2 s for plan.progress.expect notifications), reads (plan.reads),
# gets prompts (plan.prompts), completes (plan.complete), calls an unknown tool, listens
# (plan.listen: resource updates after a triggering call), and, with a second client declaring
# no capability, makes plan.bareCalls. Prints one JSON summary. Run by tests/e2e/python_sdk.rs.
import json
import sys

import anyio
import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError

target = sys.argv[1]
plan = json.loads(sys.argv[2])
handled = {"sampling": 0, "elicitation": 0}


def dump(model):
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def error_of(e: MCPError):
    return {"code": e.code, "message": e.error.message, "data": e.error.data}


async def sampling(_ctx, params: types.CreateMessageRequestParams):
    handled["sampling"] += 1
    asked = params.messages[0].content
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text=f"python sampled: {getattr(asked, 'text', '')}"),
        model="python-model",
    )


async def elicitation(_ctx, _params):
    handled["elicitation"] += 1
    return types.ElicitResult(action="accept", content={"name": "Grace"})


def server():
    if target == "stdio":
        return StdioServerParameters(command=plan["command"], args=plan["args"])
    return target


def client(callbacks):
    return Client(
        server(),
        mode=plan["mode"],
        client_info=types.Implementation(name="python-sdk-e2e", version="2.3.0"),
        sampling_callback=sampling if "sampling" in callbacks else None,
        elicitation_callback=elicitation if "elicitation" in callbacks else None,
        # Every request reaches Manifold: no answer is served from the SDK's response cache.
        cache=None,
        read_timeout_seconds=30,
    )


async def calls(c: Client, planned):
    out = {}
    for call in planned:
        try:
            out[call["name"]] = {"result": dump(await c.call_tool(call["name"], call["arguments"]))}
        except MCPError as e:
            out[call["name"]] = {"error": error_of(e)}
    return out


async def listen(c: Client, spec):
    events = []
    async with c.listen(resource_subscriptions=spec["uris"]) as sub:
        honored = dump(sub.honored)
        trigger = spec["trigger"]
        await c.call_tool(trigger["name"], trigger["arguments"])
        with anyio.fail_after(10):
            async for event in sub:
                events.append(event.uri)
                break
        # The trigger toggles: called again, it stops the upstream's updates.
        await c.call_tool(trigger["name"], trigger["arguments"])
    return {"honored": honored, "events": events}


async def main():
    out = {}
    async with client(plan.get("callbacks", ["sampling", "elicitation"])) as c:
        session = c.session
        out["version"] = c.protocol_version
        # Whether the 2025 handshake ran, and the discover result the session adopted (under
        # mode="2026-07-28" the SDK's own stand-in, never asked of the server).
        out["initialized"] = session.initialize_result is not None
        discovered = session.discover_result
        out["supportedVersions"] = discovered.supported_versions if discovered else None
        out["server"] = dump(c.server_info) if c.server_info else None
        out["tools"] = [t.name for t in (await c.list_tools()).tools]
        out["prompts"] = [p.name for p in (await c.list_prompts()).prompts]
        out["resources"] = [r.uri for r in (await c.list_resources()).resources]
        out["templates"] = [t.uri_template for t in (await c.list_resource_templates()).resource_templates]
        out["calls"] = await calls(c, plan.get("calls", []))
        # The first round of each call as the wire has it, an input_required result left
        # unanswered (the SDK's Client would answer it and retry).
        out["firstRounds"] = {
            call["name"]: dump(await session.call_tool(call["name"], call["arguments"], allow_input_required=True))
            for call in plan.get("firstRounds", [])
        }
        if progress := plan.get("progress"):
            seen = []

            async def on_progress(value, total, _message):
                seen.append([value, total])

            result = await c.call_tool(progress["name"], progress["arguments"], progress_callback=on_progress)
            # The SDK runs each progress callback in a task of its own, spawned as the
            # notification is read: the last may still be pending when the result is returned.
            with anyio.move_on_after(2):
                while len(seen) < progress["expect"]:
                    await anyio.sleep(0.01)
            out["progress"] = {"result": dump(result), "seen": seen}
        out["reads"] = {uri: dump(await c.read_resource(uri)) for uri in plan.get("reads", [])}
        out["prompted"] = {
            name: dump(await c.get_prompt(name, arguments)) for name, arguments in plan.get("prompts", {}).items()
        }
        if complete := plan.get("complete"):
            ref = types.PromptReference(type="ref/prompt", name=complete["prompt"])
            result = await c.complete(ref, complete["argument"], complete.get("context"))
            out["complete"] = dump(result)
        try:
            await c.call_tool("nobody__nothing", {})
            out["unknown"] = None
        except MCPError as e:
            out["unknown"] = error_of(e)
        if spec := plan.get("listen"):
            out["listen"] = await listen(c, spec)
    if bare := plan.get("bareCalls"):
        async with client([]) as c:
            out["bare"] = await calls(c, bare)
    out["handled"] = handled
    print(json.dumps(out))


anyio.run(main)
