import type { Logger } from '../core/logger.js';

/**
 * /readyz per transport: connecting until its first attempt ends, ok, degraded while unreachable, unauthorized
 * while its token is refused (both retrying).
 */
export type TransportStatus = 'connecting' | 'ok' | 'degraded' | 'unauthorized';

/** Thrown by a connect attempt when the platform refused the credentials rather than failed to answer. */
export class CredentialsRejected extends Error {
  override readonly name = 'CredentialsRejected';
}

/** What a transport tells its supervisor about a connection that was up. */
export interface ConnectionEvents {
  /** The library is reconnecting on its own (a dropped gateway or socket). */
  interrupted(reason: string): void;
  /** The library reconnected on its own. */
  restored(): void;
  /** The connection is gone for good: the supervisor reconnects from scratch. */
  lost(reason: string): void;
}

export interface ChatTransport {
  /** Its key in /readyz (`slack`, `discord`). */
  readonly name: string;
  /** Its name in log lines (`Slack`, `Discord`). */
  readonly label: string;
  /** One attempt: resolves once the platform accepted the token (and the connection, if any, is up). */
  connect(events: ConnectionEvents): Promise<void>;
  /** Drops what a failed, timed-out or lost attempt left open. */
  disconnect(): Promise<void>;
}

export interface RetryPolicy {
  /** The wait after the first failure; it doubles after each further one. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** An attempt with no outcome by then counts as failed (a platform that accepts and never answers). */
  attemptTimeoutMs: number;
}

export const chatRetryPolicy: RetryPolicy = { firstDelayMs: 1_000, maxDelayMs: 5 * 60_000, attemptTimeoutMs: 15_000 };

/**
 * The wait before retry number `failures` (0 first): exponential, capped, and jittered between
 * half and all of it so that many processes restarted together do not retry in step.
 */
