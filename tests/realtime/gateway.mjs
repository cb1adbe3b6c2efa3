// Starting a gateway binary for a Node test: GATEWAY_BIN (default target/debug/gateway) on a
// database of the test's own, with its output kept in the test's folder.

import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const gatewayBin = process.env.GATEWAY_BIN || join(repo, 'target', 'debug', 'gateway');

// Starts the gateway on `database` with `env` added; resolves once it listens, with its
// process, origin, exit and (on a first start) the admin it created.
export function startGateway(workDir, database, run, env = {}) {
  const log = createWriteStream(join(workDir, `gateway-${run}.log`));
  const child = spawn(gatewayBin, ['serve'], {
    cwd: workDir,
    env: { ...process.env, DATABASE_URL: database, HOST: '127.0.0.1', PORT: '0', APP_ENV: 'development', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.pipe(log);
  process.once('exit', () => child.kill('SIGKILL'));
  const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  return new Promise((done, fail) => {
    const found = { child, exited };
    const timer = setTimeout(() => fail(new Error('the gateway did not start within 60 s')), 60_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      fail(new Error(`the gateway exited with ${code} before listening`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      log.write(`${line}\n`);
      const admin = line.match(/^First start: created admin (\S+) with password (\S+)$/);
      if (admin) [, found.email, found.password] = admin;
      const listening = line.match(/^listening on (http:\/\/[^\s]+)/);
      if (listening) {
        found.origin = listening[1];
        clearTimeout(timer);
        done(found);
      }
    });
  });
}
