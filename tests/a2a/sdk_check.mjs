// End-to-end check of agentmesh's standard A2A 1.0 surface with the official
// client, @a2a-js/sdk 1.3.0, against a running 2-node cluster.
//
// Usage: node sdk_check.mjs <sdk-dir> <node1-base-url> <node2-base-url>
//   sdk-dir: a folder where `npm install @a2a-js/sdk@1.3.0` was run (the SDK
//   is loaded from there, not from the repository).
//
// Prints one TAP-like line per check (`ok - name` / `not ok - name: why`) and
// exits 0 only if every check passed. Every call has its own timeout and the
// whole run is capped, so the script never hangs.

import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { pathToFileURL } from 'node:url';

const OVERALL_MS = 60_000;
const CALL_MS = 10_000;
const STREAM_MS = 20_000;

if (process.argv.length !== 5) {
  console.error('usage: node sdk_check.mjs <sdk-dir> <node1-base-url> <node2-base-url>');
  process.exit(2);
}
const [sdkDir, node1, node2] = process.argv.slice(2).map((a, i) =>
  i === 0 ? resolve(a) : a.replace(/\/+$/, ''));

const overall = setTimeout(() => {
  console.log(`not ok - overall: not finished within ${OVERALL_MS / 1000} s`);
  process.exit(1);
}, OVERALL_MS);

// -- loading the SDK from sdk-dir ---------------------------------------------

// Resolves `@a2a-js/sdk<sub>` the way `import` would from a module in sdk-dir:
// find the package with Node's lookup from there, then take the ESM entry of
// its `exports` map (the package does not export its package.json).
function sdkModules() {
  const req = createRequire(join(sdkDir, 'package.json'));
  let dir = dirname(req.resolve('@a2a-js/sdk'));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.name !== '@a2a-js/sdk') throw new Error(`found ${pkg.name} instead of @a2a-js/sdk`);
  const entry = (sub) => {
    const e = pkg.exports[sub];
    return import(pathToFileURL(join(dir, typeof e === 'string' ? e : e.import)).href);
  };
  return Promise.all([entry('.'), entry('./client'), entry('./errors')])
    .then(([core, client, errors]) => ({ version: pkg.version, core, client, errors }));
}

let sdk;
try {
  sdk = await sdkModules();
} catch (e) {
  console.log(`not ok - load @a2a-js/sdk from ${sdkDir}: ${e.message.split('\n')[0]}`);
  process.exit(1);
}
const { Role, TaskState } = sdk.core;
const { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver } = sdk.client;
const { TaskNotCancelableError, TaskNotFoundError } = sdk.errors;
console.log(`# @a2a-js/sdk ${sdk.version}; node1 ${node1}, node2 ${node2}`);

// -- helpers ------------------------------------------------------------------

let failures = 0;
async function check(name, body) {
  try {
    const note = await body();
    console.log(`ok - ${name}${note ? ` (${note})` : ''}`);
  } catch (e) {
    failures++;
    const named = e?.name && e.name !== 'Error' && !String(e.message).startsWith(e.name);
    const cause = e?.cause ? ` (${e.cause.code ?? e.cause.message ?? e.cause})` : '';
    const why = `${named ? `${e.name}: ` : ''}${e?.message ?? e}${cause}`.replace(/\s+/g, ' ');
    console.log(`not ok - ${name}: ${why}`);
  }
}

function expect(cond, why) {
  if (!cond) throw new Error(why);
}

const opts = (ms = CALL_MS) => ({ signal: AbortSignal.timeout(ms) });
const stateName = (s) => TaskState[s] ?? String(s);
const stateOf = (task) => task?.status?.state;

// A user message with one text part, in the SDK's own (ts-proto) shape.
function textMessage(text, metadata) {
  return {
    messageId: randomUUID(),
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }],
    metadata,
    extensions: [],
    referenceTaskIds: [],
  };
}

function partsOf(artifacts, kind) {
  return (artifacts ?? []).flatMap((a) => a.parts ?? [])
    .filter((p) => p.content?.$case === kind).map((p) => p.content.value);
}

function expectTask(result, state) {
  expect(result && !('messageId' in result), `expected a task, got ${JSON.stringify(result)}`);
  expect(typeof result.id === 'string' && result.id !== '', 'task has no id');
  if (state !== undefined)
    expect(stateOf(result) === state,
      `task ${result.id} is ${stateName(stateOf(result))}, expected ${stateName(state)}`);
  return result;
}

