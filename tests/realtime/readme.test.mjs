// The README's offline license verifier, run as a reader would run it: against a license file
// checked out from a real gateway, with the public key the gateway publishes. It accepts the
// file, and refuses it once tampered with or for another machine.
//
//   cargo build && (cd tests/realtime && npm ci && npm test)

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startGateway } from './gateway.mjs';

const run = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const workDir = mkdtempSync(join(tmpdir(), 'readme-test-'));
const database = `sqlite://${join(workDir, 'g.db')}?mode=rwc`;
let gateway;
let failed = false;

// The first `js` block of the README section under `heading`.
function snippet(heading) {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.split(`\n${heading}\n`)[1]?.split(/\n##+ /)[0];
  assert.ok(section, `the README has a section ${heading}`);
  const block = section.match(/```js\n([\s\S]*?)```/);
  assert.ok(block, `the README's ${heading} has a js example`);
  return block[1];
}

async function graphql(query, variables = {}) {
  const response = await fetch(`${gateway.origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

// The certificate with its payload changed and its signature kept.
function tampered(certificate) {
  const lines = certificate.split('\n').filter((line) => line);
  const envelope = JSON.parse(Buffer.from(lines.slice(1, -1).join(''), 'base64').toString('utf8'));
  const payload = JSON.parse(Buffer.from(envelope.enc, 'base64').toString('utf8'));
  payload.planCode = 'enterprise';
  envelope.enc = Buffer.from(JSON.stringify(payload)).toString('base64');
  const body = Buffer.from(JSON.stringify(envelope)).toString('base64');
  return [lines[0], ...body.match(/.{1,64}/g), lines.at(-1), ''].join('\n');
}

after(() => {
  if (gateway && gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  if (failed) console.error(`gateway logs kept in ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
});

describe("the README's offline license verifier", () => {
  it('accepts a checked-out file, and refuses it tampered with or on another machine', async () => {
    try {
      gateway = await startGateway(workDir, database, 1, { SCHEDULER_TICK_SECONDS: '0' });
      const signed = await graphql(
        'mutation($input: SignupInput!) { signup(input: $input) { licenseKey } }',
        { input: { email: 'offline@example.com', name: 'Offline', password: 'correct-horse-battery-9', planCode: 'pro' } },
      );
      const key = signed.signup.licenseKey;
      const fingerprint = 'host-readme-1';
      await graphql(
        'mutation($k: String!, $f: String!) { activateRuntimeNode(licenseKey: $k, fingerprint: $f) { id } }',
        { k: key, f: fingerprint },
      );
      const out = await graphql(
        'mutation($k: String!, $f: String!) { checkoutLicenseFile(key: $k, fingerprint: $f) { certificate } }',
        { k: key, f: fingerprint },
      );
      const { licenseSigningKey } = await graphql('{ licenseSigningKey { publicKey } }');

      const verifier = join(workDir, 'verify.mjs');
      writeFileSync(verifier, snippet('### Offline licenses'));
      const file = join(workDir, 'license.lic');
      writeFileSync(file, out.checkoutLicenseFile.certificate);
      const verify = (path, machine) => run(process.execPath, [verifier, path, licenseSigningKey.publicKey, machine]);

      const accepted = await verify(file, fingerprint);
      assert.match(accepted.stdout, /^valid until /);
      await assert.rejects(verify(file, 'another-machine'), /issued for another machine/);
      const forged = join(workDir, 'forged.lic');
      writeFileSync(forged, tampered(out.checkoutLicenseFile.certificate));
      await assert.rejects(verify(forged, fingerprint), /bad signature/);
    } catch (error) {
      failed = true;
      throw error;
    }
  });
});
