// The operations dashboard: plain browser JavaScript, no build step. It reads the app's own
// endpoints (relative to /api/, carrying the page's ?code= function key when there is one) and
// draws its plots as hand-made SVG.
'use strict';

const params = new URLSearchParams(location.search);
const KEY = params.get('code');
const BASE = location.pathname.replace(/dashboard\/?$/, '');
const state = { topology: null, historyFlow: null, runs: [], continuation: null, selectedRun: null };

function url(path) {
  const u = new URL(BASE + path, location.origin);
  if (KEY) u.searchParams.set('code', KEY);
  return u.pathname + u.search;
}

async function api(path, options) {
  const res = await fetch(url(path), options);
  const text = await res.text();
  let body = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = { error: text };
  }
  return { status: res.status, body };
}

/** Builds an element: h('td', { class: 'num' }, 'text', child, ...). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const fmtTime = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) : '—');
const fmtNum = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));
const fmtMs = (ms) =>
  ms === null || ms === undefined ? '—' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
const fmtSecs = (s) =>
  s === null || s === undefined
    ? '—'
    : s < 120
      ? `${s} s`
      : s < 7200
        ? `${Math.round(s / 60)} min`
        : `${Math.round(s / 3600)} h`;
const badge = (status) => h('span', { class: `status ${status}` }, status);
const rowsWritten = (l) => (l.inserted || 0) + (l.updated || 0);

function duration(run) {
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  return fmtMs(end - Date.parse(run.startedAt));
}

function scope(run) {
  const parts = [];
  if (run.window) parts.push(`window ${run.window.from || 'start'} → ${run.window.to || 'now'}`);
  if (run.regions) parts.push(`regions ${run.regions.join(', ')}`);
  if (run.dryRun) parts.push('dry run');
  return parts.length === 0 ? 'all links' : parts.join('; ');
}

// ---- SVG plots ----------------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v);
}

/** Bars of `series` (each {name, color, values}) stacked per x label. */
function barPlot(figure, caption, labels, series, unit) {
  const W = 720,
    H = 150,
    L = 44,
    B = 20,
    T = 8;
  const totals = labels.map((_, i) => series.reduce((n, x) => n + (x.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': caption });
  const y = (v) => T + (H - T - B) * (1 - v / max);
  for (const t of [0, max / 2, max]) {
    svg.append(s('line', { x1: L, x2: W, y1: y(t), y2: y(t), stroke: '#e3e6eb' }));
    svg.append(s('text', { x: L - 4, y: y(t) + 3, 'text-anchor': 'end' }, fmtNum(t)));
  }
  const n = Math.max(1, labels.length);
  const bw = (W - L) / n;
  labels.forEach((label, i) => {
    let base = 0;
    for (const x of series) {
      const v = x.values[i] || 0;
      if (v > 0) {
        const top = y(base + v);
        svg.append(
          s(
            'rect',
            { x: L + i * bw + 1, y: top, width: Math.max(1, bw - 2), height: y(base) - top, fill: x.color },
            s('title', {}, `${label}: ${x.name} ${fmtNum(v)} ${unit}`),
          ),
        );
      }
      base += v;
    }
    if (n <= 12 || i % Math.ceil(n / 8) === 0)
      svg.append(s('text', { x: L + i * bw + bw / 2, y: H - 6, 'text-anchor': 'middle' }, label));
  });
  figure.replaceChildren(svg, h('figcaption', {}, caption, ' ', legend(series)));
}

/** Lines of `series` (each {name, color, values}, null = no point) over x labels. */
function linePlot(figure, caption, labels, series, format) {
  const W = 720,
    H = 150,
    L = 52,
    B = 20,
    T = 8;
  const all = series.flatMap((x) => x.values).filter((v) => v !== null && v !== undefined);
  const max = niceMax(Math.max(0, ...all));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': caption });
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const n = Math.max(2, labels.length);
  const x = (i) => L + ((W - L - 4) * i) / (n - 1);
  for (const t of [0, max / 2, max]) {
    svg.append(s('line', { x1: L, x2: W, y1: y(t), y2: y(t), stroke: '#e3e6eb' }));
    svg.append(s('text', { x: L - 4, y: y(t) + 3, 'text-anchor': 'end' }, format(t)));
  }
  labels.forEach((label, i) => {
    if (i % Math.ceil(n / 8) === 0)
      svg.append(s('text', { x: x(i), y: H - 6, 'text-anchor': 'middle' }, label));
  });
  for (const ser of series) {
    let d = '';
    ser.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += `${d === '' || ser.values[i - 1] === null || ser.values[i - 1] === undefined ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      svg.append(
        s(
          'circle',
          { cx: x(i), cy: y(v), r: 2, fill: ser.color },
          s('title', {}, `${labels[i]} ${ser.name} ${format(v)}`),
        ),
      );
    });
    if (d !== '') svg.append(s('path', { d, fill: 'none', stroke: ser.color, 'stroke-width': 1.5 }));
  }
  figure.replaceChildren(svg, h('figcaption', {}, caption, ' ', legend(series)));
}

function legend(series) {
  return h(
    'span',
    {},
    ...series.map((x) => h('span', { style: `color:${x.color};margin-left:8px` }, `■ ${x.name}`)),
  );
}

// ---- batch sync ---------------------------------------------------------------------------------

async function loadFlows() {
  const flows = state.topology.flows;
  const results = await Promise.all(
    flows.map(async (f) => {
      const [status, runs] = await Promise.all([
        api(`sync/${f.name}/status`),
        api(`sync/${f.name}/runs?max=10`),
      ]);
      return { flow: f, status: status.body, runs: runs.status === 200 ? runs.body.runs : [] };
    }),
  );
  const running = results.flatMap((r) => r.runs.filter((x) => x.status === 'running'));
  document.getElementById('running').replaceChildren(...running.map(progressBlock));
  document.getElementById('flows').replaceChildren(...results.map(flowBlock));
}

function progressBlock(run) {
  const p = run.progress || {};
  const links = p.links || { done: 0, total: run.plannedLinks.length, failed: 0 };
  const pct = links.total > 0 ? Math.round((100 * links.done) / links.total) : 0;
  return h(
    'div',
    { class: 'progress', 'data-testid': 'progress' },
    h('b', {}, `${run.flow} ${run.mode}`),
    ' ',
    badge('running'),
    h(
      'span',
      { class: 'muted' },
      ` ${run.runId} · phase ${p.phase || 'planning'} · started ${fmtTime(run.startedAt)}`,
    ),
    h('div', { class: 'bar' }, h('div', { style: `width:${pct}%` })),
    h(
      'span',
      {},
      `links ${links.done}/${links.total} (${links.failed || 0} failed) · pages ${fmtNum(p.pages || 0)} · rows read ${fmtNum(p.rows || 0)} · written ${fmtNum(p.written || 0)}`,
    ),
  );
}

function flowBlock({ flow, status, runs }) {
  const lastFor = (key) => runs.find((r) => r.plannedLinks.includes(key));
  const rows = [];
  for (const link of (status && status.links) || []) {
    const key = `${link.source}>${link.target}`;
    const run = lastFor(key);
    const result = run && run.links.find((l) => `${l.link.source}>${l.link.target}` === key);
    const live = run && run.progress && run.progress.perLink && run.progress.perLink[key];
    const moved = result ? rowsWritten(result) : live ? live.written : null;
    const error = (result && result.lastError) || (live && live.lastError) || null;
    link.tables.forEach((t, i) => {
      const caughtUp = t.lagChanges === 0 && !t.lagCapped;
      rows.push(
        h(
          'tr',
          { 'data-link': key, 'data-table': t.table },
          h('td', {}, i === 0 ? key : ''),
          h('td', {}, t.table),
          h(
            'td',
            {},
            t.checkpoint ? fmtTime(t.checkpoint.updatedAt) : h('span', { class: 'muted' }, 'never'),
          ),
          h(
            'td',
            { class: 'num', 'data-testid': 'lag-changes' },
            // Capped: counted among the next changes only, more wait beyond them.
            t.lagCapped ? `${fmtNum(t.lagChanges)}+` : fmtNum(t.lagChanges),
          ),
          h('td', { class: 'num', 'data-testid': 'lag-seconds' }, fmtSecs(t.lagSeconds)),
          h('td', {}, badge(caughtUp ? 'caught-up' : 'behind')),
          h('td', {}, i === 0 && run ? [badge(run.status), ' ', fmtTime(run.startedAt)] : ''),
          h('td', { class: 'num', 'data-testid': 'rows-moved' }, i === 0 ? fmtNum(moved) : ''),
          h('td', { class: 'error' }, i === 0 ? error || '' : ''),
        ),
      );
    });
  }
  return h(
    'div',
    { class: 'flow', 'data-flow': flow.name },
    h('h3', {}, flow.name, h('span', { class: 'muted' }, ` · ${flow.tables.join(', ')}`)),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            'link',
            'table',
            'checkpoint moved',
            'lag (changes)',
            'lag (time)',
            '',
            'last run',
            'rows moved',
            'last error',
          ].map((x, i) => h('th', { class: i === 3 || i === 4 || i === 7 ? 'num' : null }, x)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

// ---- run history --------------------------------------------------------------------------------

async function loadHistory(more) {
  const flow = state.historyFlow;
  const q = more && state.continuation ? `&continuation=${encodeURIComponent(state.continuation)}` : '';
  const res = await api(`sync/${flow}/runs?max=20${q}`);
  if (res.status !== 200) return;
  if (flow !== state.historyFlow) return; // the selection changed meanwhile
  state.runs = more ? state.runs.concat(res.body.runs) : mergeFirstPage(res.body.runs);
  if (more || state.continuation === null || state.runs.length <= 20)
    state.continuation = res.body.continuation;
  renderHistory();
}

/** A refresh replaces the newest runs and keeps the older pages already loaded. */
function mergeFirstPage(first) {
  const ids = new Set(first.map((r) => r.runId));
  const older = state.runs.filter(
    (r) => !ids.has(r.runId) && r.startedAt < (first[first.length - 1] || {}).startedAt,
  );
  return first.concat(older);
}

function renderHistory() {
  const body = document.querySelector('#runs tbody');
  body.replaceChildren(
    ...state.runs.map((run) =>
      h(
        'tr',
        {
          class: `clickable${run.runId === state.selectedRun ? ' selected' : ''}`,
          'data-run': run.runId,
          onclick: () => showRun(run.runId),
        },
        h('td', {}, fmtTime(run.startedAt)),
        h('td', {}, run.trigger),
        h('td', {}, run.mode),
        h('td', {}, scope(run)),
        h('td', {}, badge(run.status)),
        h('td', {}, duration(run)),
        h(
          'td',
          { class: 'num' },
          run.totals ? fmtNum(run.totals.rowsWritten) : run.progress ? fmtNum(run.progress.written) : '—',
        ),
        h('td', { class: 'error' }, run.error || ''),
      ),
    ),
  );
  if (state.runs.length === 0)
    body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'no runs yet')));
  document.getElementById('more-runs').hidden = state.continuation === null;
  const chrono = state.runs.slice(0, 40).reverse();
  barPlot(
    document.getElementById('rows-plot'),
    `Rows written per run (${state.historyFlow}, oldest left)`,
    chrono.map((r) => fmtTime(r.startedAt).slice(5, 16)),
    [
      {
        name: 'inserted',
        color: '#1f6feb',
        values: chrono.map((r) => r.links.reduce((n, l) => n + l.inserted, 0)),
      },
      {
        name: 'updated',
        color: '#8250df',
        values: chrono.map((r) => r.links.reduce((n, l) => n + l.updated, 0)),
      },
    ],
    'rows',
  );
}

async function showRun(runId) {
  state.selectedRun = runId;
  renderHistory();
  const res = await api(`sync/${state.historyFlow}/runs/${encodeURIComponent(runId)}`);
  const box = document.getElementById('run-detail');
  box.hidden = false;
  if (res.status !== 200) {
    box.replaceChildren(h('div', { class: 'problems' }, res.body.error || `HTTP ${res.status}`));
    return;
  }
  const run = res.body;
  const num = (v) => h('td', { class: 'num' }, fmtNum(v));
  const rec = (l, k) => (l.reconcile ? num(l.reconcile[k]) : h('td', { class: 'muted' }, '—'));
  box.replaceChildren(
    h(
      'div',
      { class: 'detail' },
      h('h3', {}, `Run ${run.runId} `, badge(run.status)),
      h(
        'p',
        { class: 'muted' },
        `${run.trigger} · ${run.mode} · ${scope(run)} · ${fmtTime(run.startedAt)} → ${fmtTime(run.finishedAt)} · instance ${run.instanceId}`,
      ),
      run.error ? h('p', { class: 'error' }, run.error) : null,
      h(
        'table',
        { 'data-testid': 'run-links' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...[
              'link',
              'pages',
              'read',
              'inserted',
              'updated',
              'unchanged',
              'lost conflicts',
              'matched',
              'missing',
              'extra',
              'differing',
              'repaired',
              'refused',
              'error',
            ].map((x) => h('th', { class: x === 'link' || x === 'error' ? null : 'num' }, x)),
          ),
        ),
        h(
          'tbody',
          {},
          ...(run.links.length > 0 ? run.links : []).map((l) =>
            h(
              'tr',
              { 'data-link': `${l.link.source}>${l.link.target}` },
              h('td', {}, `${l.link.source}>${l.link.target}`),
              num(l.pages),
              num(l.rowsRead),
              num(l.inserted),
              num(l.updated),
              num(l.unchanged),
              num(l.lostConflicts),
              rec(l, 'matched'),
              rec(l, 'missing'),
              rec(l, 'extra'),
              rec(l, 'differing'),
              rec(l, 'repaired'),
              rec(l, 'refused'),
              h('td', { class: 'error' }, l.lastError || ''),
            ),
          ),
        ),
      ),
      run.links.length === 0 && run.progress ? progressBlock(run) : null,
      run.reportBlob
        ? h(
            'details',
            { open: true },
            h('summary', {}, `Reconciliation report (${run.reportBlob})`),
            h('pre', { 'data-testid': 'report' }, JSON.stringify(run.report, null, 2)),
          )
        : h('p', { class: 'muted' }, 'No reconciliation report (incremental run).'),
    ),
  );
}

// ---- start form ---------------------------------------------------------------------------------

async function startRun(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const body = { mode: data.get('mode') };
  for (const k of ['from', 'to'])
    if (String(data.get(k) || '').trim() !== '') body[k] = String(data.get(k)).trim();
  const regions = data.getAll('regions');
  if (regions.length > 0) body.regions = regions;
  if (data.get('dryRun')) body.dryRun = true;
  const pageSize = String(data.get('pageSize') || '').trim();
  // Sent as typed: the API says what is wrong with it, like every other problem.
  if (pageSize !== '') body.pageSize = /^\d+$/.test(pageSize) ? Number(pageSize) : pageSize;
  const out = document.getElementById('start-result');
  const res = await api(`sync/${encodeURIComponent(data.get('flow'))}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-region-sync-trigger': 'dashboard' },
    body: JSON.stringify(body),
  });
  if (res.status === 202) {
    out.replaceChildren(
      h('div', { class: 'ok', 'data-testid': 'start-ok' }, `Run ${res.body.id} accepted (${res.status}).`),
    );
    state.historyFlow = String(data.get('flow'));
    document.getElementById('history-flow').value = state.historyFlow;
    state.continuation = null;
    state.runs = [];
    await refresh();
  } else {
    const problems = (res.body && res.body.problems) || [
      { path: '', message: (res.body && res.body.error) || `HTTP ${res.status}` },
    ];
    out.replaceChildren(
      h(
        'div',
        { class: 'problems', 'data-testid': 'start-problems' },
        h('b', {}, `${res.status}: ${(res.body && res.body.error) || 'refused'}`),
        h('ul', {}, ...problems.map((p) => h('li', {}, p.path ? `${p.path}: ${p.message}` : p.message))),
      ),
    );
  }
}

// ---- order sync ---------------------------------------------------------------------------------

async function loadOrders() {
  const res = await api('dashboard/data/orders');
  if (res.status !== 200) return;
  const o = res.body;
  const tile = (label, value, id) =>
    h('div', { class: 'tile', 'data-testid': id }, h('b', {}, value), h('span', {}, label));
  document
    .getElementById('order-tiles')
    .replaceChildren(
      tile('events / min', o.eventsPerMinute.toFixed(1), 'tile-rate'),
      tile('p50 enqueue → applied', fmtMs(o.latency.p50Ms), 'tile-p50'),
      tile('p99 enqueue → applied', fmtMs(o.latency.p99Ms), 'tile-p99'),
      tile('applied', fmtNum(o.applied), 'tile-applied'),
      tile('events in flight', fmtNum(o.inFlight.ingests), 'tile-inflight'),
      tile('orders holding versions', fmtNum(o.inFlight.heldOrders), 'tile-held'),
      tile('compensated', fmtNum(o.compensations), 'tile-compensations'),
      tile('failure receipts', fmtNum(o.failed), 'tile-failed'),
    );
  const labels = o.perMinute.map((m) => m.minute.slice(11, 16));
  linePlot(
    document.getElementById('latency-plot'),
    'Enqueue → applied per minute',
    labels,
    [
      { name: 'p50', color: '#1f6feb', values: o.perMinute.map((m) => m.p50Ms) },
      { name: 'p99', color: '#c62828', values: o.perMinute.map((m) => m.p99Ms) },
    ],
    fmtMs,
  );
  barPlot(
    document.getElementById('events-plot'),
    'Receipts per minute',
    labels,
    [
      { name: 'applied', color: '#1a7f37', values: o.perMinute.map((m) => m.applied) },
      { name: 'stale', color: '#9a6700', values: o.perMinute.map((m) => m.stale) },
      { name: 'failed', color: '#c62828', values: o.perMinute.map((m) => m.failed) },
    ],
    'events',
  );
  const body = document.querySelector('#failures tbody');
  body.replaceChildren(
    ...o.failures.map((f) =>
      h(
        'tr',
        {},
        h('td', {}, fmtTime(f.at)),
        h('td', {}, `${f.region}/${f.orderId}`),
        h('td', { class: 'num' }, f.version),
        h('td', { class: 'error' }, f.reason),
        h('td', { class: 'muted' }, f.sagaId),
      ),
    ),
  );
  if (o.failures.length === 0)
    body.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'none in the last hour')));
}

