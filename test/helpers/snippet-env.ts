/**
 * The world the snippet tests run the chatstream snippet (producers/purechat/browser/snippet.js)
 * and the fake Pure Chat widget (demo/widget.js) in: a node:vm context with a minimal fake DOM,
 * fake storage, a recording fetch / sendBeacon and a fake clock (no real waiting).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const dir = new URL('../../producers/purechat/browser/', import.meta.url);
export const SNIPPET = readFileSync(new URL('snippet.js', dir), 'utf8');
export const WIDGET = readFileSync(new URL('demo/widget.js', dir), 'utf8');
export const STUB = 'window.purechatApi = { l: [], t: [], on: function () { this.l.push(arguments); } };';
export const WIDGET_ID = '9aa40980-a367-4eaf-9c09-d1b66ccaff57';
export const BOOT = `new PCWidget({ c: '${WIDGET_ID}', f: true })`; // what the embed's onload does
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const PAGE = 'https://shop.example.com/widgets/model-x?ref=ad';
export const JOE = {
  name: 'Joe Doe',
  email: 'joe@example.com',
  question: 'Hi',
  firstName: 'Joe',
  lastName: 'Doe',
};
export const START_JOE = `PCDemo.startChat(${JSON.stringify(JOE)})`;
export const PAGE_HANDLER =
  "purechatApi.on('chat:start', function () { window.pageCalls = 1; throw new Error('bug'); })";
/** A bare purechatApi (no `get`, so no state events): `emit` fires exactly one event. */
export const BARE_API =
  'var handlers = {}; window.purechatApi = { on: function (n, h) { (handlers[n] = handlers[n] || []).push(h); } };';
export const emit = (type: string, args = '{}') => `handlers['${type}'][0](${args})`;
export const refusal = (status: number, code: string, details?: unknown): Reply => ({
  status,
  body: { error: { code, message: code, details } },
});

// ---- A minimal DOM: elements, classes, attributes, and querySelector for `#id tag.class[a=b]`.
export class El {
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
export const memStorage = (map = new Map<string, string>()) => {
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
export type MemStorage = ReturnType<typeof memStorage>;
export const QUEUED = 'chatstream.q.';
/** The events queued in a Storage (the snippet's order: occurredAt, then id). */
export const queuedIn = (local: MemStorage): Sent[] =>
  [...local.map]
    .filter(([key]) => key.startsWith(QUEUED))
    .map(([, value]) => JSON.parse(value) as Sent)
    .sort((a, b) => (`${a.occurredAt} ${a.id}` < `${b.occurredAt} ${b.id}` ? -1 : 1));

// ---- A fake clock: timers run only in advance(), which also lets promises settle.
export const settle = () => new Promise((resolve) => setImmediate(resolve));
export class Clock {
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

export type Sent = {
  id: string;
  type: string;
  args: Record<string, unknown> | null;
  [field: string]: unknown;
};
export type Reply = { status: number; headers?: Record<string, string>; body?: unknown };
export type Init = {
  method: string;
  headers: Record<string, string>;
  keepalive: boolean;
  credentials: string;
  signal?: AbortSignal;
};
export type Request = { url: string; init: Init; events: Sent[]; at: number };

export function env(options: { local?: MemStorage; session?: MemStorage; settings?: object } = {}) {
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
export type Env = ReturnType<typeof env>;
export const ids = (events: Sent[] | undefined) => (events ?? []).map((x) => x.id);

/** Order (a): stub, then the snippet, then the widget loads and fires chatbox:ready. */
export async function stubFirst(e: Env, beforeSnippet = '') {
  e.run(STUB, beforeSnippet, SNIPPET, WIDGET, BOOT);
  await e.clock.advance(0);
}

export function assertProtocol(e: Env, event: Sent) {
  const fields = 'args id occurredAt pageUrl referrer sessionId type visitorId widgetId';
  assert.deepEqual(Object.keys(event).sort(), fields.split(' '));
  assert.match(event.id, UUID);
  assert.equal(event.widgetId, WIDGET_ID);
  assert.match(String(event.occurredAt), /^2026-11-22T10:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(event.visitorId, e.local.getItem('chatstream.vid'));
  assert.equal(event.sessionId, e.session.getItem('chatstream.sid'));
  assert.deepEqual([event.pageUrl, event.referrer], [PAGE, 'https://www.google.com/']);
}
