/**
 * devhost's Durable instance browser (what the Durable Task Scheduler dashboard offers, without
 * Docker): one self-contained page at /runtime/webhooks/durabletask/ui that uses only devhost's
 * public Durable HTTP API from the browser — the instance list with status, name, prefix and
 * created-time filters and paging (x-ms-continuation-token), an instance's history as a timeline,
 * and terminate / suspend / resume / rewind / raise event / restart / purge. Like every
 * /runtime/** route it answers loopback callers only unless devhost runs with --expose-admin.
 */
import { RUNTIME_STATUSES } from './protocol';

export const INSTANCE_BROWSER_PATH = 'ui';

const SCRIPT = String.raw`
'use strict';
const API = location.pathname.replace(/\/ui\/?$/, '');
const $ = (id) => document.getElementById(id);
const pages = [null];
let pageIndex = 0;
let selected = null;

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  for (const c of kids.flat()) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : String(c));
  return el;
}
const fmt = (t) => (t ? new Date(t).toISOString().replace('T', ' ').slice(0, 23) : '');

function query() {
  const q = new URLSearchParams();
  const statuses = [...document.querySelectorAll('input[name=status]:checked')].map((i) => i.value);
  if (statuses.length) q.set('runtimeStatus', statuses.join(','));
  for (const [id, key] of [['prefix', 'instanceIdPrefix'], ['from', 'createdTimeFrom'], ['to', 'createdTimeTo']])
    if ($(id).value.trim()) q.set(key, $(id).value.trim());
  q.set('top', $('top').value || '25');
  q.set('showInput', 'false');
  return q;
}

// Listings overlap (first load, auto-refresh, a filter submitted meanwhile): only the newest
// request may draw, or a slow earlier answer would overwrite the filtered one.
let listing = 0;
async function list() {
  const mine = ++listing;
  const q = query();
  const headers = pages[pageIndex] ? { 'x-ms-continuation-token': pages[pageIndex] } : {};
  const res = await fetch(API + '/instances?' + q, { headers });
  const body = await res.text();
  if (mine !== listing) return;
  if (!res.ok) {
    $('problem').textContent = 'HTTP ' + res.status + ': ' + body;
    return;
  }
  $('problem').textContent = '';
  const next = res.headers.get('x-ms-continuation-token');
  pages[pageIndex + 1] = next;
  const name = $('name').value.trim().toLowerCase();
  const rows = JSON.parse(body).filter((i) => !name || String(i.name).toLowerCase().includes(name));
  $('rows').replaceChildren(
    ...rows.map((i) =>
      h('tr', { class: i.instanceId === selected ? 'sel' : '', 'data-id': i.instanceId, onclick: () => show(i.instanceId) },
        h('td', {}, i.instanceId), h('td', {}, i.name), h('td', {}, h('span', { class: 'st ' + i.runtimeStatus }, i.runtimeStatus)),
        h('td', {}, fmt(i.createdTime)), h('td', {}, fmt(i.lastUpdatedTime)))),
  );
  if (rows.length === 0) $('rows').append(h('tr', {}, h('td', { colspan: 5 }, 'no instances')));
  $('page').textContent = 'page ' + (pageIndex + 1);
  $('rows').dataset.query = q.toString();
  $('prev').disabled = pageIndex === 0;
  $('next').disabled = !next;
}

function timeline(events) {
  const t0 = Date.parse(events[0] ? events[0].Timestamp : 0);
  const ends = events.map((e) => Date.parse(e.Timestamp));
  const span = Math.max(1, Math.max(...ends) - t0);
  const W = 900, L = 260, row = 18;
  const svgNS = 'http://www.w3.org/2000/svg';
  const s = (tag, a, text) => {
    const el = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(a)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  };
  const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + (events.length * row + 24), width: '100%' });
  const x = (t) => L + ((W - L - 10) * (t - t0)) / span;
  events.forEach((e, i) => {
    const y = i * row + 4;
    const end = Date.parse(e.Timestamp);
    const start = e.ScheduledTime ? Date.parse(e.ScheduledTime) : end;
    const failed = /Failed|Terminated/.test(e.EventType);
    svg.append(s('text', { x: 4, y: y + 12, class: 'lbl' }, e.EventType + (e.FunctionName ? ' ' + e.FunctionName : e.Name ? ' ' + e.Name : '')));
    const bar = s('rect', { x: x(start), y, width: Math.max(3, x(end) - x(start)), height: row - 6, class: failed ? 'bar bad' : 'bar' });
    bar.append(s('title', {}, fmt(e.ScheduledTime || e.Timestamp) + ' → ' + fmt(e.Timestamp) + ' (' + (end - start) + ' ms)'));
    svg.append(bar);
  });
  svg.append(s('text', { x: L, y: events.length * row + 18, class: 'lbl' }, '0 ms'));
  svg.append(s('text', { x: W - 10, y: events.length * row + 18, class: 'lbl', 'text-anchor': 'end' }, span + ' ms'));
  return svg;
}

async function show(id) {
  selected = id;
  const res = await fetch(API + '/instances/' + encodeURIComponent(id) + '?showHistory=true&showHistoryOutput=true&showInput=true');
  if (res.status === 404) {
    $('detail').replaceChildren(h('p', {}, id + ': no such instance (purged?)'));
    return list();
  }
  const s = await res.json();
  const act = (op, label) => h('button', { 'data-op': op, onclick: () => control(id, op) }, label);
  $('detail').replaceChildren(
    h('h2', {}, s.instanceId + ' ', h('span', { class: 'st ' + s.runtimeStatus }, s.runtimeStatus)),
    h('p', {}, s.name + ' · created ' + fmt(s.createdTime) + ' · updated ' + fmt(s.lastUpdatedTime)),
    h('div', { class: 'actions' },
      h('input', { id: 'reason', placeholder: 'reason' }),
      act('terminate', 'terminate'), act('suspend', 'suspend'), act('resume', 'resume'), act('rewind', 'rewind'),
      act('restart', 'restart'), act('purge', 'purge'),
      h('input', { id: 'event', placeholder: 'event name' }), h('input', { id: 'eventData', placeholder: 'event JSON (optional)' }),
      h('button', { 'data-op': 'raise', onclick: () => raise(id) }, 'raise event')),
    h('div', { id: 'result' }),
    h('h3', {}, 'History'),
    timeline(s.historyEvents || []),
    h('details', {}, h('summary', {}, 'input, custom status, output, raw history'),
      h('pre', {}, JSON.stringify({ input: s.input, customStatus: s.customStatus, output: s.output, historyEvents: s.historyEvents }, null, 2))),
  );
  void list();
}

async function control(id, op) {
  const reason = encodeURIComponent($('reason').value || 'from the devhost instance browser');
  const url = API + '/instances/' + encodeURIComponent(id) + (op === 'purge' ? '' : '/' + op) + '?reason=' + reason;
  const res = await fetch(url, { method: op === 'purge' ? 'DELETE' : 'POST' });
  $('result').textContent = op + ': HTTP ' + res.status + ' ' + (await res.text());
  setTimeout(() => (op === 'purge' ? list() : show(id)), 300);
}

async function raise(id) {
  const name = $('event').value.trim();
  if (!name) return ($('result').textContent = 'an event needs a name');
  const res = await fetch(API + '/instances/' + encodeURIComponent(id) + '/raiseEvent/' + encodeURIComponent(name), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: $('eventData').value.trim() || 'null',
  });
  $('result').textContent = 'raise ' + name + ': HTTP ' + res.status + ' ' + (await res.text());
  setTimeout(() => show(id), 300);
}

$('filters').addEventListener('submit', (e) => { e.preventDefault(); pages.length = 1; pageIndex = 0; void list(); });
$('prev').addEventListener('click', () => { pageIndex = Math.max(0, pageIndex - 1); void list(); });
$('next').addEventListener('click', () => { pageIndex++; void list(); });
void list();
setInterval(() => { if ($('auto').checked) void list(); }, 3000);
`;

