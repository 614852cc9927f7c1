/**
 * The Freshchat API simulator: a local HTTP server speaking Freshchat REST v2 (SOURCES.md
 * part 1) over a seeded, growing world, and a sender of signed webhooks (part 2). Used by
 * tests, benchmarks and the demo.
 *
 *   const sim = await FreshchatSimulator.start({ seed: 7, webhookUrl });
 *   // GET `${sim.url}/users` with `Authorization: Bearer ${sim.apiKey}`
 *   await sim.tick();
 *   await sim.stop();
 */
import { generateKeyPair } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { ExtractJobs } from './extract.ts';
import { FaultInjector, RateLimiter } from './faults.ts';
import { addMessage, addUser, type Changes, noChanges, type StepSettings, step } from './growth.ts';
import { buildHistory } from './history.ts';
import { type Resolved, resolveOptions } from './options.ts';
import { Renderer } from './render.ts';
import type { ApiContext } from './routes.ts';
import { CONTROL_PREFIX, createSimulatorServer, Holds } from './server.ts';
import { Counters } from './stats.ts';
import type {
  Faults,
  Message,
  Resource,
  SimulatorOptions,
  TickResult,
  User,
  WebhookPayload,
  WorldSnapshot,
} from './types.ts';
import { payloadOf, type SendOptions, WebhookSender } from './webhooks.ts';
import { World } from './world.ts';

export { COLUMNS as EXTRACT_COLUMNS, EXTRACT_EVENTS } from './extract-csv.ts';
export { AGENT_STATUS_PATH } from './routes.ts';
export type * from './types.ts';
export { ASSIGNMENT_KEYS, signBody } from './webhooks.ts';

const RESOURCES: Resource[] = ['users', 'agents', 'groups', 'channels', 'conversations', 'messages'];
const DEFAULT_STEP: StepSettings = { messagesPerTick: 3, newConversationEvery: 3, newUserEvery: 5 };

interface Parts {
  options: Resolved;
  world: World;
  render: Renderer;
  faults: FaultInjector;
  limiter: RateLimiter;
  holds: Holds;
  stats: Counters;
  sender: WebhookSender;
  server: Server;
  url: string;
  keys: { publicKey: string; privateKey: string };
}

export class FreshchatSimulator {
  readonly url: string;
  readonly apiKey: string;
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
  readonly #p: Parts;
  #timer: NodeJS.Timeout | undefined;
  #ticks = 0;
  #growing = false;
  #stopped: Promise<void> | undefined;

  private constructor(parts: Parts) {
    this.#p = parts;
    this.url = parts.url;
    this.apiKey = parts.options.apiKey;
    this.publicKeyPem = parts.keys.publicKey;
    this.privateKeyPem = parts.keys.privateKey;
    const growth = parts.options.growth;
    if (growth) {
      this.#timer = setInterval(() => this.#grow(), growth.intervalMs);
      this.#timer.unref();
    }
  }

  static async start(options: SimulatorOptions = {}): Promise<FreshchatSimulator> {
    const o = resolveOptions(options);
    const keys = await promisify(generateKeyPair)('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const world = new World(o.seed, o.world, o.startMs);
    buildHistory(world, o.world);
    const render = new Renderer(world, {
      propertiesAs: o.conversationPropertiesAs,
      extraFields: o.extraFields,
    });
    const stats = new Counters();
    let origin = '';
    const ctx: ApiContext = {
      world,
      render,
      extract: new ExtractJobs(world, o.seed, o.extract),
      options: o,
      origin: () => origin,
    };
    const parts = {
      faults: new FaultInjector(o.seed, o.faults),
      limiter: new RateLimiter(o.rateLimit),
      holds: new Holds(),
    };
    const control = (path: string) => {
      const name = path.slice(CONTROL_PREFIX.length);
      if (name === 'health') return { type: 'application/json', body: '{"status":"ok"}' };
      if (name === 'stats') return { type: 'application/json', body: JSON.stringify(stats) };
      if (name === 'public-key') return { type: 'application/x-pem-file', body: keys.publicKey };
      return undefined;
    };
    const server = createSimulatorServer({ ctx, apiKey: o.apiKey, stats, log: o.log, control, ...parts });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    origin = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`;
    const sender = new WebhookSender(keys.privateKey, o.webhooks, o.log.child('webhooks'), stats);
    o.log.info('freshchat simulator listening', { url: `${origin}/v2`, seed: o.seed });
    return new FreshchatSimulator({
      options: o,
      world,
      render,
      stats,
      sender,
      server,
      url: `${origin}/v2`,
      keys,
      ...parts,
    });
  }

  snapshot(): WorldSnapshot {
    return this.#p.render.snapshot();
  }

  async tick(): Promise<TickResult> {
    this.#ticks += 1;
    const growth = this.#p.options.growth;
    return this.#publish(step(this.#p.world, growth || DEFAULT_STEP, this.#ticks));
  }

  async addMessages(count: number): Promise<Message[]> {
    const changes = noChanges();
    for (let i = 0; i < count; i++) addMessage(this.#p.world, changes);
    return (await this.#publish(changes)).messages;
  }

  addUsers(count: number): User[] {
    const changes = noChanges();
    for (let i = 0; i < count; i++) addUser(this.#p.world, changes);
    return changes.users.map((i) => this.#p.render.user(i));
  }

  addField(resource: Resource, name: string, value: (index: number) => unknown): void {
    if (!RESOURCES.includes(resource)) throw new TypeError(`addField: unknown resource ${resource}`);
    this.#p.render.addField(resource, name, value);
  }

  setFaults(faults: Partial<Faults>): void {
    this.#p.faults.set(faults);
  }

  setRateLimit(limit: SimulatorOptions['rateLimit']): void {
    this.#p.limiter.set(limit);
  }

  async sendWebhook(
    payload: object | string,
    options: SendOptions = {},
  ): Promise<{ status: number; body: string }> {
    const url = options.url ?? this.#p.options.webhookUrl;
    if (!url) throw new TypeError('sendWebhook: no url given and no webhookUrl configured');
    return this.#p.sender.send(url, payload, options);
  }

  stats(): Record<string, number> {
    return this.#p.stats.toJSON();
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#close();
    return this.#stopped;
  }

  async #close(): Promise<void> {
    clearInterval(this.#timer);
    const { holds, sender, server } = this.#p;
    holds.releaseAll();
    await sender.close();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), 1000);
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
  }

  #grow(): void {
    if (this.#growing || this.#stopped) return;
    this.#growing = true;
    this.tick()
      .catch((error) => this.#p.options.log.error('growth step failed', { error }))
      .finally(() => {
        this.#growing = false;
      });
  }

  /** Renders what changed (as of now), delivers its webhooks when a webhookUrl is set. */
  async #publish(changes: Changes): Promise<TickResult> {
    const { world, render, options, sender } = this.#p;
    const events: WebhookPayload[] = changes.events.map((e) => payloadOf(e, world, render));
    const result: TickResult = {
      messages: changes.messages.map((i) => render.message(i)),
      conversations: [...changes.conversations].sort((a, b) => a - b).map((i) => render.conversation(i)),
      users: changes.users.map((i) => render.user(i)),
      events,
    };
    if (options.webhookUrl && events.length > 0 && !this.#stopped)
      await sender.deliver(options.webhookUrl, events);
    return result;
  }
}
