/** The dashboard's pure parts: time ranges, panel SQL, the Grafana file, Prometheus parsing, health rates. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GRAFANA_DASHBOARD_PATH, grafanaDashboard, grafanaDashboardJson } from '../../analytics/grafana.ts';
import { PipelineHealth, parsePrometheus } from '../../analytics/health.ts';
import { PANELS, renderPanelSql } from '../../analytics/panels.ts';
import { alignToHours, dateTimeLiteral, PRESETS, parseRange, RangeError400 } from '../../analytics/range.ts';
import { VIEWS } from '../../analytics/views.ts';

const q = (s: string) => new URLSearchParams(s);
const NOW = Date.UTC(2025, 5, 1, 12, 0, 7, 500);

test('a preset ends now, rounded down so viewers share an answer; the default is 24h', () => {
  assert.deepEqual(parseRange(q('range=1h'), NOW, 5000), {
    from: Date.UTC(2025, 5, 1, 11, 0, 5),
    to: Date.UTC(2025, 5, 1, 12, 0, 5),
    preset: '1h',
  });
  const r = parseRange(q(''), NOW);
  assert.equal(r.to - r.from, PRESETS['24h']);
});

test('from/to take ISO 8601 or Unix seconds; bad ranges are refused naming the parameter', () => {
  assert.deepEqual(parseRange(q('from=2025-06-01T00:00:00Z&to=1748779200'), NOW), {
    from: Date.UTC(2025, 5, 1),
    to: Date.UTC(2025, 5, 1, 12),
  });
  const refused = (s: string, field: string, message: RegExp) =>
    assert.throws(
      () => parseRange(q(s), NOW),
      (e: unknown) => e instanceof RangeError400 && e.field === field && message.test(e.message),
    );
  refused('range=2h', 'range', /unknown range "2h"/);
  refused('from=yesterday&to=1', 'from', /not a time/);
  refused('from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z', 'from', /before/);
  refused('from=2025-06-01T00:00:00Z', 'to', /go together/);
  refused('range=1h&from=1&to=2', 'range', /either/);
  refused('from=2000-01-01T00:00:00Z&to=2025-01-01T00:00:00Z', 'to', /400 days/);
  refused("from=1'); DROP TABLE x --&to=2", 'from', /not a time/);
});

test('custom from/to are rounded down to 10 s; every panel answers for whole hours', () => {
  const range = parseRange(q('from=2025-06-01T08:30:07Z&to=2025-06-01T10:15:59Z'), NOW);
  assert.deepEqual(range, { from: Date.UTC(2025, 5, 1, 8, 30, 0), to: Date.UTC(2025, 5, 1, 10, 15, 50) });
  assert.deepEqual(parseRange(q('from=2025-06-01T08:00:01Z&to=2025-06-01T08:00:05Z'), NOW), {
    from: Date.UTC(2025, 5, 1, 8),
    to: Date.UTC(2025, 5, 1, 8),
  });
  assert.deepEqual(alignToHours(range), {
    from: Date.UTC(2025, 5, 1, 8),
    to: Date.UTC(2025, 5, 1, 10, 59, 59),
  });
  for (const panel of PANELS)
    assert.doesNotMatch(
      panel.sql,
      /[^(]\{\{from\}\}/,
      `${panel.id}: from is cut at its hour like the hourly views`,
    );
});

test('time literals are built from numbers only', () => {
  assert.equal(
    dateTimeLiteral(Date.UTC(2025, 5, 1, 8, 9, 10, 999)),
    "toDateTime('2025-06-01 08:09:10', 'UTC')",
  );
  assert.throws(() => dateTimeLiteral(Number.NaN));
});

test('every panel query reads analytics views only and leaves no placeholder unfilled', () => {
  const names = new Set(VIEWS.map((v) => v.name));
  assert.equal(new Set(PANELS.map((p) => p.id)).size, PANELS.length, 'panel ids are unique');
  for (const panel of PANELS) {
    const sql = renderPanelSql(panel, { database: 'db', from: 'F', to: 'T' });
    assert.doesNotMatch(sql, /\{\{|\}\}/, panel.id);
    for (const [, view] of sql.matchAll(/`db`\.(\w+)/g))
      assert.ok(names.has(view as string), `${panel.id}: ${view}`);
    if (panel.kind === 'timeseries') assert.match(sql, /^SELECT \S+ AS t,/, panel.id);
    if (panel.kind === 'stat') assert.match(sql, /AS value FROM/, panel.id);
  }
});

test('the committed Grafana dashboard is what the generator produces from the panels', () => {
  assert.equal(readFileSync(GRAFANA_DASHBOARD_PATH, 'utf8'), grafanaDashboardJson());
  const dashboard = grafanaDashboard() as {
    panels: { type: string; targets?: { rawSql: string; datasource: { uid: string } }[] }[];
  };
  const queries = dashboard.panels.filter((p) => p.type !== 'row');
  assert.equal(queries.length, PANELS.length);
  for (const p of queries) {
    assert.equal(p.targets?.[0]?.datasource.uid, 'chatstream-clickhouse');
    assert.doesNotMatch(p.targets?.[0]?.rawSql ?? '', /\{\{/);
  }
});

test('Prometheus text: samples with labels; comments and junk skipped', () => {
  const samples = parsePrometheus(
    [
      '# HELP chatstream_sink_lag Records behind.',
      '# TYPE chatstream_sink_lag gauge',
      'chatstream_sink_lag{topic="a",partition="0"} 5',
      'chatstream_sink_lag{topic="b \\"q\\"",partition="1"} 7',
      'process_cpu_seconds_total 1.5',
      'not a sample',
    ].join('\n'),
  );
  assert.deepEqual(samples, [
    { name: 'chatstream_sink_lag', labels: { topic: 'a', partition: '0' }, value: 5 },
    { name: 'chatstream_sink_lag', labels: { topic: 'b "q"', partition: '1' }, value: 7 },
    { name: 'process_cpu_seconds_total', labels: {}, value: 1.5 },
  ]);
});

test('health: lag and dead letters summed, rates from two reads, cursor ages', async () => {
  let produced = 100;
  const text = () =>
    [
      'chatstream_sink_lag{topic="a",partition="0"} 3',
      'chatstream_sink_lag{topic="b",partition="0"} 4',
      `chatstream_source_records_total{source="freshchat",topic="a"} ${produced}`,
      'chatstream_sink_dead_letters_total{topic="a",kind="bad_data"} 2',
      'chatstream_source_dead_letters_total{source="freshchat",topic="a"} 1',
      `chatstream_source_last_commit_timestamp_seconds{source="freshchat"} ${NOW / 1000 - 42}`,
    ].join('\n');
  const health = new PipelineHealth(
    async () => ({ texts: [{ source: 'a', text: text() }], unreachable: [] }),
    1,
  );
  const first = await health.read(NOW);
  assert.equal(first.lag, 7);
  assert.equal(first.deadLetters, 3);
  assert.equal(first.producedPerSecond, null, 'no rate from one read');
  assert.deepEqual(first.cursors, [{ source: 'freshchat', ageSeconds: 42 }]);
  assert.equal(first.sinkOutPerSecond, null, 'no such metric: unknown, not 0');
  produced = 130;
  const second = await health.read(NOW + 10_000);
  assert.equal(second.producedPerSecond, 3);
  assert.equal(second.cursors[0]?.ageSeconds, 52);
});

test('health: a source that failed once (or restarted) adds nothing to the next rate, not its whole counter', async () => {
  const counters: Record<string, number> = { a: 1000, b: 50_000 };
  let failing = new Set<string>();
  const text = (source: string) => `chatstream_source_records_total{source="${source}"} ${counters[source]}`;
  const health = new PipelineHealth(async () => {
    const read = Object.keys(counters).filter((s) => !failing.has(s));
    return {
      texts: read.map((source) => ({ source, text: text(source) })),
      unreachable: [...failing].map((s) => `${s}: timeout`),
    };
  }, 1);
  await health.read(NOW);
  counters.a = 1100;
  counters.b = 50_200;
  assert.equal((await health.read(NOW + 10_000)).producedPerSecond, 30, 'both sources: (100 + 200) / 10 s');
  failing = new Set(['b']);
  counters.a = 1200;
  counters.b = 50_400;
  const during = await health.read(NOW + 20_000);
  assert.equal(during.producedPerSecond, 10, 'b unreachable: a only');
  assert.deepEqual(during.unreachable, ['b: timeout']);
  failing = new Set();
  counters.a = 1300;
  counters.b = 50_600;
  assert.equal(
    (await health.read(NOW + 30_000)).producedPerSecond,
    10,
    'b is back: its previous read failed, so it is skipped this once (not 50 600 new records)',
  );
  counters.a = 1400;
  counters.b = 50_800;
  assert.equal((await health.read(NOW + 40_000)).producedPerSecond, 30, 'b counts again');
  counters.a = 20; // a restarted: its counter went down
  counters.b = 51_000;
  assert.equal((await health.read(NOW + 50_000)).producedPerSecond, 20, 'a restarted: b only');
  counters.a = 120;
  counters.b = 51_200;
  assert.equal((await health.read(NOW + 60_000)).producedPerSecond, 30);
});