// ---- dead letters -------------------------------------------------------------------------------

async function loadDeadLetters() {
  const res = await api('order-deadletters?max=50');
  if (res.status !== 200) return;
  const body = document.querySelector('#dead tbody');
  body.replaceChildren(
    ...res.body.deadLetters.map((d) =>
      h(
        'tr',
        { 'data-dead': d.id },
        h('td', {}, fmtTime(d.deadLetteredAt)),
        h('td', {}, d.messageId || d.id),
        h(
          'td',
          { class: 'error' },
          d.reason,
          d.issues && d.issues.length ? h('div', { class: 'muted' }, d.issues.join('; ')) : null,
        ),
        h('td', {}, d.replayed ? badge('completed') : '', ` ${d.replays}`),
        h(
          'td',
          {},
          h(
            'button',
            { class: 'secondary', 'data-testid': `show-${d.id}`, onclick: () => showDeadLetter(d.id) },
            'message',
          ),
          ' ',
          h('button', { 'data-testid': `replay-${d.id}`, onclick: () => replay(d.id, '') }, 'replay'),
        ),
      ),
    ),
  );
  if (res.body.deadLetters.length === 0)
    body.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'no dead letters')));
}

async function showDeadLetter(id) {
  const res = await api(`order-deadletters/${encodeURIComponent(id)}`);
  const box = document.getElementById('dead-detail');
  box.hidden = false;
  if (res.status !== 200) {
    box.replaceChildren(h('div', { class: 'problems' }, res.body.error));
    return;
  }
  const d = res.body;
  const area = h('textarea', { 'data-testid': 'dead-body', spellcheck: 'false' });
  area.value = prettyBody(d.message.body);
  box.replaceChildren(
    h(
      'div',
      { class: 'detail' },
      h('h3', {}, `Dead letter ${d.id}`),
      h('p', { class: 'error' }, d.reason),
      h('pre', {}, JSON.stringify({ ...d.message, body: undefined }, null, 2)),
      h(
        'p',
        { class: 'muted' },
        'The message as received. Replay it as is (after a fix of the app or its config), or correct it here and replay the corrected event.',
      ),
      area,
      h(
        'button',
        {
          'data-testid': 'replay-edited',
          onclick: () => replay(d.id, area.value === prettyBody(d.message.body) ? '' : area.value),
        },
        'replay this event',
      ),
      h('div', { id: 'replay-result', 'data-testid': 'replay-result' }),
      d.replays.length ? h('pre', {}, JSON.stringify(d.replays, null, 2)) : null,
    ),
  );
}

