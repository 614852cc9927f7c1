/**
 * The chatstream snippet in the browser world of test/helpers/snippet-env.ts, part 1: the three
 * load orders of stub, snippet and widget, the event protocol, and state events. Delivery
 * (retries, refusals, storage, consent, beacons): purechat-snippet-delivery.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertProtocol,
  BOOT,
  env,
  type Init,
  ids,
  JOE,
  PAGE_HANDLER,
  SNIPPET,
  START_JOE,
  STUB,
  stubFirst,
  UUID,
  WIDGET,
  WIDGET_ID,
} from '../helpers/snippet-env.ts';

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