export function retryDelayMs(failures: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.min(failures, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface SuperviseOptions {
  policy?: RetryPolicy;
  random?: () => number;
  /** Waits `ms` or until `signal` aborts; tests pass one that records the waits. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Keeps one chat transport connected without ever failing the process: attempts with capped,
 * jittered exponential backoff, and one log line per change of status, not per attempt.
 */
export class TransportSupervisor {
  private current: TransportStatus = 'connecting';
  private readonly stopping = new AbortController();
  /** Settles when stop() is called: what every wait in the loop also races. */
  private readonly stopped: Promise<string>;
  private readonly policy: RetryPolicy;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private running: Promise<void> | undefined;

  constructor(
    private readonly transport: ChatTransport,
    private readonly logger: Logger,
    options: SuperviseOptions = {},
  ) {
    this.policy = options.policy ?? chatRetryPolicy;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? abortableSleep;
    this.stopped = new Promise((resolve) => this.stopping.signal.addEventListener('abort', () => resolve('stopping'), { once: true }));
  }

  get status(): TransportStatus {
    return this.current;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops retrying and closes the transport. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    await this.transport.disconnect();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      let rejected = false;
      try {
        const { lost } = await this.attempt();
        failures = 0;
        const reason = await Promise.race([lost, this.stopped]);
        if (this.stopping.signal.aborted) return;
        this.change('degraded', reason);
      } catch (error) {
        if (this.stopping.signal.aborted) return;
        rejected = error instanceof CredentialsRejected;
        this.change(rejected ? 'unauthorized' : 'degraded', describe(error));
      }
      await this.transport.disconnect().catch((error: unknown) => this.logger.debug({ err: error, transport: this.transport.name }, 'chat transport did not close cleanly'));
      // A refused token will not start working within seconds: ask again only at the longest wait.
      const wait = rejected ? this.policy.maxDelayMs : retryDelayMs(failures++, this.policy, this.random);
      this.logger.debug({ transport: this.transport.name, waitMs: wait }, 'chat transport: next attempt');
      await this.sleep(wait, this.stopping.signal);
    }
  }

  /** Connects once; resolves, when connected, with `lost`: the reason the connection is later lost. */
  private async attempt(): Promise<{ lost: Promise<string> }> {
    let live = true;
    let markLost: (reason: string) => void = () => {};
    const lost = new Promise<string>((resolve) => {
      markLost = resolve;
    });
    // Events from an attempt that already failed or was replaced are not this connection's.
    const events: ConnectionEvents = {
      interrupted: (reason) => live && this.change('degraded', reason),
      restored: () => live && this.change('ok'),
      lost: (reason) => {
        if (!live) return;
        live = false;
        markLost(reason);
      },
    };
    try {
      await withDeadline(this.transport.connect(events), this.policy.attemptTimeoutMs, this.stopping.signal);
    } catch (error) {
      live = false;
      throw error;
    }
    this.change('ok');
    return { lost };
  }

  private change(next: TransportStatus, reason?: string): void {
    const { name, label } = this.transport;
    // Closing the connection on the way out is no outage.
    if (this.stopping.signal.aborted) return;
    if (next === this.current) {
      this.logger.debug({ transport: name, reason }, `${label}: still ${next}`);
      return;
    }
    this.current = next;
    const retrying = `retrying with backoff up to ${this.policy.maxDelayMs / 60_000} minutes; the ledger keeps serving`;
    if (next === 'ok') this.logger.info({ transport: name }, `${label}: connected`);
    else if (next === 'unauthorized') this.logger.error({ transport: name, reason }, `${label} refused the token (${reason}): set a valid one and restart, or fix it in ${label}; retrying every ${this.policy.maxDelayMs / 60_000} minutes meanwhile`);
    else this.logger.warn({ transport: name, reason }, `${label} is unreachable (${reason}); ${retrying}`);
  }
}

/** The chat transports' statuses, for /readyz: chat never fails the ledger's readiness. */
export class ChatHealth {
  private readonly supervisors = new Map<string, TransportSupervisor>();

  constructor(private readonly logger: Logger) {}

  /** Starts keeping `transport` connected, in the background. */
  supervise(transport: ChatTransport): void {
    const supervisor = new TransportSupervisor(transport, this.logger);
    this.supervisors.set(transport.name, supervisor);
    supervisor.start();
  }

  /** `{ chat: { slack: 'degraded', discord: 'ok' } }`: only the configured transports, no details (those are in the log). */
  readiness = (): { chat: Record<string, TransportStatus> } => ({
    chat: Object.fromEntries([...this.supervisors].map(([name, supervisor]) => [name, supervisor.status])),
  });

  async stop(): Promise<void> {
    await Promise.all([...this.supervisors.values()].map((supervisor) => supervisor.stop().catch((error: unknown) => this.logger.warn({ err: error }, 'chat transport did not close cleanly'))));
  }
}

/** `work`, or a failure once `timeoutMs` passed or `signal` aborted, whichever comes first. */
async function withDeadline<T>(work: Promise<T>, timeoutMs: number, signal: AbortSignal): Promise<T> {
  let giveUp: (reason: Error) => void = () => {};
  const deadline = new Promise<never>((_resolve, reject) => {
    giveUp = reject;
  });
  const timer = setTimeout(() => giveUp(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  const onStop = () => giveUp(new Error('stopping'));
  signal.addEventListener('abort', onStop, { once: true });
  // The abandoned attempt may still fail later; that failure is already accounted for.
  work.catch(() => {});
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onStop);
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A short reason for the log: the message, with the innermost error code (ECONNREFUSED) when it does not say it. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const codes: unknown[] = [];
  // Slack's client wraps the network error in `original`, fetch in `cause`.
  for (let link: unknown = error; link instanceof Error && codes.length < 5; link = (link as { original?: unknown }).original ?? link.cause) {
    codes.unshift((link as { code?: unknown }).code);
  }
  const code = codes.find((candidate): candidate is string => typeof candidate === 'string');
  return code && !error.message.includes(code) ? `${error.message}: ${code}` : error.message;
}
