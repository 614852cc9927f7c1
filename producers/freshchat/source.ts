/**
 * The Freshchat source: one pass over every enabled resource, in an order where what a step
 * needs is written before it — account, agents, agent statuses, groups, channels, users, then
 * each user's conversations and their messages, outbound messages, raw reports. A resource the
 * account lacks (404 on its list) is warned about once and skipped; a resource that cannot be
 * reached after its retries is marked incomplete and the pass goes on with the others.
 */
import { ConfigError, FatalError, isRetriable } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { Source, SourceContext } from '../source.ts';
import { FreshchatClient } from './client.ts';
import { type FreshchatSettings, REPORT_EVENTS, RESOURCES, type Resource } from './config.ts';
import { EndpointUnavailable } from './paging.ts';
import { syncConversations } from './resources/conversations.ts';
import { syncReports } from './resources/reports.ts';
import { listSpecs, syncAccountConfiguration, syncAgentStatuses, syncList } from './resources/snapshots.ts';
import { syncUsers } from './resources/users.ts';
import { EmitWindow, type Progress, type SyncContext } from './sync-context.ts';

/** Conversations handed to the runtime and not yet committed, at most. */
const EMIT_WINDOW = 64;

export interface FreshchatSourceOptions {
  settings: FreshchatSettings;
  baseUrl: string;
  apiKey: string;
  log: Logger;
  metrics?: import('prom-client').Registry;
  /** Backfill: list from this date whatever the cursors say. */
  since?: string;
  /** Called after every step with the counters (progress bars, logs). */
  onProgress?: (progress: Progress) => void;
}

/** Validates the resource list; unknown names are a setting error naming the variable. */
export function enabledResources(settings: FreshchatSettings): Set<Resource> {
  const known = new Set<string>(RESOURCES);
  for (const name of settings.resources)
    if (!known.has(name))
      throw new ConfigError(
        'FRESHCHAT_RESOURCES',
        `unknown resource "${name}"`,
        `resources: ${RESOURCES.join(', ')}`,
      );
  return new Set(settings.resources as Resource[]);
}

/** Validates the Extract API events; an unknown one is a setting error naming the variable. */
export function reportEvents(settings: FreshchatSettings): string[] {
  const known = new Set<string>(REPORT_EVENTS);
  for (const name of settings.reportEvents)
    if (!known.has(name))
      throw new ConfigError(
        'FRESHCHAT_REPORT_EVENTS',
        `unknown event "${name}"`,
        `events: ${REPORT_EVENTS.join(', ')}`,
      );
  return [...settings.reportEvents];
}

export function checkSince(value: string, setting: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new ConfigError(
      setting,
      `expected an ISO-8601 date, got "${value}"`,
      'example: 2025-01-01T00:00:00Z',
    );
  return new Date(ms).toISOString();
}

export class FreshchatSource implements Source {
  readonly name = 'freshchat';
  private readonly options: FreshchatSourceOptions;
  private readonly resources: Set<Resource>;
  private readonly since: string;
  /** Counters of the last pass. */
  progress: Progress = emptyProgress();

  constructor(options: FreshchatSourceOptions) {
    this.options = options;
    this.resources = enabledResources(options.settings);
    reportEvents(options.settings);
    this.since = checkSince(
      options.since ?? options.settings.since,
      options.since ? '--since' : 'FRESHCHAT_SINCE',
    );
  }

  async poll(runtime: SourceContext): Promise<void> {
    const { settings, log } = this.options;
    const client = new FreshchatClient({
      baseUrl: this.options.baseUrl,
      apiKey: this.options.apiKey,
      requestsPerMinute: settings.requestsPerMinute,
      concurrency: settings.concurrency,
      timeoutMs: settings.requestTimeoutMs,
      maxRetries: settings.maxRetries,
      log,
      metrics: this.options.metrics,
      signal: runtime.signal,
    });
    this.progress = emptyProgress();
    const warned = new Set<string>();
    const s: SyncContext = {
      client,
      settings,
      runtime,
      window: new EmitWindow(runtime, EMIT_WINDOW),
      handled: new Set(),
      log,
      since: this.since,
      backfill: this.options.since !== undefined,
      progress: this.progress,
      enabled: (r) => this.resources.has(r),
      unavailable: (resource, path) => {
        if (warned.has(resource)) return;
        warned.add(resource);
        log.warn('the account does not have this endpoint (404); skipping it', { resource, path });
      },
    };
    try {
      for (const [resource, step] of this.steps(s)) {
        if (runtime.signal.aborted) break;
        await this.run(s, resource, step);
      }
    } finally {
      await client.close();
    }
  }

  private steps(s: SyncContext): [string, () => Promise<void>][] {
    const steps: [string, () => Promise<void>][] = [];
    const on = (r: Resource) => this.resources.has(r);
    if (on('account_configuration')) steps.push(['account_configuration', () => syncAccountConfiguration(s)]);
    for (const spec of listSpecs(s)) {
      if (spec.resource === 'outbound_messages') continue;
      if (on(spec.resource)) steps.push([spec.resource, () => syncList(s, spec)]);
    }
    if (on('agent_statuses')) steps.push(['agent_statuses', () => syncAgentStatuses(s)]);
    if (on('users')) steps.push(['users', () => syncUsers(s)]);
    if (on('conversations') || on('messages')) steps.push(['conversations', () => syncConversations(s)]);
    const outbound = listSpecs(s).find((spec) => spec.resource === 'outbound_messages');
    if (outbound && on('outbound_messages')) steps.push(['outbound_messages', () => syncList(s, outbound)]);
    if (on('reports')) steps.push(['reports', () => syncReports(s)]);
    return steps;
  }

  /** One step; fatal errors end the pass, an unreachable endpoint only this step. */
  private async run(s: SyncContext, resource: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      if (error instanceof EndpointUnavailable) s.unavailable(resource, error.path);
      else if (error instanceof FatalError || !isRetriable(error) || s.runtime.signal.aborted) throw error;
      else {
        s.progress.incomplete[resource] = (error as Error).message;
        s.log.warn('resource incomplete this pass; it continues from its cursor next pass', {
          resource,
          error: (error as Error).message,
        });
      }
    } finally {
      this.options.onProgress?.(this.progress);
    }
  }
}

function emptyProgress(): Progress {
  return { records: {}, pages: 0, totals: {}, incomplete: {}, skipped: 0 };
}
