// The official TypeScript SDK v2 client (`@modelcontextprotocol/client`) in the 2026-07-28 era,
// declaring sampling and elicitation, against Manifold over stdio (argv[2] = "stdio",
// plan.command/plan.args) or Streamable HTTP (argv[2] = the MCP URL). The SDK fulfils an
// input_required result through the handlers registered here and retries with the
// requestState it was given; this prints, per call in plan.calls, its result (or its error) and
// how many times each handler ran. Run by tests/e2e/modern/mrtr.rs with Node 22.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const target = process.argv[2];
const plan = JSON.parse(process.argv[3] ?? "{}");
const capabilities = plan.capabilities ?? { sampling: {}, elicitation: {} };
const client = new Client(
  { name: "ts-v2-mrtr", version: "2.4.0" },
  { capabilities, versionNegotiation: { mode: { pin: "2026-07-28" } } },
);
const handled = { sampling: 0, elicitation: 0 };
if (capabilities.sampling) {
  client.setRequestHandler("sampling/createMessage", async () => {
    handled.sampling += 1;
    return {
      role: "assistant",
      content: { type: "text", text: "sampled through MRTR" },
      model: "test-model",
    };
  });
}
if (capabilities.elicitation) {
  client.setRequestHandler("elicitation/create", async () => {
    handled.elicitation += 1;
    return { action: "accept", content: { name: "Ada" } };
  });
}
const transport =
  target === "stdio"
    ? new StdioClientTransport({ command: plan.command, args: plan.args, stderr: "inherit" })
    : new StreamableHTTPClientTransport(new URL(target));
await client.connect(transport);
const out = { era: client.getProtocolEra(), calls: {} };
out.tools = (await client.listTools()).tools.map((t) => t.name);
for (const [name, args] of Object.entries(plan.calls ?? {})) {
  try {
    out.calls[name] = { result: await client.callTool({ name, arguments: args }) };
  } catch (e) {
    out.calls[name] = { error: { code: e.code ?? null, message: String(e.message), data: e.data ?? null } };
  }
}
out.handled = handled;
await client.close();
console.log(JSON.stringify(out));
