// The dashboard page: asks the server for each panel's numbers (a panel id and a time range,
// never SQL) every few seconds and draws them with uPlot. Plain browser JavaScript, no build.
(() => {
  const Colors = ['#3563e9', '#12a150', '#e8590c', '#ae3ec9', '#0ca5b0', '#c92a2a'];
  const state = { panels: [], refreshSeconds: 5, charts: new Map(), ranges: new Map(), timer: undefined };
  const $ = (selector) => document.querySelector(selector);
  const el = (tag, attrs = {}, text) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
    const s = Math.round(Number(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }
  function format(value, unit, column) {
    if (value === null || value === undefined) return '—';
    const n = Number(value);
    if (typeof value === 'string' && Number.isNaN(n)) return value;
    if (unit === 'seconds' && /seconds|_p50|_p90|^value$/.test(column)) return duration(n);
    if (unit === 'ratio' && /rate/.test(column)) return `${(n * 100).toFixed(1)}%`;
    return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(2);
  }
  const clock = (iso) => new Date(iso).toLocaleTimeString('en-GB', { hour12: false });
  const range = () => $('#range').value;

  function panelBox(panel) {
    const box = el('div', { class: `panel ${panel.kind}`, 'data-panel': panel.id, 'data-kind': panel.kind });
    box.append(el('h3', {}, panel.title));
    box.append(el('p', { class: 'desc' }, panel.description));
    box.append(el('div', { class: 'body' }));
    box.append(el('div', { class: 'updated' }, 'loading…'));
    return box;
  }

  function layout() {
    const root = $('#sections');
    root.replaceChildren();
    for (const section of [...new Set(state.panels.map((p) => p.section))]) {
      root.append(el('h2', {}, section));
      const stats = el('div', { class: 'stats' });
      const grid = el('div', { class: 'grid' });
      for (const panel of state.panels.filter((p) => p.section === section))
        (panel.kind === 'stat' ? stats : grid).append(panelBox(panel));
      root.append(stats, grid);
    }
  }

  function note(body, text, cls = 'note') {
    body.replaceChildren(el('div', { class: cls }, text));
  }

  function renderStat(panel, body, result) {
    const value = result.rows[0]?.[0] ?? null;
    const n = value === null ? null : Number(value);
    body.replaceChildren(
      el(
        'div',
        { class: 'stat-value', 'data-value': n === null ? '' : String(n) },
        format(value, panel.unit, 'value'),
      ),
    );
    if (n === null) body.append(el('div', { class: 'note' }, 'No data in this range yet'));
    return n !== null && n !== 0;
  }

  function renderTable(panel, body, result) {
    if (result.rows.length === 0) {
      note(body, 'No data in this range yet');
      return false;
    }
    const table = el('table');
    const head = el('tr');
    for (const c of result.columns) head.append(el('th', {}, c.replaceAll('_', ' ')));
    table.append(head);
    for (const row of result.rows) {
      const tr = el('tr');
      row.forEach((v, i) => {
        const numeric = v !== null && v !== '' && !Number.isNaN(Number(v));
        tr.append(
          el(
            'td',
            numeric ? { class: 'n', 'data-value': String(v) } : {},
            format(v, panel.unit, result.columns[i]),
          ),
        );
      });
      table.append(tr);
    }
    body.replaceChildren(table);
    return true;
  }

  function renderSeries(panel, body, result) {
    const total = result.rows.reduce(
      (a, row) => a + row.slice(1).reduce((b, v) => b + (Number(v) || 0), 0),
      0,
    );
    body.closest('.panel').setAttribute('data-total', String(total));
    body.closest('.panel').setAttribute('data-points', String(result.rows.length));
    // The x axis spans the chosen range (not just the points), so one point is not a year wide.
    state.ranges.set(panel.id, [Date.parse(result.range.from) / 1000, Date.parse(result.range.to) / 1000]);
    const existing = state.charts.get(panel.id);
    if (result.rows.length === 0) {
      existing?.destroy();
      state.charts.delete(panel.id);
      note(body, 'No data in this range yet');
      return false;
    }
    const data = result.columns.map((_, i) =>
      result.rows.map((row) => (row[i] === null ? null : Number(row[i]))),
    );
    if (existing && existing.series.length === result.columns.length) {
      existing.setData(data);
      return true;
    }
    existing?.destroy();
    body.replaceChildren();
    const width = Math.max(300, body.clientWidth || body.parentElement.clientWidth - 28);
    const axisValues = panel.unit === 'seconds' ? (_u, ticks) => ticks.map(duration) : undefined;
    const chart = new uPlot(
      {
        width,
        height: 220,
        series: [
          { label: 'time (UTC)' },
          ...result.columns.slice(1).map((c, i) => ({
            label: c.replaceAll('_', ' '),
            stroke: Colors[i % Colors.length],
            width: 2,
            points: { show: result.rows.length < 3 },
            value: (_u, v) => format(v, panel.unit, c),
          })),
        ],
        axes: [
          { label: 'UTC', labelSize: 16 },
          { values: axisValues, size: 60 },
        ],
        scales: { x: { time: true, range: () => state.ranges.get(panel.id) } },
        // The hours and days are UTC buckets: axis ticks and the legend show UTC, not the browser's zone.
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      },
      data,
      body,
    );
    state.charts.set(panel.id, chart);
    return true;
  }

  async function refreshPanel(panel) {
    const box = document.querySelector(`[data-panel="${panel.id}"]`);
    const body = box.querySelector('.body');
    const updated = box.querySelector('.updated');
    try {
      const response = await fetch(`/api/panels/${panel.id}?range=${encodeURIComponent(range())}`);
      const json = await response.json();
      if (!response.ok) throw new Error(json.error?.message ?? `HTTP ${response.status}`);
      const render = panel.kind === 'stat' ? renderStat : panel.kind === 'table' ? renderTable : renderSeries;
      const hasData = render(panel, body, json);
      box.setAttribute('data-updated', json.updated);
      box.classList.remove('failed');
      updated.textContent = `last updated ${clock(json.updated)}`;
      return hasData;
    } catch (error) {
      box.classList.add('failed');
      note(body, error.message, 'error');
      updated.textContent = `failed at ${clock(new Date().toISOString())}`;
      throw error;
    }
  }

  async function refreshHealth() {
    const tiles = $('#health-tiles');
    try {
      const response = await fetch('/api/health');
      const h = await response.json();
      const rate = (v) => (v === null ? '—' : `${v.toFixed(1)}/s`);
      const items = [
        ['lag', 'Consumer lag', h.lag === null ? '—' : h.lag.toLocaleString('en-US')],
        ['produced', 'Records in (to Kafka)', rate(h.producedPerSecond)],
        ['sink-in', 'Sink reads', rate(h.sinkInPerSecond)],
        ['sink-out', 'Records out (to ClickHouse)', rate(h.sinkOutPerSecond)],
        [
          'dead-letters',
          'Dead letters',
          h.deadLetters === null ? '—' : h.deadLetters.toLocaleString('en-US'),
        ],
        ...h.cursors.map((c) => [`cursor-${c.source}`, `Cursor age: ${c.source}`, duration(c.ageSeconds)]),
      ];
      tiles.replaceChildren(
        ...items.map(([id, k, v]) => {
          const tile = el('div', { class: 'tile', 'data-health': id });
          tile.append(el('div', { class: 'k' }, k), el('div', { class: 'v' }, v));
          return tile;
        }),
      );
      if (h.unreachable.length > 0)
        tiles.append(el('div', { class: 'tile note' }, `Not reachable: ${h.unreachable.join('; ')}`));
      $('#health-updated').textContent = `last updated ${clock(h.updated)}`;
    } catch (error) {
      $('#health-updated').textContent = `failed: ${error.message}`;
    }
  }

  async function refresh() {
    clearTimeout(state.timer);
    const status = $('#status');
    const results = await Promise.allSettled([...state.panels.map(refreshPanel), refreshHealth()]);
    const failed = results.filter((r) => r.status === 'rejected');
    const anyData = results.some((r) => r.status === 'fulfilled' && r.value === true);
    $('#empty').hidden = anyData || failed.length > 0;
    status.className = failed.length ? 'error' : '';
    status.textContent = failed.length
      ? `${failed.length} panel(s) failed: ${failed[0].reason.message}`
      : `refreshed ${clock(new Date().toISOString())}, every ${state.refreshSeconds} s`;
    document.body.setAttribute('data-refreshed', String(Date.now()));
    state.timer = setTimeout(refresh, state.refreshSeconds * 1000);
  }

  async function start() {
    const response = await fetch('/api/panels');
    const json = await response.json();
    state.panels = json.panels;
    state.refreshSeconds = json.refreshSeconds;
    const wanted = new URLSearchParams(location.search).get('range');
    if (wanted && json.ranges.includes(wanted)) $('#range').value = wanted;
    layout();
    $('#range').addEventListener('change', () => {
      for (const chart of state.charts.values()) chart.destroy();
      state.charts.clear();
      layout();
      refresh();
    });
    await refresh();
  }

  start().catch((error) => {
    $('#status').className = 'error';
    $('#status').textContent = `The dashboard could not start: ${error.message}`;
  });
})();
