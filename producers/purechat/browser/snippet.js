/*! chatstream Pure Chat snippet v1 (docs/PURECHAT.md) */
/*
 * Subscribes to the Pure Chat widget's events on this page and sends them to the chatstream
 * collector (POST {collector}/v1/events). Plain ES2017, no dependencies; the collector serves
 * it minified. It never throws into the page: every entry point is wrapped in try/catch.
 *
 * Three load orders work:
 *  (a) Pure Chat's stub exists, the widget has not loaded: `purechatApi.on` queues our handlers
 *      in `purechatApi.l`, which the widget replays in order (after the page's own handlers);
 *  (b) the widget is live (`purechatApi.get` exists): subscribe and read the state at once,
 *      as chatbox:ready has already fired;
 *  (c) no `window.purechatApi` yet: an accessor on window catches the embed's assignment,
 *      subscribes on the object assigned and turns back into a plain data property.
 */
(() => {
  'use strict';
  if (window.chatstream && window.chatstream.version) return; // loaded twice: the first copy works

  const words = (text) => text.split(' ');
  const builtIn = words(
    'chatbox:ready chatbox:expand chatbox:collapse chatbox:minimize chat:start chat:end email:send',
  );
  const visitorFields = words('name firstName lastName email phoneNumber company question');
  const defaultWidgetKeys = words(
    'chatbox.position chatbox.expanded chatbox.visible chatbox.showMinimizeButton chatbox.unavailableBehavior enableTranscriptDownload',
  );
  const typeRule = /^[A-Za-z0-9_.:-]{1,64}$/; // the protocol's rule for `type`
  const forbiddenKey = /^(__proto__|constructor|prototype)$/; // refused by the collector
  const maxQueue = 1000; // events kept at most; the oldest go first
  const maxBody = 60000; // bytes per request: fetch keepalive and sendBeacon allow 64 KiB
  const maxEvent = 32000; // bytes per event (the collector's default limit is 32 KiB)
  const idleMs = 30 * 60 * 1000; // a new session after 30 minutes without events
  const pollMs = 3000; // how often the widget's state is compared with what was sent
  const maxBackoff = 60000;
  const timeoutMs = 30000; // a request unanswered by then is aborted: a network error
  const refusedMs = 600000; // after a 403 (the collector's configuration) try again in 10 minutes
  const othersMs = 10000; // another tab's events are its own to send until they are this old
  const local = 'localStorage';
  const session = 'sessionStorage';
  const prefix = 'chatstream.q.'; // local: one key per queued event (its JSON), so tabs never collide
  const legacyKey = 'chatstream.queue'; // local: the whole queue as one array (earlier versions)
  const vidKey = 'chatstream.vid'; // local: the anonymous visitor id
  const sidKey = 'chatstream.sid'; // session: the session id…
  const seenKey = 'chatstream.seen'; // …and when it was last used (epoch ms)
  const visitorStateKey = 'chatstream.visitorState'; // session: the last visitor:state / widget:state sent
  const widgetStateKey = 'chatstream.widgetState';
  const stateKeys = { 'visitor:state': visitorStateKey, 'widget:state': widgetStateKey };

  // fn(), or fallback when it throws; guard(fn): a callback that never throws into the page.
  const attempt = (fn, fallback) => {
    try {
      return fn();
    } catch (_) {
      return fallback;
    }
  };
  const guard =
    (fn) =>
    (...args) =>
      attempt(() => fn(...args));

  // ---- Settings: window.chatstreamSettings, then data-* on our own <script> tag.
  const settings = window.chatstreamSettings || {};
  const script = document.currentScript;
  const attr = (name) => attempt(() => script.getAttribute(name), null);
  const scriptOrigin = () => attempt(() => new URL(script.src).origin, ''); // '' when inline
  const list = (value, fallback) => (Array.isArray(value) ? value.map(String) : fallback);
  const positive = (value, fallback) => (value > 0 ? Number(value) : fallback);

  const widgetId = String(settings.widgetId || attr('data-widget-id') || '').slice(0, 128);
  const origin = scriptOrigin();
  const collector = String(
    settings.collector || attr('data-collector') || (origin !== 'null' && origin) || location.origin,
  ).replace(/\/+$/, ''); // default: where snippet.js came from
  const endpoint = `${collector}/v1/events`;
  const types = builtIn.slice();
  for (const type of list(settings.events, [])) {
    if (!typeRule.test(type)) console.warn(`chatstream: ignored event name "${type}"`);
    else if (types.indexOf(type) < 0) types.push(type);
  }
  const visitorKeys = list(
    settings.visitorKeys,
    visitorFields.map((k) => `visitor.${k}`),
  );
  const widgetKeys = list(settings.widgetKeys, defaultWidgetKeys);
  const flushMs = positive(settings.flushIntervalMs, 1000);
  const maxBatch = Math.min(positive(settings.maxBatch, 20), 500);
  let consented = !settings.requireConsent;
  if (!widgetId) console.warn('chatstream: no widget id (chatstreamSettings.widgetId); nothing is sent');

  // ---- Storage. Any access may throw (Safari private mode, blocked cookies, a full quota): a
  // value that could not be written lives in memory for this page; later writes try again.
  const memory = {};
  const storage = (name, fn) => attempt(() => fn(window[name])); // undefined when it threw
  const load = (name, key) => {
    const value = memory[`${name}:${key}`];
    if (value !== undefined) return value;
    const stored = storage(name, (s) => s.getItem(key));
    return stored === undefined ? null : stored;
  };
  const save = (name, key, value) => {
    if (storage(name, (s) => s.setItem(key, value) || true)) delete memory[`${name}:${key}`];
    else memory[`${name}:${key}`] = value;
  };
  const remove = (name, key) => {
    delete memory[`${name}:${key}`];
    storage(name, (s) => s.removeItem(key));
  };

  // ---- Ids.
  const uuid = () => {
    const c = window.crypto || {};
    const id = attempt(() => c.randomUUID(), ''); // secure contexts (https) only
    if (id) return id;
    const b = new Uint8Array(16);
    if (!attempt(() => c.getRandomValues(b), null)) for (let i = 0; i < 16; i++) b[i] = Math.random() * 256;
    b[6] = (b[6] & 15) | 64; // version 4
    b[8] = (b[8] & 63) | 128; // variant 10
    let hex = '';
    for (let i = 0; i < 16; i++)
      hex += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + (b[i] + 256).toString(16).slice(1);
    return hex;
  };
  const visitorId = () => {
    const id = load(local, vidKey) || uuid();
    save(local, vidKey, id);
    return id;
  };
  const sessionId = (now) => {
    let id = load(session, sidKey);
    if (!id || !(now - Number(load(session, seenKey)) < idleMs)) {
      id = uuid();
      remove(session, visitorStateKey); // a new session gets the state again
      remove(session, widgetStateKey);
    }
    save(session, sidKey, id);
    save(session, seenKey, String(now));
    return id;
  };

  // ---- Values → plain JSON: own enumerable JSON-able values only, no cycles, bounded depth.
  const plain = (value, depth) => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number') return Number.isFinite(value) ? value : null;
    if (typeof value !== 'object' || depth > 8) return undefined;
    if (Array.isArray(value))
      return value.map((v) => {
        const p = plain(v, depth + 1);
        return p === undefined ? null : p;
      });
    const out = {};
    for (const key of Object.keys(value)) {
      try {
        const p = forbiddenKey.test(key) ? undefined : plain(value[key], depth + 1);
        if (p !== undefined) out[key] = p;
      } catch (_) {} // a throwing getter
    }
    return out;
  };
  const copyArgs = (args) => {
    const out = args && typeof args === 'object' && !Array.isArray(args) ? plain(args, 0) : null;
    return out && Object.keys(out).length > 0 ? out : null;
  };
  // UTF-8 bytes, an upper bound that is cheap to compute.
  const bytes = (text) => text.length + 2 * (text.match(/[\u0080-\uffff]/g) || []).length;
  const clip = (text) => (text ? String(text).slice(0, 4096) : null);

  // ---- The queue: the keys `chatstream.q.<id>` of every tab of the site (plus what the quota
  // kept in memory), the oldest first (occurredAt, then id). Recording writes one key,
  // forgetting removes the sent ones: tabs never overwrite each other's events.
  const mine = {}; // ids recorded on this page
  const beaconed = {}; // ids sent by sendBeacon on this page
  const queueKeys = () => {
    const keys = storage(local, (s) => Array.from({ length: s.length }, (_, i) => s.key(i))) || [];
    for (const key of Object.keys(memory))
      if (key.indexOf(local) === 0) keys.push(key.slice(local.length + 1));
    return keys.filter((key) => key && key.indexOf(prefix) === 0);
  };
  const rank = (e) => `${e.occurredAt} ${e.id}`;
  const readQueue = () => {
    const queue = [];
    for (const key of queueKeys()) {
      const event = attempt(() => JSON.parse(load(local, key)));
      if (event && event.id) queue.push(event);
      else remove(local, key); // unreadable
    }
    return queue.sort((a, b) => (rank(a) < rank(b) ? -1 : 1));
  };
  const forget = (events) => {
    for (const e of events) {
      remove(local, prefix + e.id);
      delete mine[e.id];
      delete beaconed[e.id];
    }
  };
  // The queue of earlier versions (one array) becomes one key per event, once.
  const legacy = load(local, legacyKey);
  if (legacy !== null) remove(local, legacyKey); // first: it makes room
  const old = attempt(() => JSON.parse(legacy), null);
  if (Array.isArray(old)) for (const e of old) if (e && e.id) save(local, prefix + e.id, JSON.stringify(e));

  let lastAt = 0; // occurredAt increases on this page, so that the queue keeps the recording order
  const record = (type, args) => {
    if (!consented || !widgetId) return;
    const now = Math.max(Date.now(), lastAt + 1);
    lastAt = now;
    const event = {
      id: uuid(),
      type,
      widgetId,
      occurredAt: new Date(now).toISOString(),
      visitorId: visitorId(),
      sessionId: sessionId(now),
      pageUrl: clip(location.href),
      referrer: clip(document.referrer),
      args,
    };
    if (bytes(JSON.stringify(event)) > maxEvent) {
      console.warn(`chatstream: the args of ${type} are too large; sent without them`);
      event.args = null;
    }
    mine[event.id] = true;
    save(local, prefix + event.id, JSON.stringify(event));
    const queue = queueKeys().length > maxQueue ? readQueue() : [];
    if (queue.length > maxQueue) {
      console.warn(`chatstream: queue full; dropped the ${queue.length - maxQueue} oldest events`);
      forget(queue.slice(0, queue.length - maxQueue));
    }
  };

  // ---- State: visitor.* and widget settings through purechatApi.get, sent when they change.
  const operatorsAvailable = () => {
    const button = attempt(() => document.querySelector('#PureChatWidget input.purechat-btn[type=submit]'));
    const label = button ? String(button.value || button.textContent || '').trim() : '';
    if (label === 'Start Chat') return true;
    return label === 'Send Email' ? false : null;
  };
  const sendIfChanged = (type, key, args) => {
    const json = JSON.stringify(args);
    if (json === load(session, key)) return;
    record(type, args);
    save(session, key, json);
  };
  const checkState = () => {
    const api = window.purechatApi;
    if (!consented || !widgetId || !api || typeof api.get !== 'function') return;
    const read = (keys) => {
      const out = {};
      for (const key of keys) {
        const value = attempt(() => plain(api.get(key), 1));
        out[key] = value === undefined ? null : value;
      }
      return out;
    };
    sendIfChanged('visitor:state', visitorStateKey, read(visitorKeys));
    const widget = read(widgetKeys);
    widget.operatorsAvailable = operatorsAvailable();
    sendIfChanged('widget:state', widgetStateKey, widget);
  };

  // ---- Subscribing.
  let attached = null;
  const handler = (type) =>
    guard((args) => {
      record(type, copyArgs(args));
      checkState();
    });
  const attach = (api) => {
    if (!api || api === attached || typeof api.on !== 'function') return;
    attached = api;
    for (const type of types) attempt(() => api.on(type, handler(type)));
    if (typeof api.get === 'function') checkState(); // live: chatbox:ready has already fired
  };
  const trap = () => {
    let held;
    Object.defineProperty(window, 'purechatApi', {
      configurable: true,
      enumerable: true,
      get: () => held,
      set: (value) => {
        held = value;
        const plainProperty = { value, writable: true, configurable: true, enumerable: true };
        attempt(() => Object.defineProperty(window, 'purechatApi', plainProperty));
        attempt(() => attach(value));
      },
    });
  };

  // ---- Sending: one request in flight. 2xx forgets the batch; a network error, a time-out,
  // 408, 429 and 5xx retry with back-off; 403 keeps the events and waits long (the collector's
  // configuration); 413 halves the batch; 400 INVALID_EVENTS drops the events it names and
  // sends the rest again; any other 4xx drops the batch (it would never be accepted).
  let inFlight = null;
  let retryAt = 0;
  let backoff = 1000;
  let limit = maxBatch; // events per request, halved by a 413
  let resent = {}; // the state kinds sent again after a 4xx dropped them, since the last 2xx
  // The timer sends this page's events and those another tab left behind (a closed tab's),
  // not the fresh ones of another open tab (sending them too is harmless: the ids dedupe).
  const sendable = (queue, all) =>
    all ? queue : queue.filter((e) => mine[e.id] || !(Date.now() - Date.parse(e.occurredAt) < othersMs));
  const nextBatch = (queue) => {
    const batch = [];
    let size = 12;
    for (const event of queue) {
      const n = bytes(JSON.stringify(event)) + 1;
      if (batch.length > 0 && (batch.length >= limit || size + n > maxBody)) break;
      batch.push(event);
      size += n;
    }
    return batch;
  };
  // Back-off, or the response's Retry-After (seconds or a date); → false: stop for now.
  const later = (res) => {
    const retryAfter = res && res.headers ? res.headers.get('Retry-After') : null;
    const seconds = retryAfter ? Number(retryAfter) : Number.NaN;
    const date = retryAfter ? Date.parse(retryAfter) - Date.now() : Number.NaN;
    let delay = backoff;
    if (seconds >= 0) delay = seconds * 1000;
    else if (date >= 0) delay = date;
    retryAt = Date.now() + Math.min(delay, 3600000);
    backoff = Math.min(backoff * 2, maxBackoff);
    return false;
  };
  const warn = (events, why, fate) =>
    console.warn(`chatstream: the collector refused ${events.length} events (${why}); ${fate}`);
  // → true: go on with the next batch.
  const refused = (status, body, batch) => {
    const error = (body && body.error) || {};
    const why = `${status} ${error.code || ''}`;
    if (status === 403) {
      warn(batch, why, 'kept; trying again in 10 minutes');
      retryAt = Date.now() + refusedMs;
      return false;
    }
    if (status === 413 && batch.length > 1) {
      limit = batch.length >> 1;
      return true;
    }
    const named = {};
    const problems = error.code === 'INVALID_EVENTS' && error.details && error.details.events;
    for (const p of Array.isArray(problems) ? problems : []) if (p) named[p.index] = true;
    const bad = batch.filter((_, i) => named[i]); // the events at fault; the others go again
    const dropped = bad.length > 0 ? bad : batch;
    warn(dropped, why, 'dropped');
    forget(dropped);
    // A dropped state is sent again at the next poll; once until a 2xx, not at every poll to a
    // collector that refuses everything.
    for (const e of dropped)
      if (stateKeys[e.type] && !resent[e.type]) {
        resent[e.type] = true;
        remove(session, stateKeys[e.type]);
      }
    return true;
  };
  const answer = (res, batch) => {
    const status = res.status;
    if (status >= 200 && status < 300) {
      forget(batch);
      backoff = 1000;
      retryAt = 0;
      resent = {};
      return true;
    }
    if (status === 408 || status === 429 || status >= 500) return later(res);
    const because = (body) => refused(status, body, batch);
    return res.json().then(because, () => because(null));
  };
  // fetch, rejected (and aborted where AbortController exists) when unanswered in timeoutMs.
  const post = (body) =>
    new Promise((resolve, reject) => {
      const abort = attempt(() => new AbortController(), null);
      const timer = setTimeout(() => {
        if (abort) abort.abort();
        reject(new Error('timeout'));
      }, timeoutMs);
      const headers = { 'Content-Type': 'text/plain;charset=UTF-8' };
      const init = { method: 'POST', body, headers, keepalive: true, credentials: 'omit' };
      if (abort) init.signal = abort.signal;
      fetch(endpoint, init)
        .then(resolve, reject)
        .then(() => clearTimeout(timer));
    });
  const sendBatch = (all) => {
    if (inFlight) return inFlight;
    const batch = consented ? nextBatch(sendable(readQueue(), all)) : [];
    if (batch.length === 0 || typeof fetch !== 'function') return Promise.resolve(false);
    const done = (ok) => {
      inFlight = null;
      return ok;
    };
    inFlight = post(JSON.stringify({ events: batch }))
      .then((res) => answer(res, batch), later)
      .then(done, () => done(false));
    return inFlight;
  };
  // Sends batch after batch until none is left, a request fails or `left` batches went (a
  // bound, should another tab keep refilling the queue); → the number of events left.
  const drain = (all, left = 60) =>
    sendBatch(all).then((ok) =>
      ok && consented && left > 1 && sendable(readQueue(), all).length > 0 ? drain(all, left - 1) : pending(),
    );
  const pending = () => (consented ? readQueue().length : 0);
  // The page is being hidden: send by beacon what no beacon of this page carried yet. The
  // events stay queued (the answer is unknown) until a fetch's 2xx removes them.
  const beacon = () => {
    if (!consented || !navigator.sendBeacon) return;
    let queue = sendable(readQueue()).filter((e) => !beaconed[e.id]);
    while (queue.length > 0) {
      const batch = nextBatch(queue);
      if (!navigator.sendBeacon(endpoint, JSON.stringify({ events: batch }))) break;
      for (const e of batch) beaconed[e.id] = true;
      queue = queue.slice(batch.length);
    }
  };

  window.chatstream = {
    version: '1',
    /** true: collect from now on; false: stop, and forget the queue and the ids. */
    consent: guard((yes) => {
      consented = Boolean(yes);
      if (consented) return checkState();
      for (const key of queueKeys().concat(vidKey)) remove(local, key);
      for (const key of [sidKey, seenKey, visitorStateKey, widgetStateKey]) remove(session, key);
    }),
    /** Sends the queue (every tab's) now; resolves to the number of events still pending. */
    flush: () => attempt(() => drain(true).catch(pending), Promise.resolve(0)),
    pending: () => attempt(pending, 0),
  };

  // A failed trap (a `var purechatApi` is not configurable) is covered by the poll's attach.
  attempt(() => (window.purechatApi ? attach(window.purechatApi) : trap()));
  setInterval(
    guard(() => {
      if (consented && !inFlight && Date.now() >= retryAt) drain(false).catch(() => {});
    }),
    flushMs,
  );
  setInterval(
    guard(() => {
      if (!attached) attach(window.purechatApi);
      checkState();
    }),
    pollMs,
  );
  window.addEventListener('pagehide', guard(beacon));
  document.addEventListener(
    'visibilitychange',
    guard(() => {
      if (document.visibilityState === 'hidden') beacon();
    }),
  );
})();
