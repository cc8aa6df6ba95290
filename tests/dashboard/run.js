// The admin dashboard (/dashboard) in headless Chromium, end to end.
//
//   node run.js BIN          (scripts/test-dashboard.sh installs playwright-core and runs this)
//
// Builds a fresh demo database (`BIN demo --scale 0.01`), starts `BIN serve` on free 127.0.0.1
// ports with an admin listener, checks /metrics.json and the page itself (self-contained:
// nothing loaded from elsewhere), opens the page in Chromium, sends load to the API from this
// process (cached reads, and some that ask for a fresh answer so the database works too) until
// the page has shown what the test reads, and checks that every chart shows live numbers: the
// values the page exposes (output[data-metric] data-value / data-samples) are > 0 and move from
// one read to the next, the pool chart says n/a (no backend reports a pool yet), the requests
// chart has pixels of its line, and requests/s falls back to 0 once the load stops.
//
// Every wait is for a condition, never for a length of time, so a slow or busy machine only
// makes the test take longer: the load runs until the page shows the second set of figures
// (not for a fixed few seconds), and the caps below (LOAD_CAP_MS, WAIT_CAP_MS, TOTAL_TIMEOUT_MS)
// only bound a hang; a healthy run is nowhere near them. Saves a screenshot
// (HP_DASHBOARD_SCREENSHOT, default hotpath-dashboard.png in os.tmpdir()), stops
// the server with SIGTERM (exit status 0 expected), and ends with `N passed, N failed`.
//
// Environment: HP_CHROMIUM (default /usr/bin/chromium), HP_DASHBOARD_SCREENSHOT,
// HP_DASHBOARD_KEEP=1 keeps the temporary directory.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.HP_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];
// The load stops as soon as the page has shown the figures the test reads; these two bounds
// only stop a load whose page never gets there (a hang, or a broken dashboard).
const LOAD_CAP_MS = 120000;
const LOAD_MAX_REQUESTS = 2000000;
const LOAD_WORKERS = 16;
const WAIT_CAP_MS = 60000;       // any other wait for a condition (server up, page live, idle)
const REQUEST_TIMEOUT_MS = 30000;
const TOTAL_TIMEOUT_MS = 420000; // the whole run, above the sum of the caps it can meet

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];

function check(name, problems) {
  results.push(problems.length === 0);
  console.log((problems.length === 0 ? 'ok   ' : 'FAIL ') + name);
  for (const p of problems.slice(0, 10)) console.log('    ' + p);
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: LOAD_WORKERS });

/* One request; resolves to {status, headers, body} (body as text). */
function request(port, path, headers = {}) {
  return new Promise((ok, fail) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', fail);
  });
}

async function startServer(bin, dir) {
  const db = join(dir, 'demo.db');
  const mk = spawnSync(bin, ['demo', '--out', db, '--scale', '0.01'], { timeout: 120000 });
  if (mk.status !== 0) throw new Error('hotpath demo failed: ' + String(mk.stderr || mk.error));
  const logPath = join(dir, 'server.log');
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let admin = await freePort();
    while (admin === port) admin = await freePort();
    const log = openSync(logPath, 'a');
    const child = spawn(bin, ['serve', '--db-uri', db, '--server-host', '127.0.0.1',
      '--server-port', String(port), '--admin-server-port', String(admin),
      '--server-threads', '2'], { stdio: ['ignore', log, log] });
    closeSync(log);
    let exitCode = null;
    const exited = new Promise((r) => child.once('exit', (code, signal) => {
      exitCode = code === null ? 'signal ' + signal : code;
      r(exitCode);
    }));
    const deadline = Date.now() + WAIT_CAP_MS;
    while (Date.now() < deadline && exitCode === null) {
      try {
        if ((await request(port, '/')).status === 200 && (await request(admin, '/live')).status === 200) {
          return { port, admin, logPath, async stop() {
            if (exitCode === null) {
              process.kill(child.pid, 'SIGTERM');
              const t = setTimeout(() => { if (exitCode === null) process.kill(child.pid, 'SIGKILL'); }, 10000);
              await exited;
              clearTimeout(t);
            }
            return exitCode;
          }, kill() { if (exitCode === null) process.kill(child.pid, 'SIGKILL'); } };
        }
      } catch { /* not up yet */ }
      await sleep(50);
    }
    if (exitCode === null) { process.kill(child.pid, 'SIGKILL'); await exited; }
  }
  throw new Error('the server did not start:\n' + readFileSync(logPath, 'utf8').slice(-2000));
}

/* Load: LOAD_WORKERS loops until `stop`, bounded by LOAD_MAX_REQUESTS and LOAD_CAP_MS in case
 * `stop` never comes. One request in five asks for a fresh answer (Cache-Control: no-cache), so
 * the database works all along. */
