// The MCP adapter over the real SDK: servers and clients talk through in-memory transports, and
// a scripted client makes the calls an agent would. Tool handlers record what reached them.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

import { Engine } from 'portcullis';
import { DECISION_META_KEY, createProxyServer, guardCallToolHandler, guardMcpServer } from 'portcullis/mcp';

const policy = {
  portcullis: 1,
  name: 'mcp-test',
  default: 'deny',
  rules: [
    { id: 'fetch', effect: 'allow', match: { tool: ['fetch'] }, when: { field: 'params.url', host_in: ['*.example.com'] } },
    { id: 'shell', effect: 'deny', match: { tool: ['shell'] }, reason: 'no shell access' },
    { id: 'list', effect: 'allow', match: { tool: ['list_files'] }, modify: { set: { 'params.dir': '/srv/sandbox' } } },
    { id: 'list-agent', effect: 'deny', match: { tool: ['list_files'], agent: ['guest-*'] }, reason: 'guests cannot list files' },
  ],
};

async function connect(server, name = 'agent') {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name, version: '1.0.0' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return client;
}

/** The real server behind the proxy: three tools that record their arguments. */
function upstreamServer(calls) {
  const server = new McpServer({ name: 'upstream', version: '1.0.0' });
  const text = (value) => ({ content: [{ type: 'text', text: value }] });
  server.registerTool('fetch', { inputSchema: { url: z.string() } }, async (args) => (calls.push(['fetch', args]), text(`fetched ${args.url}`)));
  server.registerTool('shell', { inputSchema: { cmd: z.string() } }, async (args) => (calls.push(['shell', args]), text('ran')));
  server.registerTool('list_files', { inputSchema: { dir: z.string() } }, async (args) => (calls.push(['list_files', args]), text(`listed ${args.dir}`)));
  return server;
}

const textOf = (result) => result.content.map((part) => part.text).join('');

describe('createProxyServer', () => {
  async function setup(agentId = 'agent-1') {
    const calls = [];
    const engine = Engine.fromPolicy(policy);
    const upstream = await connect(upstreamServer(calls), 'proxy');
    const proxy = createProxyServer(engine, upstream, { agentId });
    const agent = await connect(proxy);
    return { calls, agent };
  }

  test('lists the upstream tools', async () => {
    const { agent } = await setup();
    const { tools } = await agent.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['fetch', 'list_files', 'shell']);
  });

  test('a denied call never reaches the upstream tool; the agent gets an error result with the reason', async () => {
    const { calls, agent } = await setup();
    const result = await agent.callTool({ name: 'shell', arguments: { cmd: 'rm -rf /' } });
    assert.equal(result.isError, true);
    assert.equal(textOf(result), 'Denied by policy: no shell access');
    assert.equal(result._meta[DECISION_META_KEY].rule, 'shell');
    const userinfo = await agent.callTool({ name: 'fetch', arguments: { url: 'https://api.example.com@evil.com/' } });
    assert.equal(userinfo.isError, true);
    assert.deepEqual(calls, []);
  });

  test('an allowed call is forwarded as sent', async () => {
    const { calls, agent } = await setup();
    const result = await agent.callTool({ name: 'fetch', arguments: { url: 'https://api.example.com/x' } });
    assert.equal(result.isError, undefined);
    assert.equal(textOf(result), 'fetched https://api.example.com/x');
    assert.deepEqual(calls, [['fetch', { url: 'https://api.example.com/x' }]]);
  });

  test('a modified call reaches the upstream tool with the rewritten arguments', async () => {
    const { calls, agent } = await setup();
    const result = await agent.callTool({ name: 'list_files', arguments: { dir: '/' } });
    assert.equal(textOf(result), 'listed /srv/sandbox');
    assert.deepEqual(calls, [['list_files', { dir: '/srv/sandbox' }]]);
  });

  test('the agent id can come from the request', async () => {
    const { calls, agent } = await setup((request) => request.params._meta?.agent ?? 'guest-unknown');
    const refused = await agent.callTool({ name: 'list_files', arguments: { dir: '/' } });
    assert.equal(textOf(refused), 'Denied by policy: guests cannot list files');
    const allowed = await agent.callTool({ name: 'list_files', arguments: { dir: '/' }, _meta: { agent: 'agent-7' } });
    assert.equal(textOf(allowed), 'listed /srv/sandbox');
    assert.deepEqual(calls, [['list_files', { dir: '/srv/sandbox' }]]);
  });
});

