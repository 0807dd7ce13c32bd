/* app.js - the mlhep dashboard (served by mlhep-gateway at /, see index.html).
 *
 * Everything goes through the gateway's JSON API with the bearer token the user pasted
 * (kept in sessionStorage, sent as "Authorization: Bearer ..." on every call; a 401
 * returns to the sign-in form with the gateway's message). Pages, by location hash:
 *   #/jobs         the user's jobs (GET /v1/jobs), polled while any job is unfinished
 *   #/jobs/ID      one job: live state and log from the SSE stream /v1/jobs/ID/events
 *                  (read with fetch(): EventSource cannot send the token), then metrics,
 *                  plots and artifact downloads; cancel; tag as model
 *   #/submit       paste or load a workflow, POST /v1/jobs
 *   #/models       GET /v1/models;  #/models/NAME  versions, features, share, delete
 * Artifacts need the token too, so plots are fetched and shown through blob: URLs and
 * downloads are saved from blobs. Text from the API is put in the page with textContent
 * only (never as HTML). No inline code: the gateway's Content-Security-Policy forbids it. */
'use strict';

(function () {
  const TOKEN_KEY = 'mlhep.token';
  const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
  const LIST_POLL_ACTIVE = 1500;   /* ms between job-list refreshes while jobs run */
  const LIST_POLL_IDLE = 10000;    /* ... and when every job has finished */
  const STREAM_RETRY = 2000;       /* ms before reconnecting a broken event stream */
  const REGISTER_WAIT = 30000;     /* ms a just-submitted job may be unknown to the gateway */
  const REGISTER_POLL = 400;
  const EXAMPLE = {
    name: 'hzz',
    files: [{ path: 'uproot-HZZ.root', label: 1 }, { path: 'uproot-HZZ-zstd.root', label: 0 }],
    tree: 'events',
    params: { epochs: 2, batch_size: 64, selected_branches: ['NJet', 'MET_px', 'MET_py', 'Jet_Px'] },
    model: { type: 'mlp', layers: [{ dense: 16, activation: 'relu' }, { dense: 1, activation: 'sigmoid' }] },
  };
  const VIEWS = ['signin', 'jobs', 'job', 'submit', 'models', 'model'];

  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let user = '';
  let gen = 0;                                  /* bumped by every navigation */
  let flashNext = '';                           /* a note for the next page shown */
  /* jobs submitted from this tab: id -> {at, name}. The gateway answers 202 when the job
   * is queued; its status record appears a moment later (404 "not registered yet" until
   * then), so the job page waits for it instead of showing an error. */
  const submitted = new Map();
  let live = { timers: [], aborts: [], urls: [] }; /* what the current page holds */

  /* ---- small helpers ------------------------------------------------------------ */

  /* el('td', {class: 'num'}, 'text', child...): an element; strings become text nodes. */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function setError(id, msg) { const e = $(id); e.textContent = msg || ''; e.hidden = !msg; }
  /* a path segment: percent-encoded, but '@' kept (model versions are NAME@N) */
  function seg(s) { return encodeURIComponent(s).replace(/%40/g, '@'); }
  function later(fn, ms) { live.timers.push(setTimeout(fn, ms)); }

  function fmtTime(t) {
    if (typeof t !== 'number' || !(t > 0)) return '';
    const d = new Date(t * 1000), p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }
  function fmtDuration(s) {
    if (typeof s !== 'number' || !(s >= 0)) return '';
    if (s < 60) return s.toFixed(1) + ' s';
    const m = Math.floor(s / 60);
    return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
  }
  function fmtNum(x) {
    if (typeof x !== 'number') return x === null || x === undefined ? '' : String(x);
    if (!isFinite(x)) return String(x);
    if (Number.isInteger(x)) return String(x);
    if (Math.abs(x) >= 1000) return x.toFixed(1);
    return String(Number(x.toPrecision(4)));
  }
  function fmtBytes(n) {
    if (typeof n !== 'number') return '';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }
  function stateBadge(s) { return el('span', { class: 'state ' + (s || ''), text: s || '?' }); }
  function progressBar(frac, state, big) {
    const f = typeof frac === 'number' && isFinite(frac) ? Math.min(Math.max(frac, 0), 1) : 0;
    const bar = el('div');
    bar.style.width = (f * 100).toFixed(1) + '%';
    return el('div', { class: 'progress ' + (state || '') + (big ? ' big' : ''), role: 'progressbar',
      'aria-valuenow': Math.round(f * 100), 'aria-valuemin': 0, 'aria-valuemax': 100 },
    bar, el('span', { text: Math.round(f * 100) + '%' }));
  }

  /* ---- the API ------------------------------------------------------------------ */

  class ApiError extends Error {
    constructor(msg, status) { super(msg); this.status = status; }
  }

  async function errorText(r) {
    let t = '';
    try {
      t = await r.text();
      const j = JSON.parse(t);
      if (j && typeof j.error === 'string') return j.error;
    } catch (_) { /* not JSON: the raw text below */ }
    return `${r.status} ${r.statusText}${t ? ': ' + t.slice(0, 300) : ''}`;
  }

  /* api('GET', '/v1/jobs') -> parsed JSON; {raw: true} -> the Response; throws ApiError
   * with the gateway's "error" text. A 401 signs out (back to the token form). */
  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = { Authorization: 'Bearer ' + token };
    let payload;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, { method, headers, body: payload, signal: opts.signal, cache: 'no-store' });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError('the gateway cannot be reached (' + e.message + ')', 0);
    }
    if (r.status === 401) {
      const msg = await errorText(r);
      /* a stored token was accepted before: say why the user is back at the form */
      signOut(sessionStorage.getItem(TOKEN_KEY) ? 'Signed out: ' + msg : msg);
      throw new ApiError(msg, 401);
    }
    if (!r.ok) throw new ApiError(await errorText(r), r.status);
    if (opts.raw) return r;
    return r.status === 204 ? null : r.json();
  }

  /* An artifact as a Blob (the token is needed, so no plain links). */
  async function fetchBlob(path, signal) {
    const r = await api('GET', path, undefined, { raw: true, signal });
    return r.blob();
  }

  async function download(path, filename, status) {
    status.textContent = 'downloading ' + filename + ' ...';
    try {
      const b = await fetchBlob(path);
      /* octet-stream: the browser saves it, never renders it in the dashboard's origin */
      const url = URL.createObjectURL(new Blob([b], { type: 'application/octet-stream' }));
      const a = el('a', { href: url, download: filename });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.textContent = '';
    } catch (e) {
      status.textContent = filename + ': ' + e.message;
    }
  }

  /* ---- sign-in ------------------------------------------------------------------ */

  function signOut(msg) {
    token = '';
    user = '';
    sessionStorage.removeItem(TOKEN_KEY);
    setError('signin-error', msg || '');
    if (location.hash !== '#/signin') location.hash = '#/signin';
    else route();
  }

  async function whoami() {
    const d = await api('GET', '/v1/whoami');
    user = d.user || '';
    $('who-name').textContent = user;
  }

  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let t = $('token').value.trim().replace(/^Bearer\s+/i, '');
    if (!t) { setError('signin-error', 'paste a token first'); return; }
    token = t;
    try {
      await whoami();
    } catch (e) {
      if (e.status !== 401) { token = ''; setError('signin-error', e.message); }
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token').value = '';
    setError('signin-error', '');
    /* back to the page asked for (a link to a job), else the job list */
    if (!location.hash || location.hash === '#/signin') location.hash = '#/jobs';
    else route();
  });
  $('signout').addEventListener('click', () => signOut(''));

  /* ---- routing ------------------------------------------------------------------ */

  function show(name) {
    for (const v of VIEWS) $('view-' + v).hidden = v !== name;
    const signed = name !== 'signin';
    $('nav').hidden = !signed;
    $('who').hidden = !signed;
    const section = name === 'job' ? 'jobs' : name === 'model' ? 'models' : name;
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.nav === section);
  }

  function leavePage() {
    gen++;
    for (const t of live.timers) clearTimeout(t);
    for (const a of live.aborts) a.abort();
    for (const u of live.urls) URL.revokeObjectURL(u);
    live = { timers: [], aborts: [], urls: [] };
  }

  function route() {
    leavePage();
    setError('flash', flashNext);
    flashNext = '';
    if (!token) { show('signin'); $('token').focus(); return; }
    if (!user) whoami().catch((e) => { if (e.status !== 401) $('who-name').textContent = '?'; });
    const parts = location.hash.replace(/^#\/?/, '').split('/');
    const page = parts[0], arg = decodeURIComponent(parts.slice(1).join('/'));
    if (page === 'jobs' && arg) jobPage(arg);
    else if (page === 'submit') submitPage();
    else if (page === 'models' && arg) modelPage(arg);
    else if (page === 'models') modelsPage();
    else if (page === 'jobs' || page === '' || page === 'signin') {
      if (page !== 'jobs') { history.replaceState(null, '', '#/jobs'); }
      jobsPage();
    } else {
      location.hash = '#/jobs';
    }
  }
  window.addEventListener('hashchange', route);

  /* ---- jobs list ---------------------------------------------------------------- */

  function jobRow(j) {
    return el('tr', { 'data-job': j.id },
      el('td', { class: 'nowrap' }, el('a', { href: '#/jobs/' + j.id, text: j.name || j.id.slice(0, 8) })),
      el('td', {}, stateBadge(j.state)),
      el('td', { text: j.phase || '' }),
      el('td', {}, progressBar(j.progress, j.state)),
      el('td', { class: 'num', text: fmtNum(j.attempts) }),
      el('td', { class: 'nowrap', text: fmtTime(j.submitted) }),
      el('td', { class: 'nowrap', text: fmtTime(j.finished) }),
      el('td', { class: 'err', text: j.error || '' }));
  }

  function jobsPage() {
    show('jobs');
    const g = gen;
    delete $('view-jobs').dataset.loaded;
    const tick = async () => {
      let d;
      try {
        d = await api('GET', '/v1/jobs?limit=200');
      } catch (e) {
        if (g !== gen) return;
        setError('jobs-error', e.message);
        later(tick, LIST_POLL_IDLE);
        return;
      }
      if (g !== gen) return;
      setError('jobs-error', '');
      const jobs = (d.jobs || []).slice().sort((a, b) => (b.submitted || 0) - (a.submitted || 0));
      const tb = clear($('jobs-table').tBodies[0]);
      for (const j of jobs) tb.append(jobRow(j));
      $('jobs-empty').hidden = jobs.length > 0;
      $('jobs-table').hidden = jobs.length === 0;
      $('view-jobs').dataset.loaded = '1';  /* the list is the gateway's answer, not a leftover */
      later(tick, jobs.some((j) => !TERMINAL.has(j.state)) ? LIST_POLL_ACTIVE : LIST_POLL_IDLE);
    };
    tick();
  }

  /* ---- one job ------------------------------------------------------------------ */

  const JOB_FIELDS = [
    ['id', 'job id'], ['phase', 'phase'], ['worker', 'worker'], ['attempts', 'attempts'],
    ['submitted', 'submitted', fmtTime], ['started', 'started', fmtTime], ['finished', 'finished', fmtTime],
    ['events', 'events'], ['epoch', 'epoch'], ['loss', 'loss'], ['val_loss', 'val loss'], ['val_auc', 'val AUC'],
    ['error', 'error'],
  ];

  function renderJob(rec) {
    $('job-name').textContent = rec.name || rec.id;
    document.title = 'mlhep: ' + (rec.name || rec.id);
    const st = $('job-state');
    st.className = 'state ' + (rec.state || '');
    st.textContent = rec.state || '?';
    const pb = $('job-bar').parentElement;
    pb.className = 'progress big ' + (rec.state || '');
    const f = typeof rec.progress === 'number' ? Math.min(Math.max(rec.progress, 0), 1) : 0;
    $('job-bar').style.width = (f * 100).toFixed(1) + '%';
    $('job-pct').textContent = Math.round(f * 100) + '%';
    $('job-message').textContent = rec.message || '';
    const tb = clear($('job-fields').tBodies[0]);
    for (const [k, label, fmt] of JOB_FIELDS) {
      let v = rec[k];
      if (v === undefined || v === null || v === '') continue;
      if (k === 'epoch' && rec.epochs) v = `${v} / ${rec.epochs}`;
      else v = fmt ? fmt(v) : fmtNum(v);
      tb.append(el('tr', { 'data-field': k }, el('th', { text: label }), el('td', { class: k === 'error' ? 'err' : '', text: v })));
    }
    if (rec.started && (rec.finished || rec.updated)) {
      tb.append(el('tr', { 'data-field': 'duration' }, el('th', { text: 'run time' }),
        el('td', { text: fmtDuration((rec.finished || rec.updated) - rec.started) })));
    }
    const active = !TERMINAL.has(rec.state);
    $('job-cancel').hidden = !active;
    if (rec.cancel_requested && active) {
      $('job-cancel').disabled = true;
      $('job-action-msg').textContent = 'cancel requested';
    }
  }

  function renderLog(lines) {
    $('job-log').textContent = lines.length ? lines.join('\n') : '(no log lines yet)';
    const pre = $('job-log');
    pre.scrollTop = pre.scrollHeight;
  }

  /* metrics.json: scalar figures of "final" (and of the top level), per-epoch tables */
  const METRIC_LABELS = {
    validation_rows: 'validation rows', loss: 'loss', accuracy: 'accuracy', auc: 'AUC',
    val_loss: 'val loss', val_accuracy: 'val accuracy', val_auc: 'val AUC', seconds: 'seconds',
    epoch: 'epoch', model: 'model', procedure: 'procedure',
  };
  /* the final figures are computed on the validation rows */
  const FINAL_LABELS = { loss: 'val loss', accuracy: 'val accuracy', auc: 'val AUC' };
  const label = (k) => METRIC_LABELS[k] || k.replace(/_/g, ' ');

  function renderMetrics(m) {
    const box = clear($('job-metrics'));
    if (!m || typeof m !== 'object') return;
    const fin = el('tbody');
    for (const k of ['model', 'procedure']) {
      if (typeof m[k] === 'string') fin.append(el('tr', { 'data-metric': k }, el('th', { text: label(k) }), el('td', { text: m[k] })));
    }
    const f = m.final && typeof m.final === 'object' ? m.final : {};
    for (const [k, v] of Object.entries(f)) {
      if (typeof v === 'number' || typeof v === 'string') {
        fin.append(el('tr', { 'data-metric': k }, el('th', { text: FINAL_LABELS[k] || label(k) }),
          el('td', { class: 'num', text: fmtNum(v) })));
      } else if (k === 'confusion' && v && typeof v === 'object') {
        fin.append(el('tr', { 'data-metric': k }, el('th', { text: `confusion at ${fmtNum(v.threshold)}` }),
          el('td', { text: `TP ${v.tp}  FP ${v.fp}  TN ${v.tn}  FN ${v.fn}` })));
      }
    }
    box.append(el('h2', { text: 'Final figures' }), el('table', { class: 'kv', id: 'metrics-final' }, fin));
    /* per-epoch (and any other list of records) as a table */
    for (const [k, rows] of Object.entries(m)) {
      if (!Array.isArray(rows) || !rows.length || typeof rows[0] !== 'object') continue;
      const cols = [];
      for (const r of rows) for (const c of Object.keys(r)) if (!cols.includes(c) && typeof r[c] !== 'object') cols.push(c);
      const thead = el('tr', {}, ...cols.map((c) => el('th', { class: 'num', text: label(c) })));
      const tb = el('tbody', {}, ...rows.map((r) => el('tr', {},
        ...cols.map((c) => el('td', { class: 'num', 'data-col': c, text: fmtNum(r[c]) })))));
      box.append(el('h2', { text: k === 'epochs' ? 'Per epoch' : label(k) }),
        el('table', { class: 'grid small', id: 'metrics-' + k }, el('thead', {}, thead), tb));
    }
  }

  const PLOT_ORDER = ['roc.svg', 'scores.svg', 'loss.svg', 'auc.svg'];

  async function renderArtifacts(id, g) {
    let d;
    try {
      d = await api('GET', `/v1/jobs/${seg(id)}/artifacts`);
    } catch (e) {
      if (g === gen) setError('job-error', e.message);
      return;
    }
    if (g !== gen) return;
    const files = d.files || [];
    /* downloads */
    const status = el('span', { class: 'muted' });
    const tb = el('tbody', {}, ...files.map((f) => el('tr', {},
      el('td', {}, el('button', { type: 'button', class: 'link', 'data-file': f.name,
        onclick: () => download(f.url, f.name, status), text: f.name })),
      el('td', { class: 'num', text: fmtBytes(f.bytes) }),
      el('td', { class: 'muted', text: f.content_type || '' }))));
    const archiveName = `${($('job-name').textContent || 'job').replace(/[^A-Za-z0-9._-]/g, '_')}-${id.slice(0, 8)}.tar.gz`;
    clear($('job-files')).append(
      el('table', { class: 'grid small files' }, el('thead', {}, el('tr', {}, el('th', { text: 'File' }),
        el('th', { class: 'num', text: 'Size' }), el('th', { text: 'Type' }))), tb),
      el('p', {}, el('button', { type: 'button', id: 'archive', onclick: () => download(d.archive_url, archiveName, status),
        text: 'Download all (.tar.gz)' }), ' ', status));
    $('files-title').hidden = false;
    /* metrics */
    if (files.some((f) => f.name === 'metrics.json')) {
      try {
        const m = await api('GET', `/v1/jobs/${seg(id)}/artifacts/metrics.json`);
        if (g === gen) renderMetrics(m);
      } catch (e) {
        if (g === gen) setError('job-error', 'metrics.json: ' + e.message);
      }
    }
    /* plots: every .svg of the set's top level (the input histograms of params.hist stay
     * in the file list, one click away), fetched with the token, shown through blob: URLs */
    const svgs = files.filter((f) => /\.svg$/i.test(f.name) && !f.name.includes('/')).sort((a, b) => {
      const ia = PLOT_ORDER.indexOf(a.name), ib = PLOT_ORDER.indexOf(b.name);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.name.localeCompare(b.name);
    });
    $('plots-title').hidden = svgs.length === 0;
    const box = clear($('job-plots'));
    const figs = svgs.map((f) => {
      const img = el('img', { alt: f.name, 'data-artifact': f.name });
      const fig = el('figure', {}, img, el('figcaption', { text: f.name }));
      box.append(fig);
      return { f, img, fig };
    });
    const ac = new AbortController();
    live.aborts.push(ac);
    await Promise.all(figs.map(async ({ f, img, fig }) => {
      try {
        const b = await fetchBlob(f.url, ac.signal);
        if (g !== gen) return;
        const url = URL.createObjectURL(b.type === 'image/svg+xml' ? b : new Blob([b], { type: 'image/svg+xml' }));
        live.urls.push(url);
        img.src = url;
      } catch (e) {
        if (g === gen && e.name !== 'AbortError') fig.replaceChildren(el('div', { class: 'error', text: `${f.name}: ${e.message}` }));
      }
    }));
  }

  async function loadLog(id, g) {
    try {
      const d = await api('GET', `/v1/jobs/${seg(id)}/logs`);
      if (g === gen) renderLog(d.lines || []);
    } catch (e) {
      if (g === gen) renderLog(['(log unavailable: ' + e.message + ')']);
    }
  }

  /* The job's end state: final log, and for a succeeded job its metrics, plots, files. */
  async function finished(id, rec, g) {
    $('job-cancel').hidden = true;
    await loadLog(id, g);
    if (g !== gen || rec.state !== 'succeeded') return;
    $('tag-form').hidden = false;
    if (!$('tag-name').value) $('tag-name').value = (rec.name || 'model').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '') || 'model';
    await renderArtifacts(id, g);
  }

  /* Follows GET /v1/jobs/ID/events (Server-Sent Events) until its "end" event: status
   * events re-render the job, log events append lines. Reconnects if the stream breaks. */
  async function follow(id, g) {
    const lines = [];
    let last = null;
    for (;;) {
      const ac = new AbortController();
      live.aborts.push(ac);
      let ended = false;
      try {
        const r = await api('GET', `/v1/jobs/${seg(id)}/events`, undefined, { raw: true, signal: ac.signal });
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let type = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (!line || line[0] === ':') continue;
              const c = line.indexOf(':');
              const field = c < 0 ? line : line.slice(0, c);
              const val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (field === 'event') type = val;
              else if (field === 'data') data.push(val);
            }
            if (!data.length || g !== gen) continue;
            const msg = JSON.parse(data.join('\n'));
            if (type === 'status') { last = msg; renderJob(msg); }
            else if (type === 'log' && typeof msg.n === 'number') {
              if (msg.n < lines.length) lines.length = msg.n; /* re-sent after a reconnect */
              lines[msg.n] = msg.line;
              renderLog(lines);
            } else if (type === 'end') {
              ended = true;
              if (msg.error) setError('job-error', msg.error);
            } else if (type === 'error' && msg.error) setError('job-error', msg.error);
          }
        }
      } catch (e) {
        if (e.name === 'AbortError' || g !== gen || e.status === 401) return;
        setError('job-error', e.message + ' (reconnecting)');
      }
      if (g !== gen) return;
      if (ended) break;
      await new Promise((res) => later(res, STREAM_RETRY));
      if (g !== gen) return;
    }
    setError('job-error', '');
    let rec = last;
    try { rec = await api('GET', `/v1/jobs/${seg(id)}`); } catch (_) { /* the last status event stands */ }
    if (g !== gen || !rec) return;
    renderJob(rec);
    await finished(id, rec, g);
  }

  async function jobPage(id) {
    show('job');
    const g = gen;
    for (const k of ['job-name', 'job-message', 'job-action-msg', 'job-pct']) $(k).textContent = '';
    $('job-state').textContent = '';
    $('job-state').className = 'state';
    $('job-bar').style.width = '0';
    clear($('job-fields').tBodies[0]);
    for (const k of ['job-metrics', 'job-plots', 'job-files', 'job-log']) clear($(k));
    $('plots-title').hidden = $('files-title').hidden = true;
    $('tag-form').hidden = $('job-cancel').hidden = true;
    $('job-cancel').disabled = false;
    $('tag-name').value = '';
    $('tag-shared').checked = false;
    setError('job-error', '');
    $('job-cancel').dataset.job = $('tag-form').dataset.job = id;
    let rec;
    for (;;) {
      try {
        rec = await api('GET', `/v1/jobs/${seg(id)}`);
        break;
      } catch (e) {
        if (g !== gen) return;
        const s = submitted.get(id);
        if (e.status === 404 && s && Date.now() - s.at < REGISTER_WAIT) {
          renderJob({ id, name: s.name, state: 'queued', message: 'submitted; waiting for the service to register the job' });
          await new Promise((res) => later(res, REGISTER_POLL));
          if (g !== gen) return;
          continue;
        }
        setError('job-error', e.message);
        return;
      }
    }
    if (g !== gen) return;
    submitted.delete(id);
    renderJob(rec);
    if (TERMINAL.has(rec.state)) await finished(id, rec, g);
    else await follow(id, g);
  }

  $('job-cancel').addEventListener('click', async () => {
    const id = $('job-cancel').dataset.job;
    $('job-cancel').disabled = true;
    try {
      await api('POST', `/v1/jobs/${seg(id)}/cancel`);
      $('job-action-msg').textContent = 'cancel requested';
    } catch (e) {
      $('job-cancel').disabled = false;
      $('job-action-msg').textContent = '';
      setError('job-error', e.message);
    }
  });

  $('tag-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const id = $('tag-form').dataset.job, name = $('tag-name').value.trim();
    const msg = clear($('job-action-msg'));
    try {
      const d = await api('POST', '/v1/models', { job: id, name, shared: $('tag-shared').checked });
      msg.append('tagged as ', el('a', { href: '#/models/' + seg(name), text: d.model || name }));
    } catch (e) {
      setError('job-error', e.message);
    }
  });

  /* ---- submit ------------------------------------------------------------------- */

  function submitPage() {
    show('submit');
    setError('submit-error', '');
    $('workflow').focus();
  }

  $('submit-file').addEventListener('change', async () => {
    const f = $('submit-file').files[0];
    if (!f) return;
    try {
      $('workflow').value = await f.text();
      setError('submit-error', '');
      $('submit-file').value = ''; /* the same file chosen again is read again */
    } catch (e) {
      setError('submit-error', f.name + ': ' + e.message);
    }
  });
  $('submit-example').addEventListener('click', () => { $('workflow').value = JSON.stringify(EXAMPLE, null, 2); });

  $('submit-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = $('workflow').value;
    if (!text.trim()) { setError('submit-error', 'paste a workflow (JSON) first'); return; }
    const go = $('submit-go');
    go.disabled = true;
    setError('submit-error', '');
    try {
      const d = await api('POST', '/v1/jobs', text);
      let name = '';
      try { name = JSON.parse(text).name || ''; } catch (_) { /* accepted, so it parsed */ }
      submitted.set(d.id, { at: Date.now(), name });
      location.hash = '#/jobs/' + d.id;
    } catch (e) {
      setError('submit-error', e.message);
    } finally {
      go.disabled = false;
    }
  });

  /* ---- models ------------------------------------------------------------------- */

  const latest = (m) => (m.versions || []).reduce((a, v) => (!a || v.version > a.version ? v : a), null);

  async function modelsPage() {
    show('models');
    const g = gen;
    let d;
    try {
      d = await api('GET', '/v1/models');
    } catch (e) {
      if (g === gen) setError('models-error', e.message);
      return;
    }
    if (g !== gen) return;
    setError('models-error', '');
    const models = (d.models || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    const tb = clear($('models-table').tBodies[0]);
    for (const m of models) {
      const v = latest(m) || {};
      tb.append(el('tr', { 'data-model': m.name },
        el('td', {}, el('a', { href: '#/models/' + seg(m.name), text: m.name })),
        el('td', { text: m.mine ? `${m.owner} (you)` : m.owner }),
        el('td', { text: m.shared ? 'yes' : 'no' }),
        el('td', { class: 'num', text: (m.versions || []).length }),
        el('td', { text: v.kind || '' }),
        el('td', { class: 'num', text: fmtNum((v.metrics || {}).auc) }),
        el('td', { text: fmtTime(m.created) })));
    }
    $('models-empty').hidden = models.length > 0;
    $('models-table').hidden = models.length === 0;
  }

  async function modelPage(name) {
    show('model');
    const g = gen;
    $('model-name').textContent = name;
    $('model-owner').textContent = $('model-width').textContent = $('model-action-msg').textContent = '';
    $('model-actions').hidden = true;
    clear($('model-versions').tBodies[0]);
    clear($('model-features').tBodies[0]);
    setError('model-error', '');
    let d;
    try {
      d = await api('GET', '/v1/models/' + seg(name));
    } catch (e) {
      if (g === gen) setError('model-error', e.message);
      return;
    }
    if (g !== gen) return;
    const reg = d.registry || {}, feat = d.features || {};
    const mine = !!reg.mine;
    $('model-owner').textContent = reg.owner ? `owner ${reg.owner}${mine ? ' (you)' : ''}, created ${fmtTime(reg.created)}` : '';
    $('model-actions').hidden = !mine;
    $('model-shared').checked = !!reg.shared;
    $('model-delete').dataset.model = $('model-shared').dataset.model = reg.name || name;
    const vs = (reg.versions || []).slice().sort((a, b) => b.version - a.version);
    const tb = $('model-versions').tBodies[0];
    for (const v of vs) {
      const m = v.metrics || {}, ref = `${reg.name}@${v.version}`;
      tb.append(el('tr', { 'data-version': v.version },
        el('td', { class: 'num', text: v.version }),
        el('td', {}, mine ? el('a', { href: '#/jobs/' + v.job, text: v.job.slice(0, 8) }) : v.job.slice(0, 8)),
        el('td', { text: v.kind || '' }),
        el('td', { text: fmtTime(v.created) }),
        el('td', { class: 'num', text: fmtNum(m.auc) }),
        el('td', { class: 'num', text: fmtNum(m.accuracy) }),
        el('td', { class: 'num', text: fmtNum(m.loss) }),
        el('td', { class: 'num', text: fmtNum(m.validation_rows) }),
        el('td', {}, mine ? el('button', { type: 'button', class: 'link', onclick: () => deleteModel(ref), text: 'delete' }) : '')));
    }
    $('model-width').textContent = feat.width ? `(${feat.width} input columns, ${feat.outputs || 1} output${feat.outputs > 1 ? 's' : ''})` : '';
    const fb = $('model-features').tBodies[0], fl = feat.features || [];
    $('model-features-count').textContent = `${fl.length} branch${fl.length === 1 ? '' : 'es'} read by the model`;
    $('model-features-box').open = fl.length <= 30;
    for (const f of fl) {
      fb.append(el('tr', {}, el('td', { text: f.name }), el('td', { text: f.kind || '' }), el('td', { class: 'num', text: fmtNum(f.len) })));
    }
  }

  async function deleteModel(ref) {
    const whole = !ref.includes('@');
    if (!confirm(whole ? `Delete model ${ref} and every version of it?` : `Delete version ${ref}?`)) return;
    try {
      await api('DELETE', '/v1/models/' + seg(ref));
      flashNext = `deleted ${ref}`;
      if (whole) location.hash = '#/models';
      else route();
    } catch (e) {
      setError('model-error', e.message);
    }
  }

  $('model-delete').addEventListener('click', () => deleteModel($('model-delete').dataset.model));
  $('model-shared').addEventListener('change', async () => {
    const box = $('model-shared'), shared = box.checked;
    box.disabled = true;
    try {
      await api('POST', `/v1/models/${seg(box.dataset.model)}/share`, { shared });
      $('model-action-msg').textContent = shared ? 'shared with every user' : 'private';
    } catch (e) {
      box.checked = !shared;
      setError('model-error', e.message);
    } finally {
      box.disabled = false;
    }
  });

  route();
})();