function startLoad(port) {
  const state = { sent: 0, failed: 0, stopped: false, started: Date.now(), ms: 0 };
  const paths = ['/users?id=eq.', '/orders?limit=5&offset=', '/products?select=id,name&id=gt.'];
  const worker = async (w) => {
    for (let i = w; !state.stopped && state.sent < LOAD_MAX_REQUESTS; i += LOAD_WORKERS) {
      state.sent++;
      const path = paths[i % paths.length] + (i % 97);
      const headers = i % 5 === 0 ? { 'cache-control': 'no-cache' } : {};
      try {
        const res = await request(port, path, headers);
        if (res.status !== 200 && res.status !== 206) state.failed++;
      } catch {
        state.failed++;
      }
    }
  };
  const done = Promise.all(Array.from({ length: LOAD_WORKERS }, (_, w) => worker(w)));
  const timer = setTimeout(() => { state.stopped = true; }, LOAD_CAP_MS);
  state.stop = async () => {
    state.stopped = true;
    clearTimeout(timer);
    await done;
    state.ms = Date.now() - state.started;
  };
  state.done = done;
  return state;
}

async function checkEndpoints(srv) {
  const problems = [];
  const m = await request(srv.admin, '/metrics.json');
  let data = null;
  try { data = JSON.parse(m.body); } catch (e) { problems.push('/metrics.json is not JSON: ' + e.message); }
  if (m.status !== 200 || !String(m.headers['content-type']).startsWith('application/json'))
    problems.push(`/metrics.json: ${m.status} ${m.headers['content-type']}`);
  if (data) {
    for (const k of ['monotonic_ms', 'requests', 'in_flight', 'duration_seconds', 'db_statements', 'cache'])
      if (!(k in data)) problems.push('/metrics.json has no ' + k);
    const d = data.duration_seconds || {};
    if (!Array.isArray(d.bounds) || !Array.isArray(d.cumulative) || d.cumulative.length !== d.bounds.length + 1)
      problems.push('duration_seconds buckets: ' + JSON.stringify(d));
    if (data.pool !== null) problems.push('pool is ' + JSON.stringify(data.pool) + ', expected null');
  }
  check('/metrics.json: the figures the dashboard reads', problems);

  const p = [];
  const page = await request(srv.admin, '/dashboard');
  if (page.status !== 200 || !String(page.headers['content-type']).startsWith('text/html'))
    p.push(`/dashboard: ${page.status} ${page.headers['content-type']}`);
  if (!page.headers['x-request-id']) p.push('/dashboard has no X-Request-Id');
  if (!/default-src 'none'/.test(page.headers['content-security-policy'] || ''))
    p.push('content-security-policy: ' + page.headers['content-security-policy']);
  if (/\b(src|href)\s*=\s*["']?(https?:)?\/\//i.test(page.body) || /https?:\/\/(?!www\.w3\.org)/.test(page.body))
    p.push('the page refers to another origin');
  if ((page.body.match(/<canvas/g) || []).length < 5) p.push('fewer than 5 canvases');
  const api = await request(srv.port, '/dashboard');
  if (api.status === 200 && api.body.includes('<canvas')) p.push('the API port serves the dashboard');
  check('/dashboard: one self-contained page, admin listener only', p);
}

async function readOutputs(page) {
  return page.$$eval('output[data-metric]', (els) => Object.fromEntries(els.map((e) =>
    [e.dataset.metric, { value: e.dataset.value, samples: Number(e.dataset.samples), text: e.textContent }])));
}

/* Pixels of the line colour in a chart's canvas. */
async function linePixels(page, id) {
  return page.evaluate((canvasId) => {
    const c = document.getElementById(canvasId);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4)
      if (Math.abs(d[i] - 37) < 40 && Math.abs(d[i + 1] - 99) < 40 && Math.abs(d[i + 2] - 235) < 40 && d[i + 3] > 128) n++;
    return n;
  }, id);
}

/* Waits (polling the page) until fn(arg) returns something truthy and returns it, or returns
 * null when `cap` ms pass first: the caller then reports what the page shows. */
async function waitInPage(page, fn, arg, cap) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout: cap, polling: 100 });
    return await handle.jsonValue();
  } catch (e) {
    if (e && e.name === 'TimeoutError') return null;
    throw e;
  }
}

const METRICS = ['rps', 'p50_ms', 'p99_ms', 'cache_hit_pct', 'db_per_request'];

