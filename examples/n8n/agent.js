// The "Agent" Code node of support_agent.workflow.json (kept here readable; the test checks both
// copies are the same). Input: the Webhook item, whose body is Baton's AdapterRequest.
// It retrieves the request's closest documents, then loops: model call with the task's tools ->
// each tool call on the run's world over MCP -> model call ... until the model answers in text.
// Output: {answer, hops}, returned by the Respond node.
const MODEL = 'gpt-4o-mini';   // any name: Baton's gateway serves it with the run's vendor (params.models maps names)
const MAX_STEPS = 6;
const helpers = this.helpers;
const item = $input.first().json;
const req = item.body;
const runHeader = item.headers['x-baton-run'];
const baseUrl = req.model_base_url;
if (!baseUrl) throw new Error('the request has no model_base_url: give the http system params.gateway = true');
const t0 = Date.now();
const since = () => (Date.now() - t0) / 1000;
const hops = [];

// Retrieve: the three documents sharing most words with the request.
const words = (s) => new Set((s.toLowerCase().match(/[a-z0-9]{3,}/g) || []));
const asked = words(req.request);
const overlap = (d) => [...words(d.title + ' ' + d.text)].filter((w) => asked.has(w)).length;
const docs = [...req.documents].sort((a, b) => overlap(b) - overlap(a)).slice(0, 3);
hops.push({kind: 'retrieve', name: 'retrieve', started_s: 0, latency_s: since(),
           output: {doc_ids: docs.map((d) => d.id), record_ids: []}});

// The run's world over MCP (streamable HTTP): initialize once, then tools/call.
let mcpSession = null;
let rpcId = 0;
async function mcp(method, params) {
  const notify = method.startsWith('notifications/');
  const headers = {'Content-Type': 'application/json', Accept: 'application/json, text/event-stream'};
  if (mcpSession) headers['mcp-session-id'] = mcpSession;
  const payload = notify ? {jsonrpc: '2.0', method, params} : {jsonrpc: '2.0', id: ++rpcId, method, params};
  const res = await helpers.httpRequest({method: 'POST', url: req.mcp_url, headers, body: JSON.stringify(payload),
                                        json: false, returnFullResponse: true, encoding: 'text'});
  mcpSession = mcpSession || res.headers['mcp-session-id'] || null;
  if (notify) return null;
  const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  const data = text.trim().startsWith('{') ? [text]
    : text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim());
  const reply = data.map((d) => JSON.parse(d)).find((m) => m.id === payload.id);
  if (!reply) throw new Error(`MCP ${method}: no reply in ${text.slice(0, 200)}`);
  if (reply.error) throw new Error(`MCP ${method}: ${reply.error.message}`);
  return reply.result;
}
await mcp('initialize', {protocolVersion: '2025-06-18', capabilities: {},
                         clientInfo: {name: 'n8n-baton-example', version: '1'}});
await mcp('notifications/initialized', {});

// The model, through the OpenAI-compatible URL Baton gives the run.
async function chat(messages, tools) {
  const body = {model: MODEL, messages};
  if (tools && tools.length) body.tools = tools;
  return helpers.httpRequest({method: 'POST', url: baseUrl.replace(/\/$/, '') + '/chat/completions', body, json: true,
                              headers: runHeader ? {'X-Baton-Run': runHeader} : {}});
}

const customer = req.customer ? `Customer: ${JSON.stringify(req.customer)}.` : '';
const system = [
  'You are a customer support agent.', req.policy ? `Policy: ${req.policy}` : '', `Today: ${req.today}.`, customer,
  'Do what the customer needs by calling tools. Call a tool only if the policy allows it.',
  'When done, write the reply to the customer: what was done, with the amounts, reference numbers and timing the tools returned.',
  'Context:', ...docs.map((d) => `[${d.id}] ${d.text}`),
].filter(Boolean).join('\n');
const messages = [{role: 'system', content: system}, ...req.conversation, {role: 'user', content: req.request}];

let answer = '';
for (let step = 0; step < MAX_STEPS; step++) {
  const started = since();
  const completion = await chat(messages, req.tools);
  const message = completion.choices[0].message;
  const calls = message.tool_calls || [];
  hops.push({kind: 'generate', name: calls.length ? 'act' : 'answer', started_s: started, latency_s: since() - started,
             model: completion.model, output: {text: message.content || '',
             tool_calls: calls.map((c) => ({name: c.function.name, arguments: c.function.arguments}))}});
  if (!calls.length) { answer = message.content || ''; break; }
  messages.push({role: 'assistant', content: message.content || '', tool_calls: calls});
  for (const call of calls) {
    let content;
    try {
      const result = await mcp('tools/call', {name: call.function.name, arguments: JSON.parse(call.function.arguments || '{}')});
      const text = (result.content || []).map((c) => c.text || '').join('\n');
      content = result.isError ? `ERROR: ${text}` : text;
    } catch (error) {
      content = `ERROR: ${error.message}`;
    }
    messages.push({role: 'tool', tool_call_id: call.id, content});
  }
}
if (!answer) hops.push({kind: 'generate', name: 'answer', started_s: since(), output: {text: ''},
                        error: `no answer after ${MAX_STEPS} model calls`});
return [{json: {answer, hops}}];