describe('guardCallToolHandler', () => {
  test('wraps a low-level server handler: refused calls return errors, allowed ones run', async () => {
    const engine = Engine.fromPolicy(policy);
    const calls = [];
    const server = new Server({ name: 'low-level', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [] }));
    server.setRequestHandler(
      CallToolRequestSchema,
      guardCallToolHandler(engine, { agentId: 'agent-1', context: (_request, extra) => ({ session: extra.sessionId ?? null }) }, async (request) => {
        calls.push([request.params.name, request.params.arguments]);
        return { content: [{ type: 'text', text: 'ok' }] };
      }),
    );
    const agent = await connect(server);
    const script = [
      ['shell', { cmd: 'ls' }],
      ['list_files', { dir: '/etc' }],
      ['unknown_tool', {}],
      ['fetch', { url: 'https://docs.example.com/' }],
    ];
    const results = [];
    for (const [name, args] of script) results.push(await agent.callTool({ name, arguments: args }));
    assert.deepEqual(results.map((result) => result.isError === true), [true, false, true, false]);
    assert.deepEqual(calls, [
      ['list_files', { dir: '/srv/sandbox' }],
      ['fetch', { url: 'https://docs.example.com/' }],
    ]);
  });
});

describe('guardMcpServer', () => {
  const text = (value) => ({ content: [{ type: 'text', text: value }] });

  test('guards tools registered before and after, keeping McpServer\'s own dispatch', async () => {
    const engine = Engine.fromPolicy(policy);
    const calls = [];
    const server = new McpServer({ name: 'guarded', version: '1.0.0' });
    server.registerTool('shell', { inputSchema: { cmd: z.string() } }, async (args) => (calls.push(['shell', args]), text('ran')));
    guardMcpServer(engine, server, { agentId: 'agent-1' });
    server.registerTool('list_files', { inputSchema: { dir: z.string() } }, async (args) => (calls.push(['list_files', args]), text(`listed ${args.dir}`)));
    server.tool('fetch', { url: z.string() }, async (args) => (calls.push(['fetch', args]), text(`fetched ${args.url}`)));
    const agent = await connect(server);

    const { tools } = await agent.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['fetch', 'list_files', 'shell']);
    const shell = await agent.callTool({ name: 'shell', arguments: { cmd: 'rm -rf /' } });
    assert.equal(shell.isError, true);
    assert.equal(textOf(shell), 'Denied by policy: no shell access');
    assert.equal(shell._meta[DECISION_META_KEY].rule, 'shell');
    const listed = await agent.callTool({ name: 'list_files', arguments: { dir: '/' } });
    assert.equal(textOf(listed), 'listed /srv/sandbox');
    const evil = await agent.callTool({ name: 'fetch', arguments: { url: 'https://evil.com/' } });
    assert.equal(evil.isError, true);
    const good = await agent.callTool({ name: 'fetch', arguments: { url: 'https://docs.example.com/' } });
    assert.equal(textOf(good), 'fetched https://docs.example.com/');
    // McpServer still validates input itself (its dispatch was not replaced).
    const invalid = await agent.callTool({ name: 'list_files', arguments: { dir: 42 } });
    assert.equal(invalid.isError, true);
    assert.match(textOf(invalid), /validation/i);
    assert.deepEqual(calls, [
      ['list_files', { dir: '/srv/sandbox' }],
      ['fetch', { url: 'https://docs.example.com/' }],
    ]);
  });

  test('update({ callback }) and renames stay guarded', async () => {
    const engine = Engine.fromPolicy(policy);
    const calls = [];
    const server = guardMcpServer(engine, new McpServer({ name: 'guarded', version: '1.0.0' }), { agentId: 'agent-1' });
    const registered = server.registerTool('helper', { inputSchema: { cmd: z.string() } }, async () => text('old'));
    registered.update({ name: 'shell', callback: async (args) => (calls.push(args), text('new')) });
    const agent = await connect(server);
    const result = await agent.callTool({ name: 'shell', arguments: { cmd: 'id' } });
    assert.equal(textOf(result), 'Denied by policy: no shell access');
    assert.deepEqual(calls, []);
  });

  test('a tool without an input schema is decided with no params; the agent id can come from the request', async () => {
    const engine = Engine.fromPolicy({
      portcullis: 1,
      name: 'mcp-noargs',
      default: 'deny',
      rules: [{ id: 'ping', effect: 'allow', match: { tool: ['ping'], agent: ['agent-*'] } }],
    });
    const calls = [];
    const server = guardMcpServer(engine, new McpServer({ name: 'guarded', version: '1.0.0' }), {
      agentId: (request, extra) => (extra.sessionId ? 'agent-session' : request.params.name === 'ping' ? 'guest' : 'agent-1'),
    });
    server.registerTool('ping', {}, async () => (calls.push('ping'), text('pong')));
    const agent = await connect(server);
    const result = await agent.callTool({ name: 'ping', arguments: {} });
    assert.equal(result.isError, true);
    assert.deepEqual(calls, []);
  });

  test('guarding twice is harmless and anything but an McpServer is refused', () => {
    const engine = Engine.fromPolicy(policy);
    const server = new McpServer({ name: 'guarded', version: '1.0.0' });
    assert.equal(guardMcpServer(engine, guardMcpServer(engine, server, { agentId: 'a' }), { agentId: 'a' }), server);
    assert.throws(() => guardMcpServer(engine, new Server({ name: 'x', version: '1' }, {}), { agentId: 'a' }), TypeError);
  });
});
