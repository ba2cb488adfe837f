import { describe, expect, it } from 'vitest';
import { type ChatTransport, type ConnectionEvents, CredentialsRejected, chatRetryPolicy, retryDelayMs, TransportSupervisor } from '../../bot/transportHealth.js';
import { eventually, recordingLogger } from './chatTransportSupport.js';

/**
 * The supervisor each chat transport runs under: capped, jittered exponential backoff, one log
 * line per change of status, a refused token retried at the cap, a lost connection reconnected.
 * Its waits are recorded instead of slept, so a 5-minute cap costs the test nothing.
 */

/** A transport whose attempts go as scripted: each entry fails with that error, or ('ok') connects; then it connects. */
function scriptedTransport(script: (Error | 'ok' | 'hang')[]) {
  const attempts: ConnectionEvents[] = [];
  let disconnects = 0;
  const transport: ChatTransport = {
    name: 'slack',
    label: 'Slack',
    connect: async (events) => {
      attempts.push(events);
      const next = script.shift() ?? 'ok';
      if (next === 'hang') return new Promise<void>(() => {});
      if (next !== 'ok') throw next;
    },
    disconnect: async () => {
      disconnects++;
    },
  };
  return { transport, attempts, disconnects: () => disconnects };
}

function supervised(transport: ChatTransport, { random = () => 1, attemptTimeoutMs = chatRetryPolicy.attemptTimeoutMs }: { random?: () => number; attemptTimeoutMs?: number } = {}) {
  const { logger, lines } = recordingLogger();
  const waits: number[] = [];
  const supervisor = new TransportSupervisor(transport, logger, {
    policy: { ...chatRetryPolicy, attemptTimeoutMs },
    random,
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  const statusLines = () => lines.filter((line) => line.level >= 30 && /^Slack(:| is| refused)/.test(line.msg)).map((line) => line.msg);
  return { supervisor, waits, statusLines };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });

describe('retryDelayMs', () => {
  it('doubles from 1 s to the 5-minute cap, each wait jittered between half and all of it', () => {
    const ceilings = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000];
    expect(ceilings.map((_, failures) => retryDelayMs(failures, chatRetryPolicy, () => 1))).toEqual(ceilings);
    expect(ceilings.map((_, failures) => retryDelayMs(failures, chatRetryPolicy, () => 0))).toEqual(ceilings.map((ceiling) => ceiling / 2));
    expect(retryDelayMs(1_000, chatRetryPolicy, () => 1)).toBe(300_000);
  });
});

describe('TransportSupervisor', () => {
  it('retries an unreachable platform with growing waits, logging when it went down and when it came back, not each try', async () => {
    const { transport, attempts } = scriptedTransport([...Array.from({ length: 11 }, refused), 'ok']);
    const { supervisor, waits, statusLines } = supervised(transport);
    expect(supervisor.status).toBe('connecting');
    supervisor.start();
    await eventually(() => supervisor.status === 'ok');
    expect(attempts).toHaveLength(12);
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000]);
    expect(statusLines()).toEqual([
      'Slack is unreachable (connect ECONNREFUSED 127.0.0.1:9); retrying with backoff up to 5 minutes; the ledger keeps serving',
      'Slack: connected',
    ]);
    await supervisor.stop();
  });

  it('asks again only every 5 minutes while the token is refused, and says so once', async () => {
    const { transport } = scriptedTransport([new CredentialsRejected('invalid_auth'), new CredentialsRejected('invalid_auth'), new CredentialsRejected('invalid_auth'), 'ok']);
    const { supervisor, waits, statusLines } = supervised(transport);
    supervisor.start();
    await eventually(() => supervisor.status === 'ok');
    expect(waits).toEqual([300_000, 300_000, 300_000]);
    expect(statusLines()).toEqual([
      'Slack refused the token (invalid_auth): set a valid one and restart, or fix it in Slack; retrying every 5 minutes meanwhile',
      'Slack: connected',
    ]);
    await supervisor.stop();
  });

  it('gives up on an attempt that never answers and tries again', async () => {
    const { transport, disconnects } = scriptedTransport(['hang', 'ok']);
    const { supervisor, waits, statusLines } = supervised(transport, { attemptTimeoutMs: 50 });
    supervisor.start();
    await eventually(() => supervisor.status === 'ok');
    expect(waits).toEqual([1_000]);
    expect(disconnects()).toBe(1);
    expect(statusLines()[0]).toMatch(/^Slack is unreachable \(no answer within 0.05 s\)/);
    await supervisor.stop();
  });

  it('reconnects from scratch after a connection is lost, follows the library’s own reconnects, and ignores an abandoned attempt', async () => {
    const { transport, attempts } = scriptedTransport(['ok', refused(), 'ok']);
    const { supervisor, waits, statusLines } = supervised(transport, { random: () => 0 });
    supervisor.start();
    await eventually(() => supervisor.status === 'ok');
    attempts[0]!.interrupted('gateway reconnecting');
    expect(supervisor.status).toBe('degraded');
    attempts[0]!.restored();
    expect(supervisor.status).toBe('ok');

    attempts[0]!.lost('gateway closed with code 4000');
    await eventually(() => attempts.length === 3 && supervisor.status === 'ok');
    // The first connection is gone: what its library says no longer counts.
    attempts[0]!.interrupted('late event');
    expect(supervisor.status).toBe('ok');
    expect(waits).toEqual([500, 1_000]);
    expect(statusLines()).toEqual([
      'Slack: connected',
      'Slack is unreachable (gateway reconnecting); retrying with backoff up to 5 minutes; the ledger keeps serving',
      'Slack: connected',
      'Slack is unreachable (gateway closed with code 4000); retrying with backoff up to 5 minutes; the ledger keeps serving',
      'Slack: connected',
    ]);
    await supervisor.stop();
  });

  it('stops without waiting out a retry or logging the shutdown as an outage', async () => {
    const { logger, lines } = recordingLogger();
    const { transport, disconnects } = scriptedTransport([refused(), refused()]);
    // The real sleep: stop() must cut its 5-minute wait short.
    const supervisor = new TransportSupervisor(transport, logger, { policy: { ...chatRetryPolicy, firstDelayMs: 5 * 60_000 } });
    supervisor.start();
    await eventually(() => supervisor.status === 'degraded');
    await supervisor.stop();
    expect(disconnects()).toBe(2);
    expect(lines.filter((line) => line.level >= 40)).toHaveLength(1);
  });
});
