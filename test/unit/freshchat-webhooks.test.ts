import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { test } from 'node:test';
import { PublicKeyError, WebhookPayloadError } from '../../producers/freshchat/webhooks/errors.ts';
import { eventId, webhookToRecords } from '../../producers/freshchat/webhooks/mapping.ts';
import { normalizePublicKey, verifySignature } from '../../producers/freshchat/webhooks/signature.ts';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const spkiPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const pkcs1Pem = publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const signB64 = (body: Buffer, key: KeyObject = privateKey) => sign('sha256', body, key).toString('base64');
const sameKey = (key: KeyObject) => assert.ok(key.equals(publicKey));

// --- signatures -------------------------------------------------------------------------------

test('a signature over the exact body verifies; tampering or another key does not', () => {
  const body = Buffer.from('{"action":"message_create","data":{}}');
  assert.equal(verifySignature(body, signB64(body), publicKey), 'ok');
  assert.equal(
    verifySignature(Buffer.from('{"action":"message_create","data":{ }}'), signB64(body), publicKey),
    'mismatch',
  );
  assert.equal(verifySignature(body, signB64(body, other.privateKey), publicKey), 'mismatch');
  assert.equal(verifySignature(body, signB64(body).slice(0, 40), publicKey), 'mismatch', 'wrong length');
});

test('a missing or non-base64 signature is told apart', () => {
  const body = Buffer.from('{}');
  assert.equal(verifySignature(body, undefined, publicKey), 'missing');
  assert.equal(verifySignature(body, '  ', publicKey), 'missing');
  assert.equal(verifySignature(body, 'not base64!', publicKey), 'malformed');
  assert.equal(verifySignature(body, 'sha256=abcd', publicKey), 'malformed');
  assert.equal(verifySignature(body, 'abcde', publicKey), 'malformed');
});

test('a body with emoji and Korean verifies on its raw bytes', () => {
  const body = Buffer.from(JSON.stringify({ text: '안녕하세요 👋🏽 — ça va?' }));
  assert.equal(verifySignature(body, signB64(body), publicKey), 'ok');
  // Re-encoding through latin1 (the bridge bug in SOURCES.md 2.5) breaks it.
  assert.equal(verifySignature(Buffer.from(body.toString('latin1')), signB64(body), publicKey), 'mismatch');
});

test('the public key is accepted the ways operators paste it', () => {
  sameKey(normalizePublicKey(spkiPem));
  sameKey(normalizePublicKey(pkcs1Pem));
  sameKey(normalizePublicKey(`"${spkiPem.trim().replace(/\n/g, '\\n')}"`));
  sameKey(normalizePublicKey(`  '${pkcs1Pem.trim().replace(/\n/g, '\\n')}'\n`));
  sameKey(normalizePublicKey(spkiPem.replace(/\n/g, '')));
  sameKey(normalizePublicKey(spkiPem.replace(/\n/g, ' ')));
  sameKey(normalizePublicKey(pkcs1Pem.replace(/\n/g, '\r\n')));
  const bare = spkiPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, '');
  sameKey(normalizePublicKey(bare));
});

test('a key that is not an RSA public key is refused, naming the problem', () => {
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(
      () => normalizePublicKey(text),
      (e: unknown) => e instanceof PublicKeyError && pattern.test(e.message),
    );
  refused('', /empty/);
  refused(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), /private key/);
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
  refused(ec.export({ type: 'spki', format: 'pem' }).toString(), /not an RSA key \(it is ec\)/);
  refused('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', /not a public key/);
  refused('-----BEGIN PUBLIC KEY-----\nMIIBIjAN***\n-----END PUBLIC KEY-----', /not base64/);
  refused('-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----', /could not be read/);
  refused('hello world', /not a PEM block/);
  refused('ssh-rsa AAAA user@host', /not a PEM block/);
});

// --- mapping (samples from SOURCES.md part 2) -------------------------------------------------