function expectArtifactText(task, text) {
  const texts = partsOf(task.artifacts, 'text');
  expect(texts.includes(text),
    `no artifact text part ${JSON.stringify(text)}; text parts: ${JSON.stringify(texts)}`);
}

function expectError(e, cls, name, code) {
  expect(e instanceof cls, `threw ${e?.name ?? typeof e}: ${e?.message}, not ${name}`);
  expect(e.name === name, `error name ${e.name}, expected ${name}`);
  expect(e.envelopeCode === code, `error code ${e.envelopeCode}, expected ${code}`);
}

// The dialect's StartAgent, with plain fetch.
async function startAgent(base, name, defaultAction) {
  const res = await fetch(`${base}/a2a`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'StartAgent',
      params: { name, default_action: defaultAction },
    }),
    signal: AbortSignal.timeout(CALL_MS),
  });
  expect(res.ok, `HTTP ${res.status}`);
  const body = await res.json();
  const status = body?.result?.status;
  expect(status === 'started' || status === 'already_exists',
    `StartAgent answered ${JSON.stringify(body)}`);
  return status === 'started' ? '' : `already running on ${body.result.node}`;
}

// Card fetches time out too: the resolver takes a fetch implementation.
const resolver = new DefaultAgentCardResolver({
  fetchImpl: (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(CALL_MS) }),
});
const factory = new ClientFactory(
  ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { cardResolver: resolver }));

// -- setup --------------------------------------------------------------------

await check('setup: StartAgent sdk-remote (search) on node2',
  () => startAgent(node2, 'sdk-remote', 'search'));
await check('setup: StartAgent sdk-sum (summarize) on node2',
  () => startAgent(node2, 'sdk-sum', 'summarize'));

// -- checks -------------------------------------------------------------------

let client1, taskA;
// The client built from node1's card (check a), or a fresh one if a failed early.
const node1Client = async () => (client1 ??= await factory.createFromUrl(`${node1}/`));

await check('a. node card via node1: blocking SendMessage to sdk-remote completes', async () => {
  client1 = await factory.createFromUrl(`${node1}/`);
  const result = await client1.sendMessage(
    { message: textMessage('OTP', { agent: 'sdk-remote' }) }, opts());
  const task = expectTask(result, TaskState.TASK_STATE_COMPLETED);
  expectArtifactText(task, 'Search results for: OTP');
  const data = partsOf(task.artifacts, 'data');
  expect(data.some((d) => isDeepStrictEqual(d, { ok: 'Search results for: OTP' })),
    `no artifact data part {"ok":"Search results for: OTP"}; data parts: ${JSON.stringify(data)}`);
  taskA = task.id;
  return `task ${task.id}`;
});

await check('b. agent card of sdk-sum via node1: blocking SendMessage completes', async () => {
  const card = await resolver.resolve(`${node1}/agents/sdk-sum/`);
  expect(card.name === 'sdk-sum', `card name ${JSON.stringify(card.name)}`);
  const client = await factory.createFromAgentCard(card);
  const text = 'The quick brown fox';
  const task = expectTask(await client.sendMessage({ message: textMessage(text) }, opts()),
    TaskState.TASK_STATE_COMPLETED);
  expectArtifactText(task, `Summary: ${text}...`);
  return `task ${task.id}`;
});

await check('c. GetTask via node1 and via node2 card', async () => {
  expect(taskA, 'no task from check a');
  const t1 = await (await node1Client()).getTask({ id: taskA }, opts());
  expect(t1.id === taskA, `node1 returned task ${t1.id}`);
  expect(stateOf(t1) === TaskState.TASK_STATE_COMPLETED, `node1: ${stateName(stateOf(t1))}`);
  const client2 = await factory.createFromUrl(`${node2}/`);
  const t2 = await client2.getTask({ id: taskA }, opts());
  expect(t2.id === taskA, `node2 returned task ${t2.id}`);
  expect(stateOf(t2) === TaskState.TASK_STATE_COMPLETED, `node2: ${stateName(stateOf(t2))}`);
});

await check('d. ListTasks pageSize 10', async () => {
  expect(taskA, 'no task from check a');
  const list = await (await node1Client()).listTasks({ pageSize: 10 }, opts());
  const ids = (list.tasks ?? []).map((t) => t.id);
  expect(ids.includes(taskA), `task ${taskA} not among ${JSON.stringify(ids)}`);
  expect(list.totalSize >= 2, `totalSize ${list.totalSize}`);
  expect(typeof list.nextPageToken === 'string', `nextPageToken ${typeof list.nextPageToken}`);
  return `${ids.length} tasks, totalSize ${list.totalSize}`;
});