async function checkLiveCharts(srv, page) {
  const load = startLoad(srv.port);
  try {
    // Two scrapes make the first figures; wait for a few so the charts have lines.
    await waitInPage(page, () => Number(document.querySelector('output[data-metric=rps]').dataset.samples) >= 3 &&
      Number(document.querySelector('output[data-metric=rps]').dataset.value) > 0, null, LOAD_CAP_MS);
    const first = await readOutputs(page);
    // With the load still running, wait until every chart has a newer sample than `first`, all
    // > 0, and requests/s or p99 has moved: that set is the second read. The load stops only
    // after it, however long the page takes to get there.
    const before = Object.fromEntries(METRICS.map((m) => [m, first[m] ? first[m].samples : 0]));
    const moved = await waitInPage(page, ({ metrics, before, rps, p99 }) => {
      const out = {};
      for (const e of document.querySelectorAll('output[data-metric]'))
        out[e.dataset.metric] = { value: e.dataset.value, samples: Number(e.dataset.samples), text: e.textContent };
      for (const m of metrics)
        if (!out[m] || !(out[m].samples > before[m]) || !(Number(out[m].value) > 0)) return false;
      return out.rps.value !== rps || out.p99_ms.value !== p99 ? out : false;
    }, { metrics: METRICS, before, rps: first.rps && first.rps.value, p99: first.p99_ms && first.p99_ms.value },
    LOAD_CAP_MS);
    const second = moved || await readOutputs(page);

    const problems = [];
    if (!moved) problems.push(`the page did not show a second set of live figures within ${LOAD_CAP_MS / 1000} s of load`);
    for (const metric of METRICS) {
      const a = first[metric], b = second[metric];
      if (!a || !b) { problems.push('no output for ' + metric); continue; }
      if (!(Number(b.value) > 0)) problems.push(`${metric}: latest value ${JSON.stringify(b.value)} (${b.text})`);
      if (!(b.samples > a.samples)) problems.push(`${metric}: samples ${a.samples} -> ${b.samples}, not live`);
    }
    if (first.rps && second.rps && first.rps.value === second.rps.value && first.p99_ms.value === second.p99_ms.value)
      problems.push('requests/s and p99 did not change between reads');
    if (Number(second.p99_ms.value) < Number(second.p50_ms.value))
      problems.push(`p99 ${second.p99_ms.value} < p50 ${second.p50_ms.value}`);
    if (Number(second.cache_hit_pct.value) > 100) problems.push('cache hit rate ' + second.cache_hit_pct.value);
    check('charts draw live numbers: requests/s, p50/p99, cache hit rate, queries per request', problems);

    const p = [];
    if (second.pool_pct.value !== 'n/a' || second.pool_pct.text !== 'n/a')
      p.push('pool output: ' + JSON.stringify(second.pool_pct));
    const note = await page.textContent('#pool-note');
    if (!/n\/a/.test(note)) p.push('pool note: ' + note);
    check('pool use: n/a (not measured yet), never made up', p);

    const px = [];
    const pixels = await linePixels(page, 'chart-rps');
    if (pixels < 20) px.push(`the requests/s chart has ${pixels} pixels of its line`);
    const state = await page.getAttribute('body', 'data-state');
    if (state !== 'live') px.push('body data-state ' + state);
    check('the requests/s chart is drawn', px);

    const shot = process.env.HP_DASHBOARD_SCREENSHOT || join(tmpdir(), 'hotpath-dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log('screenshot: ' + shot);
  } finally {
    await load.stop();
  }
  const lp = [];
  if (load.sent === 0 || load.failed !== 0) lp.push(`load: ${load.sent} sent, ${load.failed} failed`);
  // Idle now: a later full second of scrapes reports no requests.
  if (!await waitInPage(page, () => document.querySelector('output[data-metric=rps]').dataset.value === '0',
    null, WAIT_CAP_MS)) {
    lp.push('requests/s did not fall to 0 after the load stopped: ' + JSON.stringify((await readOutputs(page)).rps));
  }
  const took = (load.ms / 1000).toFixed(1);
  check(`load until the page showed it (${load.sent} requests in ${took} s, ${LOAD_WORKERS} connections), then idle`, lp);
}

async function main() {
  const bin = process.argv[2] ? resolve(process.argv[2]) : process.env.HOTPATH_BIN;
  if (!bin) {
    console.error('usage: node run.js BIN');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'hotpath-dashboard-'));
  let srv = null, context = null;
  const guard = setTimeout(() => {
    console.log('FAIL the whole test took longer than ' + TOTAL_TIMEOUT_MS / 1000 + ' s');
    if (srv) srv.kill();
    console.log(`${results.filter(Boolean).length} passed, ${results.filter((r) => !r).length + 1} failed`);
    process.exit(1);
  }, TOTAL_TIMEOUT_MS);
  try {
    srv = await startServer(bin, dir);
    await checkEndpoints(srv);
    context = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] || await context.newPage();
    const consoleErrors = [];
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    await page.goto(`http://127.0.0.1:${srv.admin}/dashboard`);
    await page.waitForFunction(() => document.body.dataset.state === 'live', null, { timeout: WAIT_CAP_MS });
    await checkLiveCharts(srv, page);
    check('no script errors in the page', consoleErrors);
  } catch (e) {
    check('the test ran to its end', [String(e && e.stack || e)]);
  } finally {
    if (context) await context.close().catch(() => {});
    agent.destroy();
    if (srv) {
      const code = await srv.stop();
      check('server exits 0 on SIGTERM', code === 0 ? [] : ['exit ' + code + '\n' + readFileSync(srv.logPath, 'utf8').slice(-2000)]);
    }
    clearTimeout(guard);
    if (!process.env.HP_DASHBOARD_KEEP) rmSync(dir, { recursive: true, force: true });
  }
  const passed = results.filter(Boolean).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