const MESSAGE = {
  message_parts: [{ text: { content: 'Hi there! How can I help?' } }],
  app_id: 'c6ec783e-4c89-490a-bbbc-32c97e2a8c3d',
  actor_id: '1b8d2418-89a3-4de6-b93c-9f6557f13d04',
  org_actor_id: '345162432277281455',
  id: 'a834cd45-c463-4644-b254-be920924a998',
  channel_id: '304d0a73-5135-4be6-9df3-7a4aa2a0d855',
  conversation_id: '35e80ec8-c697-42e4-8ce9-a47a050b1d1a',
  freshchat_conversation_id: '1019183591791880',
  interaction_id: '681406910844650-1669114522220',
  message_type: 'normal',
  actor_type: 'agent',
  created_time: '2022-11-22T10:55:23.126Z',
  user_id: '9047e655-1e83-463e-b1b6-4a44beb1f07f',
  message_source: 'web',
  restrictResponse: false,
  botsPrivateNote: false,
};
const MESSAGE_CREATE = {
  actor: { actor_type: 'agent', actor_id: '1b8d2418-89a3-4de6-b93c-9f6557f13d04' },
  action: 'message_create',
  action_time: '2022-11-22T10:55:23.126Z',
  data: { message: MESSAGE },
};
const CONVERSATION = {
  conversation_id: '35e80ec8-c697-42e4-8ce9-a47a050b1d1a',
  app_id: 'c6ec783e-4c89-490a-bbbc-32c97e2a8c3d',
  status: 'reopened',
  channel_id: '304d0a73-5135-4be6-9df3-7a4aa2a0d855',
  assigned_group_id: '4cf5d9b8-b782-499f-b93c-541229df3729',
  skill_id: 0,
  sla_policy_id: 0,
  sla_breached: false,
};
const REOPEN = {
  actor: { actor_type: 'user', actor_id: '9047e655-1e83-463e-b1b6-4a44beb1f07f' },
  action: 'conversation_reopen',
  action_time: '2022-11-22T10:55:22.272Z',
  data: {
    reopen: {
      reopener: 'user',
      reopener_id: '9047e655-1e83-463e-b1b6-4a44beb1f07f',
      conversation: CONVERSATION,
      interaction_id: '681406910844650-1669114522220',
    },
  },
};
const RESOLVE = {
  actor: { actor_type: 'agent', actor_id: 'a1' },
  action: 'conversation_resolution',
  action_time: '2022-11-22T11:00:00.000Z',
  data: {
    resolve: {
      resolver: 'agent',
      resolver_id: 'a1',
      conversation: { ...CONVERSATION, status: 'resolved', assigned_agent_id: 'a1' },
      interaction_id: 'i-1',
    },
  },
};
const ASSIGNMENT_SECTION = {
  assignor: 'agent',
  assignor_id: 'a1',
  to_agent_id: 'a2',
  to_group_id: 'g2',
  from_agent_id: 'a1',
  from_group_id: 'g1',
  conversation: { ...CONVERSATION, status: 'assigned', assigned_agent_id: 'a2', assigned_group_id: 'g2' },
  interaction_id: 'i-2',
};
const ASSIGNMENT = {
  actor: { actor_type: 'agent', actor_id: 'a1' },
  action: 'conversation_assignment',
  action_time: '2022-11-22T10:56:00.000Z',
  data: { assignment: ASSIGNMENT_SECTION },
};

const only = (payload: unknown) => {
  const { records } = webhookToRecords(payload);
  assert.equal(records.length, 1);
  return records[0]!;
};
const payloadError = (payload: unknown, field: string) =>
  assert.throws(
    () => webhookToRecords(payload),
    (e: unknown) => e instanceof WebhookPayloadError && e.field === field,
  );

test('message_create → the message as is, unknown fields kept', () => {
  const record = only({ ...MESSAGE_CREATE, data: { message: { ...MESSAGE, brand_new_field: [1] } } });
  assert.equal(record.kind, 'freshchat.messages');
  assert.deepEqual(record.value, { ...MESSAGE, brand_new_field: [1] });
});

test('message_create: numeric ids become strings', () => {
  const record = only({
    ...MESSAGE_CREATE,
    data: { message: { ...MESSAGE, freshchat_channel_id: 854617, in_reply_to: { message_id: 7 } } },
  });
  assert.equal(record.value.freshchat_channel_id, '854617');
  assert.deepEqual(record.value.in_reply_to, { message_id: '7' });
});

test('legacy msg_parts become message_parts', () => {
  const { message_parts: _, ...legacy } = MESSAGE;
  const record = only({
    ...MESSAGE_CREATE,
    data: {
      message: {
        ...legacy,
        msg_parts: [
          { part_type: 'text', properties: { text: 'hello 👋' } },
          { part_type: 'image', properties: { url: 'https://x/y.png' } },
        ],
      },
    },
  });
  assert.deepEqual(record.value.message_parts, [
    { text: { content: 'hello 👋' } },
    { image: { url: 'https://x/y.png' } },
  ]);
  assert.equal('msg_parts' in record.value, false);
  payloadError(
    { ...MESSAGE_CREATE, data: { message: { ...legacy, msg_parts: [{ properties: {} }] } } },
    'data.message.msg_parts[0].part_type',
  );
});

test('conversation_reopen → a conversation event with every schema field', () => {
  const record = only(REOPEN);
  assert.equal(record.kind, 'freshchat.conversation_events');
  assert.deepEqual(record.value, {
    event_id: eventId(
      'conversation_reopen',
      CONVERSATION.conversation_id,
      REOPEN.action_time,
      REOPEN.actor.actor_id,
    ),
    action: 'conversation_reopen',
    action_time: '2022-11-22T10:55:22.272Z',
    conversation_id: CONVERSATION.conversation_id,
    actor_type: 'user',
    actor_id: '9047e655-1e83-463e-b1b6-4a44beb1f07f',
    by: 'user',
    by_id: '9047e655-1e83-463e-b1b6-4a44beb1f07f',
    app_id: CONVERSATION.app_id,
    channel_id: CONVERSATION.channel_id,
    status: 'reopened',
    assigned_agent_id: null,
    assigned_group_id: CONVERSATION.assigned_group_id,
    from_agent_id: null,
    from_group_id: null,
    to_agent_id: null,
    to_group_id: null,
    interaction_id: '681406910844650-1669114522220',
    skill_id: '0',
    sla_policy_id: '0',
    sla_breached: false,
  });
  assert.match(record.value.event_id as string, /^[0-9a-f]{32}$/);
});