await check('e. CancelTask on a completed task -> TaskNotCancelableError', async () => {
  expect(taskA, 'no task from check a');
  let error;
  try {
    const t = await (await node1Client()).cancelTask({ id: taskA }, opts());
    error = new Error(`no error; task is ${stateName(stateOf(t))}`);
  } catch (e) {
    expectError(e, TaskNotCancelableError, 'TaskNotCancelableError', -32002);
  }
  if (error) throw error;
});

await check('f. GetTask of an unknown id -> TaskNotFoundError', async () => {
  let error;
  try {
    const t = await (await node1Client()).getTask({ id: '0000000000000000' }, opts());
    error = new Error(`no error; got task ${t.id}`);
  } catch (e) {
    expectError(e, TaskNotFoundError, 'TaskNotFoundError', -32001);
  }
  if (error) throw error;
});

await check('g. returnImmediately send of sleep, then CancelTask -> CANCELED', async () => {
  const client = await node1Client();
  const message = textMessage('sleep', { agent: 'sdk-remote', action: 'sleep', params: { ms: 30000 } });
  const task = expectTask(
    await client.sendMessage({ message, configuration: { returnImmediately: true } }, opts()));
  const live = [TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING];
  expect(live.includes(stateOf(task)), `fresh task is ${stateName(stateOf(task))}`);
  const canceled = await client.cancelTask({ id: task.id }, opts());
  expect(canceled.id === task.id, `CancelTask returned task ${canceled.id}`);
  expect(stateOf(canceled) === TaskState.TASK_STATE_CANCELED,
    `CancelTask returned ${stateName(stateOf(canceled))}`);
  const after = await client.getTask({ id: task.id }, opts());
  expect(stateOf(after) === TaskState.TASK_STATE_CANCELED,
    `GetTask after cancel: ${stateName(stateOf(after))}`);
  return `task ${task.id} was ${stateName(stateOf(task))}`;
});

await check('h. SendStreamingMessage: task, artifactUpdate, statusUpdate COMPLETED, end', async () => {
  const client = await node1Client();
  const events = [];
  try {
    for await (const ev of client.sendMessageStream(
      { message: textMessage('stream me', { agent: 'sdk-remote' }) }, opts(STREAM_MS))) {
      events.push(ev);
    }
  } catch (e) {
    const kinds = events.map((ev) => ev.payload?.$case).join(',');
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
      throw new Error(`stream still open after ${STREAM_MS / 1000} s; events so far: [${kinds}]`);
    throw new Error(`${e?.message ?? e}; events so far: [${kinds}]`);
  }
  const kinds = events.map((ev) => ev.payload?.$case);
  if (events.length < 3) {
    const card = await resolver.resolve(`${node1}/`);
    throw new Error(`only [${kinds}]` + (card.capabilities?.streaming ? '' :
      ' (card capabilities.streaming is not true, so the SDK fell back to SendMessage)'));
  }
  expect(kinds[0] === 'task', `first event is ${kinds[0]}`);
  const taskId = events[0].payload.value.id;
  const last = events.at(-1).payload;
  expect(last?.$case === 'statusUpdate', `last event is ${last?.$case} ([${kinds}])`);
  expect(stateOf(last.value) === TaskState.TASK_STATE_COMPLETED,
    `last status is ${stateName(stateOf(last.value))}`);
  const middle = events.slice(1, -1).map((ev) => ev.payload);
  const artifacts = middle.filter((p) => p.$case === 'artifactUpdate').map((p) => p.value.artifact);
  expect(artifacts.length > 0, `no artifactUpdate between first and last ([${kinds}])`);
  expectArtifactText({ artifacts }, 'Search results for: stream me');
  const foreign = events.map(({ payload: p }) => (p?.$case === 'task' ? p.value.id : p?.value?.taskId))
    .filter((id) => id !== taskId);
  expect(foreign.length === 0, `events for other tasks: ${JSON.stringify(foreign)}`);
  return `[${kinds}]`;
});

clearTimeout(overall);
console.log(failures ? `# ${failures} check(s) failed` : '# all checks passed');
process.exit(failures ? 1 : 0);
