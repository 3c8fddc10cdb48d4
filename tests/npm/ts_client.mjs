// The official TypeScript SDK client against an MCP endpoint (argv[2]; Streamable HTTP, or
// legacy HTTP+SSE with plan.transport = "sse"): it declares sampling
// (answering every request with "sampled by ts"), lists and calls, reads and gets prompts, and
// prints one JSON object summarising what it saw. Run by tests/ts_client.rs with Node 22.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

const url = new URL(process.argv[2]);
const plan = JSON.parse(process.argv[3] ?? "{}");
// With plan.allCapabilities the client also declares elicitation and roots.
const capabilities = plan.allCapabilities
  ? { sampling: {}, elicitation: {}, roots: { listChanged: true } }
  : { sampling: {} };
const client = new Client({ name: "ts-sdk-e2e", version: "1.0.0" }, { capabilities });
if (plan.allCapabilities) {
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "ts" } }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: "file:///tmp/ts-root", name: "ts-root" }],
  }));
}
client.setRequestHandler(CreateMessageRequestSchema, async () => ({
  role: "assistant",
  content: { type: "text", text: "sampled by ts" },
  model: "test-model",
}));
// plan.transport "sse" selects the legacy HTTP+SSE transport (url is then the /sse endpoint).
const transport = plan.transport === "sse" ? new SSEClientTransport(url) : new StreamableHTTPClientTransport(url);
await client.connect(transport);
const out = { server: client.getServerVersion(), sessionId: transport.sessionId };
out.tools = (await client.listTools()).tools.map((t) => t.name);
out.calls = {};
for (const [name, args] of Object.entries(plan.calls ?? {})) {
  const progress = [];
  const result = await client.callTool({ name, arguments: args }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  out.calls[name] = { result, progress };
}
out.reads = {};
for (const uri of plan.reads ?? []) {
  out.reads[uri] = await client.readResource({ uri });
}
out.prompts = {};
for (const [name, args] of Object.entries(plan.prompts ?? {})) {
  out.prompts[name] = await client.getPrompt({ name, arguments: args });
}
if (transport.terminateSession) await transport.terminateSession();
await client.close();
console.log(JSON.stringify(out));