test('the 2018 reopen with status "reopen" and assigned_agent_id keeps them as sent', () => {
  const conversation = {
    conversation_id: 'c-2018',
    app_id: 'app',
    status: 'reopen',
    assigned_agent_id: 'ag-1',
  };
  const record = only({ ...REOPEN, data: { reopen: { reopener: 'user', reopener_id: 'u1', conversation } } });
  assert.equal(record.value.status, 'reopen');
  assert.equal(record.value.assigned_agent_id, 'ag-1');
  assert.equal(record.value.conversation_id, 'c-2018');
  assert.equal(record.value.interaction_id, null);
});

test('conversation_resolution → resolver as by / by_id', () => {
  const value = only(RESOLVE).value;
  assert.equal(value.action, 'conversation_resolution');
  assert.deepEqual(
    [value.by, value.by_id, value.status, value.assigned_agent_id],
    ['agent', 'a1', 'resolved', 'a1'],
  );
  assert.equal(value.interaction_id, 'i-1');
});

test('conversation_assignment (guessed shape) → assignor and from / to ids, under any single data key', () => {
  const value = only(ASSIGNMENT).value;
  assert.deepEqual(
    [value.by, value.by_id, value.from_agent_id, value.from_group_id, value.to_agent_id, value.to_group_id],
    ['agent', 'a1', 'a1', 'g1', 'a2', 'g2'],
  );
  assert.deepEqual(
    [value.status, value.assigned_agent_id, value.assigned_group_id],
    ['assigned', 'a2', 'g2'],
  );
  const renamed = only({ ...ASSIGNMENT, data: { assign: ASSIGNMENT_SECTION, noise: 1 } }).value;
  assert.deepEqual(renamed, value);
  payloadError({ ...ASSIGNMENT, data: { a: ASSIGNMENT_SECTION, b: ASSIGNMENT_SECTION } }, 'data.assignment');
});

test('a redelivery gets the same event_id; another time or actor does not', () => {
  const first = only(REOPEN).value.event_id;
  assert.equal(only(structuredClone(REOPEN)).value.event_id, first);
  assert.notEqual(only({ ...REOPEN, action_time: '2022-11-22T10:55:22.273Z' }).value.event_id, first);
  assert.notEqual(only({ ...REOPEN, actor: { actor_type: 'agent', actor_id: 'x' } }).value.event_id, first);
});

test('an unknown action is kept, with its data as raw JSON text', () => {
  const data = { thing: { nested: { conversation: { conversation_id: 'c-9' } } }, n: 1 };
  const value = only({
    actor: { actor_type: 'system' },
    action: 'conversation_group_assignment',
    action_time: '2024-01-01T00:00:00.000Z',
    data,
  }).value;
  assert.equal(value.action, 'conversation_group_assignment');
  assert.equal(value.conversation_id, 'c-9');
  assert.equal(value.actor_type, 'system');
  assert.equal(value.actor_id, null);
  assert.equal(value.raw, JSON.stringify(data));
  assert.match(value.event_id as string, /^[0-9a-f]{32}$/);
  const flat = only({
    action: 'user_create',
    action_time: '2024-01-01T00:00:00.000Z',
    data: { user: { conversation_id: 42 } },
  });
  assert.equal(flat.value.conversation_id, '42');
  const none = only({ action: 'user_create', action_time: '2024-01-01T00:00:00.000Z' });
  assert.deepEqual([none.value.conversation_id, none.value.raw], ['', 'null']);
});

test('payloads that cannot be mapped name the field', () => {
  payloadError([], 'payload');
  payloadError('x', 'payload');
  payloadError({ data: {} }, 'action');
  payloadError({ action: 5 }, 'action');
  payloadError({ action: 'message_create' }, 'data');
  payloadError({ action: 'message_create', data: { message: 'hi' } }, 'data.message');
  payloadError({ action: 'message_create', data: { message: { ...MESSAGE, id: '' } } }, 'data.message.id');
  payloadError({ ...REOPEN, action_time: 'yesterday' }, 'action_time');
  payloadError({ ...REOPEN, action_time: undefined }, 'action_time');
  payloadError({ ...REOPEN, actor: 'x' }, 'actor');
  payloadError({ ...REOPEN, data: { resolve: {} } }, 'data.reopen');
  payloadError({ ...REOPEN, data: { reopen: {} } }, 'data.reopen.conversation');
  payloadError(
    { ...REOPEN, data: { reopen: { conversation: {} } } },
    'data.reopen.conversation.conversation_id',
  );
});

test('an action named like an Object.prototype member is just an unknown action', () => {
  const value = only({
    action: 'toString',
    action_time: '2024-01-01T00:00:00Z',
    data: { hasOwnProperty: 1 },
  }).value;
  assert.equal(value.action, 'toString');
  assert.equal(value.raw, '{"hasOwnProperty":1}');
});
