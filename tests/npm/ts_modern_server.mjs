// A modern-only MCP server built on the official TypeScript SDK v2 (`@modelcontextprotocol/server`):
// served over stdio by `serveStdio` with `legacy: "reject"`, so a 2025-era opening (`initialize`)
// is refused with -32022 and only 2026-07-28 is spoken. `greet` echoes its argument; `confirm`
// and `ask_model` need the client's input (elicitation, sampling) and ask for it the 2026-07-28
// way, with an input_required result (MRTR). With `--record FILE` it appends every line it
// receives to FILE. Run by Manifold as an upstream in tests/e2e/modern/upstreams.rs.
import { appendFileSync } from "node:fs";
import { McpServer, acceptedContent, inputRequired } from "@modelcontextprotocol/server";
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
    server.registerTool(
      "confirm",
      { description: "Asks who is there (elicitation)", inputSchema: z.object({}) },
      async (_args, ctx) => {
        const who = acceptedContent(ctx.mcpReq.inputResponses, "who");
        if (!who) {
          return inputRequired({
            inputRequests: {
              who: inputRequired.elicit({
                message: "Who is there?",
                requestedSchema: {
                  type: "object",
                  properties: { name: { type: "string" } },
                  required: ["name"],
                },
              }),
            },
          });
        }
        return { content: [{ type: "text", text: `confirmed by ${who.name}` }] };
      },
    );
    server.registerTool(
      "ask_model",
      { description: "Asks the client's model (sampling)", inputSchema: z.object({ question: z.string() }) },
      async ({ question }, ctx) => {
        const answer = ctx.mcpReq.inputResponses?.answer;
        if (!answer) {
          return inputRequired({
            inputRequests: {
              answer: inputRequired.createMessage({
                messages: [{ role: "user", content: { type: "text", text: question } }],
                maxTokens: 20,
              }),
            },
          });
        }
        return { content: [{ type: "text", text: `the model said: ${answer.content?.text}` }] };
      },
    );
    server.registerTool(
      "add_tool",
      { description: "Adds the tool `extra` (a list change)", inputSchema: z.object({}) },
      async () => {
        server.registerTool(
          "extra",
          { description: "Added at run time", inputSchema: z.object({}) },
          async () => ({ content: [{ type: "text", text: "extra" }] }),
        );
        return { content: [{ type: "text", text: "added" }] };
      },
    );
    return server;
  },
  { legacy: "reject" },
);
