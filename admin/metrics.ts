import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RenewalRun } from '../core/plans/renewDueSubscriptions.js';
import type { LedgerObserver } from '../core/context.js';

/** Prometheus metrics for one process: HTTP requests and latencies, ledger writes and denials, cron runs. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'creditkeeper_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'creditkeeper_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const ledgerWrites = new Counter({
    name: 'creditkeeper_ledger_writes_total',
    help: 'Ledger writes by operation and outcome (written, replayed, or the code that refused it)',
    labelNames: ['operation', 'outcome'],
    registers: [registry],
  });
  const ledgerLatency = new Histogram({
    name: 'creditkeeper_ledger_write_duration_seconds',
    help: 'Ledger write latency by operation',
    labelNames: ['operation'],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const cronRuns = new Counter({
    name: 'creditkeeper_cron_runs_total',
    help: 'Renewal job runs by outcome (ran, or skipped because another process held the lock)',
    labelNames: ['job', 'outcome'],
    registers: [registry],
  });
  const renewals = new Counter({
    name: 'creditkeeper_renewals_total',
    help: 'Subscription periods renewed by outcome (granted, already_granted, failed)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const lastRunSeconds = new Gauge({
    name: 'creditkeeper_renewal_run_duration_seconds',
    help: 'How long the last renewal run took',
    registers: [registry],
  });
  const observer: LedgerObserver = {
    ledgerWrite: (operation, outcome, seconds) => {
      ledgerWrites.inc({ operation, outcome });
      ledgerLatency.observe({ operation }, seconds);
    },
  };
  return {
    registry,
    observer,
    renewalRun: (run: RenewalRun) => {
      cronRuns.inc({ job: 'renewals', outcome: run.ran ? 'ran' : 'skipped' });
      if (!run.ran) return;
      renewals.inc({ outcome: 'granted' }, run.granted);
      renewals.inc({ outcome: 'already_granted' }, run.alreadyGranted);
      renewals.inc({ outcome: 'failed' }, run.failed);
      lastRunSeconds.set(run.seconds);
    },
    request: (method: string, route: string, status: number, seconds: number) => {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
