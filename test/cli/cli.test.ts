import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorSocketPath } from '../../cli/operatorSocket.js';
import { freePort } from '../support/freePort.js';

/** The CLI as an operator runs it, on an embedded database of its own. */
function creditkeeper(dataDir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'cli/creditkeeper.ts', ...args], { env: { ...process.env, DATABASE_URL: '', DATA_DIR: dataDir, LOG_LEVEL: 'warn' } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'ck-cli-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('the command line refuses what it cannot run in one line, exit code 2', () => {
  it.each([
    [['frobnicate'], /^creditkeeper: unknown command "frobnicate"\. Run creditkeeper --help for usage\.$/],
    [['run', 'balance', 'notjson'], /^creditkeeper: run balance: the input is not JSON \(.*\)\. Run creditkeeper --help for usage\.$/],
    [['run', 'toString', '{}'], /^creditkeeper: unknown operation "toString"; operations: open-account, .*why\. Run/],
    [['login-link'], /^creditkeeper: login-link needs --staff NAME/],
    [['token', 'create', '--name', 'x'], /^creditkeeper: token create needs --name N and --scopes/],
    [['--bogus'], /^creditkeeper: Unknown option '--bogus'/],
  ])('%j', async (args, message) => {
    const { code, stdout, stderr } = await creditkeeper(dataDir, ...args);
    expect({ code, stdout, lines: stderr.trimEnd().split('\n').length }).toEqual({ code: 2, stdout: '', lines: 1 });
    expect(stderr.trimEnd()).toMatch(message);
  });

  it('--help and help print the usage and exit 0; no command prints it and exits 2', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const { code, stdout } = await creditkeeper(dataDir, ...args);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: creditkeeper <command>\n {2}start/);
    }
    const bare = await creditkeeper(dataDir);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: creditkeeper <command>/);
  });
});

describe('npm start on the embedded database, and the CLI beside it', () => {
  let child: ChildProcess;
  const stdout: string[] = [];
  let port = 0;
  const startDir = mkdtempSync(join(tmpdir(), 'ck-start-'));

  beforeAll(async () => {
    port = await freePort();
    // What an operator runs: the bundle cli/build.mjs makes, which npm's SIGTERM reaches (afterAll).
    child = spawn('npm', ['start'], {
      env: { ...process.env, DATABASE_URL: '', DATA_DIR: startDir, PORT: String(port), LOG_LEVEL: 'info', RENEWAL_SCHEDULE: 'off' },
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true, // its own process group, as a terminal gives it: Ctrl-C below signals the whole group
    });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`start exited with ${code}: ${stdout.join('\n')}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        stdout.push(line);
        if (line.includes('login-link works meanwhile')) resolve();
      });
    });
  });
  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(startDir, { recursive: true, force: true });
  });

  it('prints the first start\'s API token as a plain line of its own, and the log line does not carry it', async () => {
    const tokenLine = stdout.find((line) => line.startsWith('API token'));
    expect(tokenLine).toMatch(/^API token \(every scope; keep it, it is not shown again\): ck_[A-Za-z0-9_-]{20,}$/);
    const secret = tokenLine!.split(': ')[1]!;
    expect(stdout.filter((line) => line.includes(secret))).toEqual([tokenLine]);
    expect((await fetch(`http://127.0.0.1:${port}/v1/plans`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
  });

  it('login-link is answered by the running process, and the link signs in once', async () => {
    const { code, stdout: printed } = await creditkeeper(startDir, 'login-link', '--staff', 'ana@support');
    expect(code).toBe(0);
    const [, secret] = /^http:\/\/localhost:\d+\/admin\/login\/([A-Za-z0-9_-]+) \(valid until .+, once\)\n$/.exec(printed)!;
    const signIn = () =>
      fetch(`http://127.0.0.1:${port}/admin/login/link`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ secret: secret! }).toString(),
        redirect: 'manual',
      });
    expect((await signIn()).status).toBe(303);
    expect((await signIn()).status).toBe(401);
  });

  it('the running process refuses what core refuses, with its code; other commands say what works', async () => {
    const unknownOrganisation = await creditkeeper(startDir, 'login-link', '--staff', 'ana', '--organisation', 'nowhere');
    expect({ code: unknownOrganisation.code, stderr: unknownOrganisation.stderr.trim() }).toEqual({ code: 2, stderr: 'OWNER_NOT_FOUND: No organisation nowhere' });
    const verify = await creditkeeper(startDir, 'verify');
    expect(verify.code).toBe(2);
    expect(verify.stderr.trim()).toMatch(/^DATABASE_LOCKED: .* While it runs, login-link is answered by it; for verify, stop it first\.$/);
  });

  it('the socket is in a directory only its owner can enter', () => {
    expect(statSync(join(operatorSocketPath(startDir), '..')).mode & 0o777).toBe(0o700);
  });

  it('Ctrl-C (SIGINT to npm and the server alike, then npm passing its own on) shuts down cleanly: it says so and leaves no lock or socket', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGINT');
    await exited;
    expect(stdout.some((line) => line.includes('shutting down'))).toBe(true);
    expect(existsSync(join(startDir, 'creditkeeper.lock'))).toBe(false);
    expect(existsSync(operatorSocketPath(startDir))).toBe(false);
  });
});
