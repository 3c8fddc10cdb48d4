// A modern-only MCP server built on the official TypeScript SDK v2 (`@modelcontextprotocol/server`),
// with `legacy: "reject"`, so a 2025-era opening (`initialize`) is refused and only 2026-07-28 is
// spoken: over stdio by `serveStdio`, or with `--http` over Streamable HTTP by `createMcpHandler`
// on 127.0.0.1 (it prints `listening on <url>`). `greet` echoes its argument; `forecast` has an
// `x-mcp-header` argument (the SDK refuses an HTTP call without its `Mcp-Param-Region` header
// with -32020); `confirm` and `ask_model` need the client's input (elicitation, sampling) and ask for it the 2026-07-28 way,
// with an input_required result (MRTR). With `--record FILE` it appends every line it receives
// to FILE (over HTTP, each body after a `HEADERS {…}` line of its request's headers). Run by
// Manifold as an upstream in tests/e2e/modern/upstreams.rs.
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";
import { McpServer, acceptedContent, createMcpHandler, inputRequired } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { z } from "zod";

const at = process.argv.indexOf("--record");
const record = at > 0 ? process.argv[at + 1] : null;
const http = process.argv.includes("--http");
if (record && !http) {
  process.stdin.on("data", (chunk) => appendFileSync(record, chunk));
}
const factory = () => {
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
      "forecast",
      {
        description: "Names its region, which HTTP clients mirror in Mcp-Param-Region",
        inputSchema: z.object({ region: z.string().meta({ "x-mcp-header": "Region" }) }),
      },
      async ({ region }) => ({ content: [{ type: "text", text: `sunny in ${region}` }] }),
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
};

if (http) {
  const handler = createMcpHandler(factory, { legacy: "reject" });
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    if (record) {
      appendFileSync(record, `HEADERS ${JSON.stringify({ ":method": req.method, ...req.headers })}\n`);
      if (body.length) appendFileSync(record, `${body.toString()}\n`);
    }
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: req.headers,
      body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
      signal: abort.signal,
    });
    const response = await handler.fetch(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (!response.body) return res.end();
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        res.write(value);
      }
    } catch {
      // The client went away.
    }
    res.end();
  });
  server.listen(0, "127.0.0.1", () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}/mcp`);
  });
} else {
  serveStdio(factory, { legacy: "reject" });
}
