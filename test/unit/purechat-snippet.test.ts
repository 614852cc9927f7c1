/**
 * The chatstream snippet (producers/purechat/browser/snippet.js) and the fake Pure Chat widget
 * (demo/widget.js), run in a node:vm context with a minimal fake DOM, fake storage, a
 * recording fetch / sendBeacon and a fake clock (no real waiting).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import vm from 'node:vm';

const dir = new URL('../../producers/purechat/browser/', import.meta.url);
const SNIPPET = readFileSync(new URL('snippet.js', dir), 'utf8');
const WIDGET = readFileSync(new URL('demo/widget.js', dir), 'utf8');
const STUB = 'window.purechatApi = { l: [], t: [], on: function () { this.l.push(arguments); } };';
const WIDGET_ID = '9aa40980-a367-4eaf-9c09-d1b66ccaff57';
const BOOT = `new PCWidget({ c: '${WIDGET_ID}', f: true })`; // what the embed's onload does
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PAGE = 'https://shop.example.com/widgets/model-x?ref=ad';
const JOE = { name: 'Joe Doe', email: 'joe@example.com', question: 'Hi', firstName: 'Joe', lastName: 'Doe' };
const START_JOE = `PCDemo.startChat(${JSON.stringify(JOE)})`;
const PAGE_HANDLER =
  "purechatApi.on('chat:start', function () { window.pageCalls = 1; throw new Error('bug'); })";
/** A bare purechatApi (no `get`, so no state events): `emit` fires exactly one event. */
const BARE_API =
  'var handlers = {}; window.purechatApi = { on: function (n, h) { (handlers[n] = handlers[n] || []).push(h); } };';
const emit = (type: string, args = '{}') => `handlers['${type}'][0](${args})`;
const refusal = (status: number, code: string, details?: unknown): Reply => ({
  status,
  body: { error: { code, message: code, details } },
});

