// The official TypeScript SDK v2 client (`@modelcontextprotocol/client`) in the 2026-07-28 era,
// against Manifold over stdio (argv[2] = "stdio", plan.command/plan.args) or Streamable HTTP
// (argv[2] = the MCP URL). It negotiates with plan.negotiation ("auto", or "pin" for
// { pin: "2026-07-28" }), lists, calls (with progress), reads, gets a prompt, completes, calls
// an unknown tool, and prints one JSON object summarising what it saw. Run by
// tests/e2e/modern/sdk.rs with Node 22.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const target = process.argv[2];
const plan = JSON.parse(process.argv[3] ?? "{}");
const mode = plan.negotiation === "pin" ? { pin: "2026-07-28" } : "auto";
const client = new Client(
  { name: "ts-v2-e2e", version: "2.4.0" },
  { versionNegotiation: { mode } },
);
const transport =
  target === "stdio"
    ? new StdioClientTransport({ command: plan.command, args: plan.args, stderr: "inherit" })
    : new StreamableHTTPClientTransport(new URL(target));
await client.connect(transport);
const out = {
  era: client.getProtocolEra(),
  version: client.getNegotiatedProtocolVersion(),
  server: client.getServerVersion(),
  discover: client.getDiscoverResult() ?? null,
};
out.tools = (await client.listTools()).tools.map((t) => t.name);
const progress = [];
out.call = await client.callTool(
  { name: plan.tool, arguments: plan.arguments },
  { onprogress: (p) => progress.push(p.progress) },
);
out.progress = progress;
if (plan.uri) out.read = await client.readResource({ uri: plan.uri });
if (plan.prompt) {
  out.prompt = await client.getPrompt({ name: plan.prompt, arguments: plan.promptArguments });
}
if (plan.complete) out.complete = await client.complete(plan.complete);
try {
  await client.callTool({ name: "nobody__nothing", arguments: {} });
  out.unknown = null;
} catch (e) {
  out.unknown = { code: e.code ?? null, message: String(e.message) };
}
await client.close();
console.log(JSON.stringify(out));
