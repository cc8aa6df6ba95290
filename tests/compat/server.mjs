// Starts hotpath for a compat test file: a fresh database built from tests/spec/fixture.sql
// with the sqlite3 CLI in a temporary directory, `serve` on a free 127.0.0.1 port, and a stop
// that sends SIGTERM to that PID and reports the exit status (0 is a graceful shutdown).
// The binary comes from the HOTPATH_BIN environment variable (scripts/test-compat.sh sets it).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = resolve(here, '../spec/fixture.sql');
const START_TIMEOUT_MS = Number(process.env.HP_COMPAT_START_TIMEOUT || 30) * 1000;
const STOP_TIMEOUT_MS = 10000;

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function answersRoot(url) {
  try {
    const res = await fetch(url + '/', { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function startServer() {
  const bin = process.env.HOTPATH_BIN;
  if (!bin) throw new Error('HOTPATH_BIN is not set (run through scripts/test-compat.sh BIN)');
  const dir = mkdtempSync(join(tmpdir(), 'hotpath-compat-'));
  const db = join(dir, 'compat.db');
  const mk = spawnSync('sqlite3', ['-bail', db], { input: readFileSync(fixture), timeout: 60000 });
  if (mk.status !== 0) throw new Error('fixture failed: ' + String(mk.stderr || mk.error));
  const logPath = join(dir, 'server.log');
  let lastReason = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const log = openSync(logPath, 'a');
    const child = spawn(resolve(bin), ['serve', '--db-uri', db, '--server-host', '127.0.0.1',
      '--server-port', String(port)], { stdio: ['ignore', log, log] });
    closeSync(log);
    let exitCode = null;
    const exited = new Promise((r) => child.once('exit', (code, signal) => {
      exitCode = code === null ? 'signal ' + signal : code;
      r(exitCode);
    }));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && exitCode === null) {
      if (await answersRoot(url)) {
        return {
          url,
          pid: child.pid,
          // Resolves to the exit status after SIGTERM (0 when the shutdown was graceful).
          async stop() {
            if (exitCode === null) {
              process.kill(child.pid, 'SIGTERM');
              const timer = setTimeout(() => { if (exitCode === null) process.kill(child.pid, 'SIGKILL'); }, STOP_TIMEOUT_MS);
              await exited;
              clearTimeout(timer);
            }
            if (exitCode !== 0) process.stderr.write(readLog(logPath));
            if (!process.env.HP_COMPAT_KEEP) rmSync(dir, { recursive: true, force: true });
            return exitCode;
          },
        };
      }
      await sleep(50);
    }
    if (exitCode === null) {
      process.kill(child.pid, 'SIGKILL');
      await exited;
      lastReason = `server did not answer GET / with 200 within ${START_TIMEOUT_MS} ms`;
      break;
    }
    lastReason = `server exited with ${exitCode} while starting`;
  }
  const tail = readLog(logPath);
  rmSync(dir, { recursive: true, force: true });
  throw new Error(lastReason + '\n' + tail);
}

function readLog(path) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}
