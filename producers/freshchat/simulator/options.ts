/** Simulator options: the defaults in one place, and checks that refuse nonsense early. */
import { createLogger, type Logger } from '../../../core/log.ts';
import { DEFAULT_START_TIME, parseTime } from './time.ts';
import type {
  ExtractOptions,
  Faults,
  RateLimit,
  SimulatorOptions,
  Variants,
  WebhookOptions,
  WorldSize,
} from './types.ts';

export const DEFAULT_WORLD: WorldSize = {
  users: 20,
  agents: 5,
  groups: 3,
  channels: 2,
  conversationsPerUser: 2,
  messagesPerConversation: 6,
  outboundMessages: 5,
  agentStatuses: 3,
};

export const DEFAULT_FAULTS: Faults = {
  serverErrorRate: 0,
  timeoutRate: 0,
  timeoutMs: 30_000,
  unauthorized: false,
  extraFieldsRate: 0,
};

export const DEFAULT_VARIANTS: Variants = {
  messagesOrder: 'newest-first',
  messagesPagination: true,
  honourFromTime: true,
  omitNextOnLastPage: true,
  userConversationsPaged: false,
  numericConversationIds: true,
};

export interface Growth {
  intervalMs: number;
  messagesPerTick: number;
  newConversationEvery: number;
  newUserEvery: number;
}

export interface Resolved {
  seed: number;
  host: string;
  port: number;
  apiKey: string;
  world: WorldSize;
  pageCaps: { default: number; messages: number };
  requireUserDateFilter: boolean;
  conversationPropertiesAs: 'object' | 'array';
  rateLimit: RateLimit;
  faults: Faults;
  extraFields: boolean;
  extract: Required<ExtractOptions>;
  growth: Growth | false;
  webhookUrl: string | undefined;
  webhooks: Required<WebhookOptions>;
  startMs: number;
  variants: Variants;
  log: Logger;
}

const count = (name: string, value: number, min = 0): number => {
  if (!Number.isInteger(value) || value < min) throw new TypeError(`${name} must be an integer >= ${min}`);
  return value;
};

const rate = (name: string, value: number | undefined): void => {
  if (value !== undefined && !(value >= 0 && value <= 1))
    throw new TypeError(`${name} must be between 0 and 1`);
};

export function checkFaults(faults: Faults): Faults {
  rate('faults.serverErrorRate', faults.serverErrorRate);
  rate('faults.timeoutRate', faults.timeoutRate);
  rate('faults.extraFieldsRate', faults.extraFieldsRate);
  count('faults.timeoutMs', faults.timeoutMs);
  return faults;
}

export function checkRateLimit(limit: RateLimit | undefined): RateLimit {
  if (!limit) return false;
  count('rateLimit.requestsPerMinute', limit.requestsPerMinute, 1);
  if (limit.retryAfterSeconds !== undefined) count('rateLimit.retryAfterSeconds', limit.retryAfterSeconds);
  return { ...limit };
}

function growthOf(growth: SimulatorOptions['growth']): Growth | false {
  if (!growth) return false;
  const resolved = { messagesPerTick: 3, newConversationEvery: 3, newUserEvery: 5, ...growth };
  count('growth.intervalMs', resolved.intervalMs, 1);
  count('growth.messagesPerTick', resolved.messagesPerTick);
  count('growth.newConversationEvery', resolved.newConversationEvery);
  count('growth.newUserEvery', resolved.newUserEvery);
  return resolved;
}

function extractOf(extract: ExtractOptions = {}): Required<ExtractOptions> {
  const resolved = {
    pendingPolls: 1,
    rowsPerLink: Number.POSITIVE_INFINITY,
    subReportHours: 24,
    createStatus: 202 as const,
    intervalSeparator: '_',
    singleLink: false,
    ...extract,
  };
  count('extract.pendingPolls', resolved.pendingPolls);
  if (!(resolved.rowsPerLink >= 1)) throw new TypeError('extract.rowsPerLink must be >= 1');
  if (!(resolved.subReportHours > 0)) throw new TypeError('extract.subReportHours must be > 0');
  return resolved;
}

export function resolveOptions(options: SimulatorOptions = {}): Resolved {
  const world = { ...DEFAULT_WORLD, ...options.initial };
  for (const [name, value] of Object.entries(world)) count(`initial.${name}`, value);
  for (const name of ['agents', 'groups', 'channels', 'agentStatuses'] as const)
    count(`initial.${name}`, world[name], 1);
  const pageCaps = options.pageCaps ?? { default: 100, messages: 50 };
  count('pageCaps.default', pageCaps.default, 1);
  count('pageCaps.messages', pageCaps.messages, 1);
  const startMs = parseTime(options.startTime ?? DEFAULT_START_TIME);
  if (startMs === undefined) throw new TypeError('startTime must be an ISO-8601 time with a zone');
  return {
    seed: options.seed ?? 1,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    apiKey: options.apiKey ?? 'simulator-key',
    world,
    pageCaps: { ...pageCaps },
    requireUserDateFilter: options.requireUserDateFilter ?? false,
    conversationPropertiesAs: options.conversationPropertiesAs ?? 'object',
    rateLimit: checkRateLimit(options.rateLimit),
    faults: checkFaults({ ...DEFAULT_FAULTS, ...options.faults }),
    extraFields: options.extraFields ?? false,
    extract: extractOf(options.extract),
    growth: growthOf(options.growth),
    webhookUrl: options.webhookUrl,
    webhooks: { payloadVersion: '1', retries: 3, retryDelayMs: 50, timeoutMs: 5000, ...options.webhooks },
    startMs,
    variants: { ...DEFAULT_VARIANTS, ...options.variants },
    log: options.log ?? createLogger('freshchat-sim'),
  };
}
