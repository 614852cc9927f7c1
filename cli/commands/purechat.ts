/**
 * `chatstream purechat …`: the collector (browser events → Kafka) and the transcript import.
 */
import { once } from 'node:events';
import { EXIT } from '../../core/errors.ts';
import { createMetricsRegistry } from '../../core/metrics.ts';
import { type CollectorService, startCollector } from '../../producers/purechat/service.ts';
import { type Command, intFlag } from '../command.ts';
import { purechatImportCommand } from './purechat-import.ts';

/** The embed to paste next to Pure Chat's own, pointing at this collector. */
export function embedSnippet(service: CollectorService, widgetId: string): string {
  return [
    // JSON inside <script>: "<" escaped so no value can close the script element.
    `<script>window.chatstreamSettings = { widgetId: ${JSON.stringify(widgetId).replace(/</g, '\\u003c')} };</script>`,
    `<script async src="${service.snippetUrl}"></script>`,
  ].join('\n');
}

const collectCommand: Command = {
  path: ['purechat', 'collect'],
  summary:
    'Run the Pure Chat collector: browser events (POST /v1/events) → Kafka; 2xx only once Kafka has them.',
  details: [
    'Serves the snippet at /v1/snippet.js, the demo page at /demo/ (PURECHAT_DEMO), /healthz and /metrics.',
    'Protocol and embed: docs/PURECHAT.md. Valid events → purechat.events; visitor:state → purechat.visitors;',
    'widget:state → purechat.widget_settings; refused bodies → the bad-rows topic (PURECHAT_BAD_ROWS_TOPIC).',
    'Ctrl-C stops accepting, answers the requests in flight, commits and exits.',
  ].join('\n'),
  options: {
    port: { type: 'string', description: 'Port (default PURECHAT_PORT); 0 picks a free one.' },
  },
  async run(ctx) {
    const { config, log } = ctx;
    const port = intFlag(ctx, 'port', config.purechat.port);
    const service = await startCollector({
      config,
      log: log.child('purechat'),
      metrics: createMetricsRegistry(),
      port,
    });
    ctx.out(`Pure Chat collector: ${service.eventsUrl}`);
    ctx.out(`Snippet:             ${service.snippetUrl}`);
    if (service.demoUrl) ctx.out(`Demo page:           ${service.demoUrl}`);
    ctx.out(`Health / metrics:    ${service.url}/healthz  ${service.url}/metrics`);
    ctx.out(
      `Embed next to Pure Chat's own:\n${embedSnippet(service, config.purechat.widgetIds[0] ?? 'YOUR-WIDGET-ID')}`,
    );
    try {
      await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM'), service.failed]);
      log.info('stopping: draining requests in flight');
    } finally {
      await service.close();
    }
    return EXIT.ok;
  },
};

export const purechatCommands: Command[] = [collectCommand, purechatImportCommand];
