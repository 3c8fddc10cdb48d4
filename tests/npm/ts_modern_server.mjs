// A modern-only MCP server built on the official TypeScript SDK v2 (`@modelcontextprotocol/server`):
// served over stdio by `serveStdio` with `legacy: "reject"`, so a 2025-era opening (`initialize`)
// is refused with -32022 and only 2026-07-28 is spoken; a `greet` tool echoes its argument. With `--record FILE` it appends every line it
// receives to FILE. Run by Manifold as an upstream in tests/e2e/modern/upstreams.rs.
import { appendFileSync } from "node:fs";
import { McpServer } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { z } from "zod";

const at = process.argv.indexOf("--record");
if (at > 0) {
  const record = process.argv[at + 1];
  process.stdin.on("data", (chunk) => appendFileSync(record, chunk));
}
serveStdio(
  () => {
    const server = new McpServer(
      { name: "ts-v2-modern-only", version: "2.4.0" },
      { capabilities: { tools: {} }, instructions: "A modern-only test server." },
    );
    server.registerTool(
      "greet",
      { description: "Greets someone", inputSchema: z.object({ name: z.string() }) },
      async ({ name }) => ({ content: [{ type: "text", text: `hello ${name}` }] }),
    );
    return server;
  },
  { legacy: "reject" },
);