const STYLE = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
header { background: #3b2a63; color: #fff; padding: 10px 16px; font-size: 16px; }
main { padding: 12px 16px; display: grid; gap: 12px; }
form, section { background: #fff; border: 1px solid #e3e6eb; border-radius: 6px; padding: 10px; }
form { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; }
label { display: flex; flex-direction: column; font-size: 11px; color: #667085; }
table { width: 100%; border-collapse: collapse; font-size: 12px; }
td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #e3e6eb; }
tbody tr { cursor: pointer; } tbody tr:hover, tr.sel { background: #eef4ff; }
.st { padding: 0 6px; border-radius: 8px; background: #eee; font-size: 11px; }
.st.Completed { background: #dafbe1; color: #1a7f37; } .st.Failed, .st.Terminated { background: #ffebe9; color: #c62828; }
.st.Running, .st.Pending { background: #ddf4ff; color: #1f6feb; } .st.Suspended { background: #fff8c5; color: #9a6700; }
.bar { fill: #1f6feb; } .bar.bad { fill: #c62828; } .lbl { font-size: 10px; fill: #444; }
.actions { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0; }
button { font: inherit; padding: 3px 10px; border: 1px solid #3b2a63; border-radius: 4px; background: #fff; color: #3b2a63; cursor: pointer; }
pre { background: #f3f4f6; padding: 8px; max-height: 300px; overflow: auto; }
#problem { color: #c62828; }
`;

/** The whole page (static: the statuses come from the protocol module). */
export function instanceBrowserHtml(): string {
  const statuses = RUNTIME_STATUSES.map(
    (s) =>
      `<label style="flex-direction:row;gap:3px"><input type="checkbox" name="status" value="${s}">${s}</label>`,
  ).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>devhost · Durable instances</title><style>${STYLE}</style></head>
<body><header>devhost · Durable instances</header><main>
<form id="filters">
  <fieldset style="border:0;display:flex;gap:6px;flex-wrap:wrap">${statuses}</fieldset>
  <label>name contains<input id="name"></label>
  <label>instance id prefix<input id="prefix"></label>
  <label>created from<input id="from" placeholder="2026-12-04T00:00:00Z"></label>
  <label>created to<input id="to"></label>
  <label>per page<input id="top" value="25" size="4"></label>
  <button type="submit">filter</button>
  <label style="flex-direction:row"><input type="checkbox" id="auto" checked>auto refresh</label>
</form>
<section><div id="problem"></div>
<table><thead><tr><th>instance</th><th>name</th><th>status</th><th>created</th><th>updated</th></tr></thead><tbody id="rows"></tbody></table>
<button id="prev">previous</button> <span id="page"></span> <button id="next">next</button></section>
<section id="detail"><p>Select an instance to see its history and act on it.</p></section>
</main><script>${SCRIPT}</script></body></html>`;
}