// ---- A minimal DOM: elements, classes, attributes, and querySelector for `#id tag.class[a=b]`.
class El {
  tagName: string;
  children: El[] = [];
  parent: El | null = null;
  classes = new Set<string>();
  attrs = new Map<string, string>();
  style: Record<string, string> = {};
  classList = {
    add: (...names: string[]) => names.map((n) => this.classes.add(n)),
    remove: (...names: string[]) => names.map((n) => this.classes.delete(n)),
    toggle: (name: string, on: boolean) => (on ? this.classes.add(name) : this.classes.delete(name)),
  };
  constructor(tag: string) {
    this.tagName = tag.toUpperCase();
  }
  set className(value: string) {
    this.classes = new Set(value.split(/\s+/).filter(Boolean));
  }
  setAttribute(name: string, value: string) {
    this.attrs.set(name, String(value));
  }
  getAttribute(name: string) {
    return this.attrs.get(name) ?? null;
  }
  appendChild(child: El) {
    child.parent = this;
    this.children.push(child);
    return child;
  }
  addEventListener() {}
  all(): El[] {
    return this.children.flatMap((c) => [c, ...c.all()]);
  }
  matches(compound: string): boolean {
    const tag = /^[a-z]+/i.exec(compound)?.[0];
    if (tag && this.tagName !== tag.toUpperCase()) return false;
    for (const m of compound.matchAll(/#([\w-]+)|\.([\w-]+)|\[([\w-]+)=([\w -]+)\]/g)) {
      if ((m[1] && this.attrs.get('id') !== m[1]) || (m[2] && !this.classes.has(m[2]))) return false;
      if (m[3] && this.getAttribute(m[3]) !== m[4]) return false;
    }
    return true;
  }
  querySelector(selector: string): El | null {
    const parts = selector.trim().split(/\s+/);
    const last = parts.pop() ?? '';
    const fits = (el: El) => {
      let i = parts.length - 1;
      for (let a = el.parent; a && i >= 0; a = a.parent) if (a.matches(parts[i] ?? '')) i--;
      return i < 0;
    };
    return this.all().find((el) => el.matches(last) && fits(el)) ?? null;
  }
}

/**
 * A Storage. `full` makes every setItem throw (the quota); `onQueueWrite` runs once, at the
 * snippet's next write to the queue (the old array or a key per event), before it lands: another
 * tab writing between this tab's read and its write.
 */
const memStorage = (map = new Map<string, string>()) => {
  const store = {
    map,
    full: false,
    onQueueWrite: null as (() => void) | null,
    keys: null as string[] | null, // map's keys, until the next change
    write(key: string) {
      const fn = store.onQueueWrite;
      if (!fn || !(key === 'chatstream.queue' || key.startsWith('chatstream.q.'))) return;
      store.onQueueWrite = null;
      fn();
    },
    get length() {
      return map.size;
    },
    key: (i: number) => {
      store.keys ??= [...map.keys()];
      return store.keys[i] ?? null;
    },
    getItem: (key: string) => map.get(key) ?? null,
    setItem: (key: string, value: string) => {
      if (store.full) throw new Error('QuotaExceededError');
      store.write(key);
      store.keys = null;
      map.set(key, String(value));
    },
    removeItem: (key: string) => {
      store.write(key);
      store.keys = null;
      map.delete(key);
    },
  };
  return store;
};
type MemStorage = ReturnType<typeof memStorage>;
const QUEUED = 'chatstream.q.';
/** The events queued in a Storage (the snippet's order: occurredAt, then id). */
const queuedIn = (local: MemStorage): Sent[] =>
  [...local.map]
    .filter(([key]) => key.startsWith(QUEUED))
    .map(([, value]) => JSON.parse(value) as Sent)
    .sort((a, b) => (`${a.occurredAt} ${a.id}` < `${b.occurredAt} ${b.id}` ? -1 : 1));

// ---- A fake clock: timers run only in advance(), which also lets promises settle.
const settle = () => new Promise((resolve) => setImmediate(resolve));
class Clock {
  now = Date.parse('2026-11-22T10:00:00.000Z');
  timers = new Map<number, { at: number; every: number; fn: () => void }>();
  seq = 0;
  add = (fn: () => void, ms = 0, every = 0) =>
    this.timers.set(++this.seq, { at: this.now + ms, every, fn }) && this.seq;
  clear = (id: number) => this.timers.delete(id);
  async advance(ms: number) {
    const end = this.now + ms;
    for (;;) {
      await settle();
      const next = [...this.timers].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      const [id, timer] = next;
      this.now = Math.max(this.now, timer.at);
      if (timer.every) timer.at += timer.every;
      else this.timers.delete(id);
      timer.fn();
    }
    this.now = end;
    await settle();
  }
}

type Sent = { id: string; type: string; args: Record<string, unknown> | null; [field: string]: unknown };
type Reply = { status: number; headers?: Record<string, string>; body?: unknown };
type Init = {
  method: string;
  headers: Record<string, string>;
  keepalive: boolean;
  credentials: string;
  signal?: AbortSignal;
};
type Request = { url: string; init: Init; events: Sent[]; at: number };

function env(options: { local?: MemStorage; session?: MemStorage; settings?: object } = {}) {
  const clock = new Clock();
  const requests: Request[] = [];
  const beacons: { url: string; events: Sent[] }[] = [];
  const warnings: string[] = [];
  const listeners: Record<string, () => void> = {};
  const local = options.local ?? memStorage();
  const session = options.session ?? memStorage();
  const html = new El('html');
  const head = html.appendChild(new El('head'));
  const body = html.appendChild(new El('body'));
  const script = new El('script');
  script.setAttribute('data-widget-id', WIDGET_ID);
  const sendBeacon = (url: string, data: string) =>
    beacons.push({ url, events: JSON.parse(data).events }) > 0;
  type Respond = (r: Request) => Reply | 'network' | 'hang';
  const state: { respond: Respond } = { respond: () => ({ status: 200, body: { accepted: 1 } }) };
  const ctx: Record<string, unknown> = {
    document: {
      head,
      body,
      currentScript: Object.assign(script, { src: 'https://collect.example.com/v1/snippet.js' }),
      referrer: 'https://www.google.com/',
      visibilityState: 'visible',
      createElement: (tag: string) => new El(tag),
      getElementById: (id: string) => html.all().find((el) => el.attrs.get('id') === id) ?? null,
      querySelector: (selector: string) => html.querySelector(selector),
      addEventListener: (type: string, fn: () => void) => (listeners[`document:${type}`] = fn),
    },
    location: { href: PAGE, origin: 'https://shop.example.com' },
    navigator: { sendBeacon },
    addEventListener: (type: string, fn: () => void) => (listeners[type] = fn),
    localStorage: local,
    sessionStorage: session,
    crypto: { randomUUID },
    URL,
    AbortController,
    fakeNow: () => clock.now,
    console: { warn: (...a: unknown[]) => warnings.push(a.join(' ')), error: () => {}, log: console.log },
    setTimeout: clock.add,
    setInterval: (fn: () => void, ms: number) => clock.add(fn, ms, ms),
    clearTimeout: clock.clear,
    clearInterval: clock.clear,
    chatstreamSettings: options.settings,
    fetch: (url: string, init: Init & { body: string }) => {
      const request = { url, init, events: JSON.parse(init.body).events, at: clock.now };
      requests.push(request);
      const reply = state.respond(request);
      if (reply === 'network') return Promise.reject(new TypeError('Failed to fetch'));
      if (reply === 'hang')
        return new Promise((_, reject) =>
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
        );
      const header = (name: string) => reply.headers?.[name] ?? null;
      const response = { status: reply.status, headers: { get: header }, json: async () => reply.body };
      return Promise.resolve(response);
    },
  };
  ctx.window = ctx;
  vm.createContext(ctx);
  vm.runInContext('Date.now = function () { return fakeNow(); };', ctx); // this context's own Date
  const run = (...code: string[]) => code.map((c) => vm.runInContext(c, ctx)).at(-1);
  const sent = () => requests.flatMap((r) => r.events);
  const types = () => sent().map((e) => e.type);
  const ofType = (type: string) => sent().filter((e) => e.type === type);
  const queued = () => queuedIn(local);
  const fire = (type: string) => listeners[type]?.();
  const views = { sent, types, ofType, queued, fire };
  return { ctx, run, clock, requests, beacons, warnings, local, session, state, ...views };
}
type Env = ReturnType<typeof env>;
const ids = (events: Sent[] | undefined) => (events ?? []).map((x) => x.id);

/** Order (a): stub, then the snippet, then the widget loads and fires chatbox:ready. */
async function stubFirst(e: Env, beforeSnippet = '') {
  e.run(STUB, beforeSnippet, SNIPPET, WIDGET, BOOT);
  await e.clock.advance(0);
}

function assertProtocol(e: Env, event: Sent) {
  const fields = 'args id occurredAt pageUrl referrer sessionId type visitorId widgetId';
  assert.deepEqual(Object.keys(event).sort(), fields.split(' '));
  assert.match(event.id, UUID);
  assert.equal(event.widgetId, WIDGET_ID);
  assert.match(String(event.occurredAt), /^2026-11-22T10:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(event.visitorId, e.local.getItem('chatstream.vid'));
  assert.equal(event.sessionId, e.session.getItem('chatstream.sid'));
  assert.deepEqual([event.pageUrl, event.referrer], [PAGE, 'https://www.google.com/']);
}

test('order (a): the widget replays the stub queue, page handlers first (even a throwing one); protocol shape', async () => {
  const e = env();
  await stubFirst(e, PAGE_HANDLER); // queued before ours; it throws, ours must still run
  e.run(START_JOE);
  e.run('PCDemo.endChat({ startedByOperator: false })');
  assert.equal(e.ctx.pageCalls, 1);
  await e.clock.advance(1000);
  assert.equal(e.requests.length, 1);
  const [request] = e.requests;
  assert.equal(request?.url, 'https://collect.example.com/v1/events'); // collector: where snippet.js came from
  const { method, headers, keepalive, credentials } = request?.init ?? ({} as Init);
  const init = [method, headers['Content-Type'], keepalive, credentials];
  assert.deepEqual(init, ['POST', 'text/plain;charset=UTF-8', true, 'omit']);
  for (const event of e.sent()) assertProtocol(e, event);
  assert.equal(new Set(ids(e.sent())).size, e.sent().length);
  assert.equal(e.ofType('chatbox:ready')[0]?.args, null);
  assert.deepEqual(e.ofType('chatbox:expand')[0]?.args, { chatboxId: WIDGET_ID });
  assert.deepEqual(e.ofType('chat:start')[0]?.args, JOE);
  const end = e.ofType('chat:end')[0]?.args ?? {};
  assert.match(String(end.transcriptId), UUID);
  const { name, email, question } = JOE;
  const expected = { chatboxId: WIDGET_ID, name, email, phoneNumber: '', question, startedByOperator: false };
  assert.deepEqual({ ...end, transcriptId: 'x' }, { ...expected, transcriptId: 'x' });
  const box = { 'chatbox.position': 'bottomRight', 'chatbox.expanded': false, 'chatbox.visible': true };
  const more = { 'chatbox.showMinimizeButton': true, 'chatbox.unavailableBehavior': 'email' };
  const widget = { ...box, ...more, enableTranscriptDownload: false, operatorsAvailable: true };
  assert.deepEqual(e.ofType('widget:state')[0]?.args, widget);
  assert.equal(e.run('chatstream.pending()'), 0);
  assert.deepEqual(e.queued(), []);
});

test('order (b): a live widget: the snippet reads the state at once (no chatbox:ready) and subscribes', async () => {
  const e = env();
  e.run(STUB, WIDGET, BOOT);
  await e.clock.advance(0); // chatbox:ready fired before the snippet was there
  e.run("purechatApi.set('visitor.name', 'Ann Lee')", SNIPPET, 'PCDemo.expand()');
  await e.clock.advance(1000);
  assert.deepEqual(e.types(), ['visitor:state', 'widget:state', 'chatbox:expand', 'widget:state']);
  assert.equal(e.ofType('visitor:state')[0]?.args?.['visitor.name'], 'Ann Lee');
  assert.equal(e.ofType('widget:state')[1]?.args?.['chatbox.expanded'], true);
});

test('order (c): the snippet before the stub traps the assignment, then leaves a plain property', async () => {
  const e = env();
  e.run(SNIPPET);
  assert.equal(typeof Object.getOwnPropertyDescriptor(e.ctx, 'purechatApi')?.set, 'function');
  e.run(STUB);
  const descriptor = Object.getOwnPropertyDescriptor(e.ctx, 'purechatApi');
  assert.deepEqual([descriptor?.set, descriptor?.writable], [undefined, true]);
  assert.equal(e.run('purechatApi.l.length'), 7); // our handlers, queued through the stub
  e.run(PAGE_HANDLER);
  e.run(WIDGET, BOOT);
  await e.clock.advance(0);
  e.run(START_JOE);
  await e.clock.advance(1000);
  assert.equal(e.ctx.pageCalls, 1);
  assert.deepEqual(e.types().slice(0, 3), ['chatbox:ready', 'visitor:state', 'widget:state']);
  assert.equal(e.ofType('chat:start').length, 1);
});

test('a hand-written live purechatApi: args copied to plain JSON; a throwing get is a null', async () => {
  const e = env();
  e.run(`var handlers = {};
    window.purechatApi = { on: function (n, h) { (handlers[n] = handlers[n] || []).push(h); },
      get: function (k) { if (k === 'visitor.email') throw new Error('no'); return k === 'visitor.name' ? 'Bo' : undefined; } };`);
  e.run(SNIPPET);
  e.run(`handlers['chat:start'][0]({ name: 'Bo', fn: function () {}, u: undefined, n: NaN,
    when: { at: 1, deep: [1, undefined] }, constructor: 'x' });`);
  e.run("handlers['chatbox:ready'].forEach(function (h) { h(); })");
  await e.clock.advance(1000);
  const expected = { name: 'Bo', n: null, when: { at: 1, deep: [1, null] } };
  assert.deepEqual(e.ofType('chat:start')[0]?.args, expected);
  assert.equal(e.ofType('chatbox:ready')[0]?.args, null);
  const visitor = e.ofType('visitor:state')[0]?.args;
  assert.equal(visitor?.['visitor.name'], 'Bo');
  assert.equal(visitor?.['visitor.email'], null);
  assert.equal(e.ofType('widget:state')[0]?.args?.operatorsAvailable, null); // no widget DOM
});

test('visitor:state / widget:state: sent once, then only on change; a reload does not resend them', async () => {
  const e = env();
  await stubFirst(e);
  await e.clock.advance(10_000);
  assert.deepEqual(e.types(), ['chatbox:ready', 'visitor:state', 'widget:state']);
  e.run('PCDemo.setAvailable(false)');
  await e.clock.advance(3000); // the poll notices
  assert.equal(e.ofType('widget:state')[1]?.args?.operatorsAvailable, false);
  e.run("purechatApi.set('visitor.email', 'ann@example.com')");
  await e.clock.advance(3000);
  assert.equal(e.ofType('visitor:state')[1]?.args?.['visitor.email'], 'ann@example.com');
  await e.clock.advance(10_000);
  assert.equal(e.sent().length, 5);
  const reload = env({ local: e.local, session: e.session });
  reload.run(STUB, WIDGET, BOOT, "purechatApi.set('visitor.email', 'ann@example.com')");
  reload.run('PCDemo.setAvailable(false)');
  await reload.clock.advance(0);
  reload.run(SNIPPET); // live widget, same state as sent before
  await reload.clock.advance(10_000);
  assert.equal(reload.requests.length, 0);
  reload.run("purechatApi.set('chatbox.position', 'bottomLeft')");
  await reload.clock.advance(3000);
  assert.deepEqual(reload.types(), ['widget:state']);
  const sid = reload.ofType('widget:state')[0]?.sessionId;
  assert.equal(sid, e.sent()[0]?.sessionId); // the same session
  await reload.clock.advance(31 * 60_000); // 30 minutes idle: a new session, which gets the state again
  reload.run('PCDemo.expand()');
  await reload.clock.advance(1000);
  assert.deepEqual(reload.types().slice(1), ['chatbox:expand', 'visitor:state', 'widget:state']);
  assert.notEqual(reload.ofType('chatbox:expand')[0]?.sessionId, sid);
});

test('408 / 429 / 5xx / network errors keep and retry (back-off or Retry-After); other 4xx drop', async () => {
  const e = env();
  const replies: (Reply | 'network')[] = ['network', 'network', { status: 429 }, { status: 408 }];
  e.state.respond = () => replies.shift() ?? { status: 200 };
  await stubFirst(e);
  await e.clock.advance(30_000);
  const start = e.requests[0]?.at ?? 0;
  const times = e.requests.map((r) => r.at - start);
  assert.deepEqual(times, [0, 1000, 3000, 7000, 15000]);
  assert.deepEqual(ids(e.requests[4]?.events), ids(e.requests[0]?.events)); // the same ids again
  assert.equal(e.run('chatstream.pending()'), 0);
  e.state.respond = () => ({ status: 503, headers: { 'Retry-After': '5' }, body: { error: { code: 'X' } } });
  e.run('PCDemo.expand()');
  await e.clock.advance(1000);
  assert.equal(e.requests.length, 6);
  assert.equal(e.run('chatstream.pending()'), 2);
  await e.clock.advance(3000);
  assert.equal(e.requests.length, 6); // not before the 5 s
  e.state.respond = () => ({ status: 200, body: { accepted: 2 } });
  await e.clock.advance(2000);
  assert.equal(e.requests.length, 7);
  assert.equal(e.run('chatstream.pending()'), 0);
  // Any other 4xx: dropped (it would never be accepted), with a warning naming the error code;
  // the widget:state dropped with it is sent again at the next poll (and dropped again).
  e.state.respond = () => ({ status: 400, body: { error: { code: 'INVALID_EVENTS', message: 'bad' } } });
  e.run('PCDemo.collapse()');
  await e.clock.advance(10_000);
  assert.deepEqual(ids(e.requests[8]?.events), ids(e.ofType('widget:state').slice(-1)));
  assert.equal(e.requests.length, 9);
  assert.equal(e.run('chatstream.pending()'), 0);
  assert.ok(e.warnings.some((w) => w.includes('400') && w.includes('INVALID_EVENTS')));
});

test('a state event dropped by a 4xx is sent again at the next poll, once until a 2xx', async () => {
  const e = env();
  e.state.respond = () => refusal(415, 'UNSUPPORTED_MEDIA_TYPE');
  await stubFirst(e);
  await e.clock.advance(1000); // dropped: chatbox:ready and both states
  await e.clock.advance(3000); // the poll records the states again; dropped again
  await e.clock.advance(10_000); // not at every poll: the collector refuses everything
  const batches = e.requests.map((r) => r.events.map((x) => x.type));
  assert.deepEqual(batches, [
    ['chatbox:ready', 'visitor:state', 'widget:state'],
    ['visitor:state', 'widget:state'],
  ]);
  assert.ok(e.warnings.some((w) => w.includes('refused 3 events (415 UNSUPPORTED_MEDIA_TYPE); dropped')));
});

test("two tabs: one key per event, neither loses the other's; a tab sends its own events and old ones", async () => {
  const local = memStorage();
  const a = env({ local });
  const b = env({ local });
  for (const tab of [a, b]) tab.run(BARE_API, SNIPPET);
  // Tab b records while tab a is between reading the queue and writing it.
  local.onQueueWrite = () => b.run(emit('chat:start'));
  a.run(emit('chat:end'));
  assert.equal(a.run('chatstream.pending()'), 2);
  assert.deepEqual(
    queuedIn(local)
      .map((x) => x.type)
      .sort(),
    ['chat:end', 'chat:start'],
  );
  const end = queuedIn(local).find((x) => x.type === 'chat:end');
  assert.equal(local.getItem(`${QUEUED}${end?.id}`), JSON.stringify(end));
  // Tab b records while tab a's 2xx arrives: a forgets only what it sent, and sends only its own.
  a.state.respond = () => {
    local.onQueueWrite = () => b.run(emit('email:send'));
    return { status: 200 };
  };
  await a.clock.advance(1000);
  assert.deepEqual(a.types(), ['chat:end']);
  assert.deepEqual(ids(queuedIn(local)).length, 2);
  await b.clock.advance(1000);
  assert.deepEqual(b.types(), ['chat:start', 'email:send']);
  assert.equal(a.run('chatstream.pending()'), 0);
  // Tab b records and closes before sending: the next page view sends it once it is 10 s old.
  b.state.respond = () => 'network';
  b.run(emit('chat:start'));
  await b.clock.advance(1000);
  const c = env({ local });
  c.run(SNIPPET);
  await c.clock.advance(9000);
  assert.equal(c.requests.length, 0);
  await c.clock.advance(3000);
  assert.deepEqual(ids(c.sent()), ids(b.requests.at(-1)?.events));
  assert.equal(c.run('chatstream.pending()'), 0);
});

test('400 INVALID_EVENTS drops only the events it names; the others are sent again at once', async () => {
  const e = env();
  e.run(BARE_API, SNIPPET);
  for (const type of ['chat:start', 'email:send', 'chat:end']) e.run(emit(type));
  const problems = [1, 1].map((index) => ({ index, field: 'args', problem: 'is not an object' }));
  const replies = [refusal(400, 'INVALID_EVENTS', { events: problems })];
  e.state.respond = () => replies.shift() ?? { status: 200 };
  await e.clock.advance(1000);
  const batches = e.requests.map((r) => r.events.map((x) => x.type));
  assert.deepEqual(batches, [
    ['chat:start', 'email:send', 'chat:end'],
    ['chat:start', 'chat:end'],
  ]);
  assert.equal(e.requests[1]?.at, e.requests[0]?.at);
  assert.equal(e.run('chatstream.pending()'), 0);
  assert.ok(e.warnings.some((w) => w.includes('refused 1 events (400 INVALID_EVENTS); dropped')));
});

test('413 halves the batch for the next tries, down to 1; an event refused alone is dropped', async () => {
  const e = env({ settings: { maxBatch: 8 } });
  e.run(BARE_API, SNIPPET);
  for (let i = 0; i < 7; i++) e.run(emit('chat:start', `{ n: ${i} }`));
  e.run(emit('email:send')); // refused in any batch
  e.state.respond = (r) => {
    if (r.events.some((x) => x.type === 'email:send')) return refusal(413, 'EVENT_TOO_LARGE', { index: 0 });
    return r.events.length > 2 ? refusal(413, 'TOO_MANY_EVENTS') : { status: 200 };
  };
  await e.clock.advance(1000);
  assert.deepEqual(
    e.requests.map((r) => r.events.length),
    [8, 4, 2, 2, 2, 2, 1, 1],
  );
  const ok = e.requests.filter((r) => r.events.length <= 2 && r.events.every((x) => x.type === 'chat:start'));
  assert.deepEqual(
    ok.flatMap((r) => r.events.map((x) => x.args?.n)),
    [0, 1, 2, 3, 4, 5, 6],
  );
  assert.equal(e.run('chatstream.pending()'), 0);
  assert.ok(e.warnings.some((w) => w.includes('refused 1 events (413 EVENT_TOO_LARGE); dropped')));
});

test('403 keeps the events and tries again in 10 minutes', async () => {
  const e = env();
  e.run(BARE_API, SNIPPET);
  e.run(emit('chat:start'));
  e.state.respond = () => refusal(403, 'ORIGIN_NOT_ALLOWED');
  await e.clock.advance(1000);
  assert.equal(e.run('chatstream.pending()'), 1);
  assert.ok(e.warnings.some((w) => w.includes('(403 ORIGIN_NOT_ALLOWED); kept')));
  e.run(emit('chat:end'));
  await e.clock.advance(9 * 60_000);
  assert.equal(e.requests.length, 1);
  e.state.respond = () => ({ status: 200 });
  await e.clock.advance(60_000);
  assert.deepEqual(e.types(), ['chat:start', 'chat:start', 'chat:end']);
  assert.equal(e.run('chatstream.pending()'), 0);
});

test('a request unanswered in 30 s is aborted and sent again after the back-off', async () => {
  const e = env();
  e.run(BARE_API, SNIPPET);
  e.run(emit('chat:start'));
  e.state.respond = () => 'hang';
  await e.clock.advance(1000);
  e.state.respond = () => ({ status: 200 });
  await e.clock.advance(29_000);
  assert.equal(e.requests.length, 1);
  assert.equal(e.requests[0]?.init.signal?.aborted, false);
  await e.clock.advance(1000);
  assert.equal(e.requests[0]?.init.signal?.aborted, true);
  await e.clock.advance(2000);
  assert.equal(e.requests.length, 2);
  assert.deepEqual(ids(e.requests[1]?.events), ids(e.requests[0]?.events));
  assert.equal(e.run('chatstream.pending()'), 0);
});

test('a full localStorage: the event waits in memory, later ones are stored, sent ones leave the storage', async () => {
  const local = memStorage();
  const e = env({ local });
  e.run(BARE_API, SNIPPET);
  e.run(emit('chat:start'));
  local.full = true;
  e.run(emit('chat:end')); // kept in memory for this page
  local.full = false;
  assert.equal(e.run('chatstream.pending()'), 2);
  assert.equal(await e.run('chatstream.flush()'), 0);
  assert.deepEqual(e.types(), ['chat:start', 'chat:end']);
  e.run(emit('email:send')); // stored again
  const reload = env({ local });
  reload.run(SNIPPET);
  assert.equal(reload.run('chatstream.pending()'), 1);
  await reload.run('chatstream.flush()');
  assert.deepEqual(reload.types(), ['email:send']);
});

test('requireConsent: nothing stored or sent before consent(true); consent(false) forgets everything', async () => {
  const e = env({ settings: { requireConsent: true } });
  await stubFirst(e);
  e.run(START_JOE);
  await e.clock.advance(5000);
  assert.equal(e.requests.length, 0);
  assert.equal(e.local.map.size + e.session.map.size, 0);
  assert.equal(e.run('chatstream.pending()'), 0);
  e.run('chatstream.consent(true)');
  await e.run('chatstream.flush()');
  assert.deepEqual(e.types(), ['visitor:state', 'widget:state']);
  assert.equal(e.ofType('visitor:state')[0]?.args?.['visitor.name'], 'Joe Doe');
  e.run('chatstream.consent(false)');
  assert.equal(e.local.map.size + e.session.map.size, 0);
  e.run('PCDemo.endChat({})');
  await e.clock.advance(5000);
  assert.equal(e.requests.length, 1);
});

test('the queue survives a reload and is sent in batches of maxBatch (flush)', async () => {
  const e = env();
  e.state.respond = () => 'network';
  await stubFirst(e);
  await e.clock.advance(1000);
  const queued = ids(e.queued());
  assert.equal(queued.length, 3);
  const reload = env({ local: e.local, session: e.session, settings: { maxBatch: 2 } });
  reload.run(SNIPPET); // no Pure Chat at all on this page
  assert.equal(reload.run('chatstream.pending()'), 3);
  assert.equal(await reload.run('chatstream.flush()'), 0);
  const sizes = reload.requests.map((r) => r.events.length);
  assert.deepEqual(sizes, [2, 1]);
  assert.deepEqual(ids(reload.sent()), queued);
});

test('an old single-array queue is moved to one key per event; at most 1000 events (oldest dropped)', async () => {
  const local = memStorage();
  const day = Date.parse('2026-11-21T10:00:00.000Z');
  const at = (i: number) => new Date(day + i * 1000).toISOString();
  const old = Array.from({ length: 1000 }, (_, i) => ({
    id: `old-${i}`,
    type: 'chat:start',
    occurredAt: at(i),
  }));
  local.setItem('chatstream.queue', JSON.stringify(old));
  const e = env({ local });
  e.state.respond = () => 'network';
  await stubFirst(e);
  assert.equal(local.getItem('chatstream.queue'), null);
  const queue = e.queued();
  assert.equal(queue.length, 1000);
  assert.equal(queue[0]?.id, 'old-3');
  const newest = queue.slice(-3).map((x) => x.type);
  assert.deepEqual(newest, ['chatbox:ready', 'visitor:state', 'widget:state']);
  assert.ok(e.warnings.some((w) => w.includes('queue full')));
  assert.equal(local.map.size, 1001); // the events and the visitor id
});

test('pagehide / hidden send by beacon what no beacon of this page sent yet, and keep it until a 2xx', async () => {
  const e = env();
  e.run(BARE_API, SNIPPET);
  for (let i = 0; i < 33; i++) e.run(emit('chat:start', `{ n: ${i} }`));
  e.fire('pagehide');
  assert.equal(e.beacons[0]?.url, 'https://collect.example.com/v1/events');
  assert.deepEqual(
    e.beacons.map((b) => b.events.length),
    [20, 13],
  );
  const beaconed = () => e.beacons.flatMap((b) => b.events.map((x) => x.args?.n ?? x.type));
  assert.deepEqual(beaconed(), [...Array(33).keys()]);
  (e.ctx.document as { visibilityState: string }).visibilityState = 'hidden';
  e.fire('document:visibilitychange');
  assert.equal(e.beacons.length, 2); // nothing new
  e.run(emit('chat:end'), emit('email:send'));
  e.fire('document:visibilitychange');
  assert.deepEqual(beaconed().slice(33), ['chat:end', 'email:send']);
  assert.equal(e.run('chatstream.pending()'), 35); // kept
  assert.equal(await e.run('chatstream.flush()'), 0);
  assert.equal(e.sent().length, 35);
});
