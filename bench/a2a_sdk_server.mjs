// Reference server for bench/a2a: the @a2a-js/sdk express JSON-RPC server with
// an echo executor (each message gets a completed task whose artifact echoes
// the message's text).
// Usage: node bench/a2a_sdk_server.mjs <sdk-dir> [port]
//   sdk-dir: a folder where @a2a-js/sdk@1.3.0 and express are npm-installed.
//   port: default 0 (any free port). Prints `listening http://127.0.0.1:<port>`
//   once it accepts connections; JSON-RPC at POST /a2a.

import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, port = '0'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node a2a_sdk_server.mjs <sdk-dir> [port]');
  process.exit(2);
}
// Both packages resolve from sdk-dir (`require` condition: the CommonJS builds).
const load = createRequire(join(resolve(dir), 'package.json'));
const express = load('express');
const { DefaultRequestHandler, InMemoryTaskStore, AgentEvent } = load('@a2a-js/sdk/server');
const { agentCardHandler, jsonRpcHandler, UserBuilder } = load('@a2a-js/sdk/server/express');
const { TaskState, AGENT_CARD_PATH } = load('@a2a-js/sdk');

const text = (value) => ({ content: { $case: 'text', value }, mediaType: 'text/plain' });

const echo = {
  async execute(ctx, bus) {
    const said = ctx.userMessage.parts.filter((p) => p.content?.$case === 'text')
      .map((p) => p.content.value).join('');
    bus.publish(AgentEvent.task({
      id: ctx.taskId,
      contextId: ctx.contextId,
      status: { state: TaskState.TASK_STATE_COMPLETED, timestamp: new Date().toISOString() },
      artifacts: [{ artifactId: 'echo', name: 'echo', parts: [text(said)] }],
      history: [ctx.userMessage],
    }));
    bus.finished();
  },
  async cancelTask() {},
};

const card = {
  name: 'sdk-echo',
  description: 'Echoes the text of each message as an artifact.',
  version: '1.0.0',
  // url is filled in once the port is known
  supportedInterfaces: [{ url: '', protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
  capabilities: { streaming: false, pushNotifications: false },
  defaultInputModes: ['text/plain'],
  defaultOutputModes: ['text/plain'],
  skills: [{ id: 'echo', name: 'echo', description: 'echoes text', tags: ['echo'] }],
};

const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), echo);
const app = express();
app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: async () => card }));
app.use('/a2a', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));

const server = app.listen(Number(port), '127.0.0.1', () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  card.supportedInterfaces[0].url = `${base}/a2a`;
  console.log(`listening ${base}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