function prettyBody(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

async function replay(id, body) {
  const res = await api(`order-deadletters/${encodeURIComponent(id)}/replay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  let out = document.getElementById('replay-result');
  if (out === null) {
    const box = document.getElementById('dead-detail');
    box.hidden = false;
    out = h('div', { id: 'replay-result', 'data-testid': 'replay-result' });
    box.replaceChildren(out);
  }
  out.replaceChildren(
    res.status === 202
      ? h(
          'div',
          { class: 'ok' },
          `Replayed ${id}: accepted as ${res.body.order} v${res.body.version} (${res.body.instanceId}).`,
        )
      : h(
          'div',
          { class: 'problems' },
          h('b', {}, `${res.status}: ${res.body.reason || res.body.error}`),
          h('ul', {}, ...(res.body.issues || []).map((i) => h('li', {}, i))),
        ),
  );
  await loadDeadLetters();
}

// ---- wiring -------------------------------------------------------------------------------------

async function refresh() {
  try {
    await Promise.all([loadFlows(), loadHistory(false), loadOrders(), loadDeadLetters()]);
    document.getElementById('updated').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`;
  } catch (e) {
    document.getElementById('updated').textContent = `refresh failed: ${e.message}`;
  }
}

async function init() {
  const res = await api('dashboard/data/topology');
  if (res.status !== 200) {
    document.getElementById('updated').textContent = `cannot read the topology (HTTP ${res.status})`;
    return;
  }
  state.topology = res.body;
  document.getElementById('zone').textContent = res.body.zone ? `zone ${res.body.zone}` : 'all zones';
  const names = res.body.flows.map((f) => f.name);
  state.historyFlow = names[0] || null;
  const historySelect = document.getElementById('history-flow');
  historySelect.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
  historySelect.addEventListener('change', () => {
    state.historyFlow = historySelect.value;
    state.runs = [];
    state.continuation = null;
    state.selectedRun = null;
    document.getElementById('run-detail').hidden = true;
    void loadHistory(false);
  });
  const form = document.getElementById('start-form');
  form.elements.flow.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
  document
    .getElementById('regions')
    .append(
      ...res.body.regions.map((r) =>
        h('label', {}, h('input', { type: 'checkbox', name: 'regions', value: r.id }), `${r.id} (${r.role})`),
      ),
    );
  form.addEventListener('submit', startRun);
  document.getElementById('more-runs').addEventListener('click', () => loadHistory(true));
  await refresh();
  setInterval(() => {
    if (document.getElementById('auto').checked) void refresh();
  }, 3000);
}

void init();
