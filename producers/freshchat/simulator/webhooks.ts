/**
 * Webhooks (SOURCES.md part 2): the four payload envelopes, the RSA-SHA256 (PKCS#1 v1.5)
 * signature over the exact body bytes, and delivery. Events the simulator makes are delivered
 * in order through one queue, retried a few times with X-Retry-Count counting up; failures are
 * logged, never thrown, and the API server never waits for them.
 */
import { sign } from 'node:crypto';
import type { Logger } from '../../../core/log.ts';
import type { Renderer } from './render.ts';
import type { Counters } from './stats.ts';
import { iso } from './time.ts';
import type { Message, WebhookOptions, WebhookPayload } from './types.ts';
import type { StatusEvent, World, WorldEvent } from './world.ts';

/** UNCONFIRMED: the assignment payload's key names, a guess by analogy with reopen/resolve. */
export const ASSIGNMENT_KEYS = {
  data: 'assignment',
  assignor: 'assignor',
  assignorId: 'assignor_id',
  toAgent: 'to_agent_id',
  toGroup: 'to_group_id',
  fromAgent: 'from_agent_id',
  fromGroup: 'from_group_id',
} as const;

/** base64 RSA-SHA256 (PKCS#1 v1.5) over the exact bytes, the X-Freshchat-Signature value. */
export function signBody(body: Buffer | string, privateKeyPem: string): string {
  return sign('sha256', typeof body === 'string' ? Buffer.from(body, 'utf8') : body, privateKeyPem).toString(
    'base64',
  );
}

function statusPayload(event: StatusEvent, render: Renderer): WebhookPayload {
  const conversation = render.conversationAt(event);
  const actor = { actor_type: event.actorType, actor_id: event.actorId };
  const common = { action_time: iso(event.time) };
  const interaction = { interaction_id: event.interactionId };
  if (event.kind === 'resolution')
    return {
      actor,
      action: 'conversation_resolution',
      ...common,
      data: {
        resolve: { resolver: event.actorType, resolver_id: event.actorId, conversation, ...interaction },
      },
    };
  if (event.kind === 'reopen')
    return {
      actor,
      action: 'conversation_reopen',
      ...common,
      data: {
        reopen: { reopener: event.actorType, reopener_id: event.actorId, conversation, ...interaction },
      },
    };
  const k = ASSIGNMENT_KEYS;
  const assignment = {
    [k.assignor]: event.actorType,
    [k.assignorId]: event.actorId,
    [k.toAgent]: event.assignedAgentId ?? null,
    [k.toGroup]: event.assignedGroupId ?? null,
    [k.fromAgent]: event.fromAgentId ?? null,
    [k.fromGroup]: event.fromGroupId ?? null,
    conversation,
    ...interaction,
  };
  return { actor, action: 'conversation_assignment', ...common, data: { [k.data]: assignment } };
}

/** The webhook an event of the world produces; `action_time` is a few ms after the message. */
export function payloadOf(event: WorldEvent, world: World, render: Renderer): WebhookPayload {
  if (event.kind !== 'message') return statusPayload(event, render);
  const message: Message = render.message(event.message);
  return {
    actor: { actor_type: message.actor_type, actor_id: message.actor_id },
    action: 'message_create',
    action_time: iso(
      Date.parse((world.messages[event.message] as Message).created_time) + (event.message % 5) + 1,
    ),
    data: { message },
  };
}

export interface SendOptions {
  url?: string;
  retryCount?: number;
  tamper?: boolean;
  signWith?: string;
  omitSignature?: boolean;
}

/** The body changed after signing, still valid JSON where it was: the signature must fail. */
const tampered = (body: string): string =>
  body.endsWith('}') ? `${body.slice(0, -1)},"tampered":true}` : `${body} `;

export class WebhookSender {
  readonly #privateKeyPem: string;
  readonly #settings: Required<WebhookOptions>;
  readonly #log: Logger;
  readonly #stats: Counters;
  readonly #abort = new AbortController();
  #queue: Promise<void> = Promise.resolve();

  constructor(privateKeyPem: string, settings: Required<WebhookOptions>, log: Logger, stats: Counters) {
    this.#privateKeyPem = privateKeyPem;
    this.#settings = settings;
    this.#log = log;
    this.#stats = stats;
  }

  /** One signed POST. Network errors are thrown to the caller. */
  async send(
    url: string,
    payload: object | string,
    options: SendOptions = {},
  ): Promise<{ status: number; body: string }> {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'X-Freshchat-Payload-Version': this.#settings.payloadVersion,
      'X-Retry-Count': String(options.retryCount ?? 0),
    };
    if (!options.omitSignature)
      headers['X-Freshchat-Signature'] = signBody(body, options.signWith ?? this.#privateKeyPem);
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#settings.timeoutMs)]);
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body: Buffer.from(options.tamper ? tampered(body) : body, 'utf8'),
      signal,
    });
    this.#stats.inc('webhooks.sent');
    return { status: response.status, body: await response.text() };
  }

  /** Queues payloads for delivery in order; resolves when they are delivered or given up on. */
  deliver(url: string, payloads: WebhookPayload[]): Promise<void> {
    const run = async () => {
      for (const payload of payloads) await this.#deliverOne(url, JSON.stringify(payload));
    };
    this.#queue = this.#queue.then(run, run);
    return this.#queue;
  }

  async #deliverOne(url: string, body: string): Promise<void> {
    for (let attempt = 0; attempt <= this.#settings.retries && !this.#abort.signal.aborted; attempt++) {
      if (attempt > 0) {
        this.#stats.inc('webhooks.retries');
        await this.#sleep(this.#settings.retryDelayMs * 2 ** (attempt - 1));
      }
      try {
        const { status } = await this.send(url, body, { retryCount: attempt });
        if (status >= 200 && status < 300) return;
        this.#log.warn('webhook refused', { url, status, attempt });
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        this.#log.warn('webhook delivery failed', { url, error, attempt });
      }
      this.#stats.inc('webhooks.failed');
    }
    if (!this.#abort.signal.aborted) {
      this.#stats.inc('webhooks.dropped');
      this.#log.error('webhook given up', { url, attempts: this.#settings.retries + 1 });
    }
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops retries and in-flight deliveries, and waits for the queue to settle. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#queue.catch(() => {});
  }
}
