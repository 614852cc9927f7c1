/**
 * The Freshchat poller: a SourceRunner (transactions, offsets) driving the FreshchatSource,
 * once (`sync --once`, `backfill`) or every FRESHCHAT_SYNC_INTERVAL_SECONDS (`sync`). A pass
 * that ends on a retriable failure is logged and the next pass resumes from the cursors; a
 * fatal one (bad credentials, a fenced producer) ends the loop with its error.
 */
import type { Registry } from 'prom-client';
import { ConfigError, isRetriable } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { sleep } from '../../core/retry.ts';
import { RECORD_KINDS } from '../../schemas/catalog.ts';
import type { ProducerConfig } from '../config.ts';
import { SourceRunner } from '../runtime/runner.ts';
import { apiBaseUrl, type FreshchatSettings } from './config.ts';
import { FreshchatSource } from './source.ts';
import type { Progress } from './sync-context.ts';

export type FreshchatConfig = ProducerConfig & { freshchat: FreshchatSettings };

export const FRESHCHAT_KINDS = RECORD_KINDS.filter((k) => k.topic.startsWith('freshchat.'));

export interface PollerOptions {
  config: FreshchatConfig;
  log: Logger;
  metrics: Registry;
  /** Overrides the settings (the simulator in `npm start`). */
  baseUrl?: string;
  apiKey?: string;
  /** Backfill from this date. */
  since?: string;
  onProgress?: (progress: Progress) => void;
}

export class FreshchatPoller {
  readonly runner: SourceRunner;
  readonly source: FreshchatSource;
  private readonly options: PollerOptions;
  private readonly stopping = new AbortController();

  constructor(options: PollerOptions) {
    this.options = options;
    const { config, log } = options;
    const baseUrl = options.baseUrl ?? apiBaseUrl(config.freshchat);
    const apiKey = options.apiKey ?? config.freshchat.apiKey;
    if (!baseUrl)
      throw new ConfigError(
        'FRESHCHAT_ACCOUNT',
        'no Freshchat account: set FRESHCHAT_ACCOUNT or FRESHCHAT_BASE_URL',
        'example: FRESHCHAT_ACCOUNT=acme',
      );
    if (!apiKey)
      throw new ConfigError(
        'FRESHCHAT_API_KEY',
        'no API token',
        'create one under Admin > API Tokens; FRESHCHAT_API_KEY_FILE reads it from a file',
      );
    this.runner = new SourceRunner({
      config,
      name: 'freshchat',
      kinds: FRESHCHAT_KINDS,
      contract: config.freshchat.contract,
      log,
      metrics: options.metrics,
    });
    this.source = new FreshchatSource({
      settings: config.freshchat,
      baseUrl,
      apiKey,
      log,
      metrics: options.metrics,
      since: options.since,
      onProgress: options.onProgress,
    });
  }

  start(): Promise<void> {
    return this.runner.start();
  }

  /** One pass; returns its counters. */
  async pass(): Promise<Progress> {
    const started = Date.now();
    await this.runner.runPass(this.source);
    const progress = this.source.progress;
    const wrote =
      Object.values(progress.records).some((n) => n > 0) || Object.keys(progress.incomplete).length > 0;
    // A continuous sync over unchanged data passes often: only passes that did something are news.
    this.options.log[wrote ? 'info' : 'debug']('pass done', {
      seconds: Math.round((Date.now() - started) / 100) / 10,
      records: progress.records,
      pages: progress.pages,
      ...(Object.keys(progress.incomplete).length ? { incomplete: progress.incomplete } : {}),
    });
    return progress;
  }

  /** Passes every interval until stop(); throws only on a fatal error. */
  async runForever(): Promise<void> {
    const interval = this.options.config.freshchat.syncIntervalSeconds * 1000;
    while (!this.stopping.signal.aborted) {
      try {
        await this.pass();
      } catch (error) {
        if (this.stopping.signal.aborted) return;
        if (!isRetriable(error)) throw error;
        this.options.log.warn('pass failed; the next one resumes from the cursors', {
          error: (error as Error).message,
        });
      }
      await sleep(interval, this.stopping.signal);
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.runner.stop();
  }
}
