import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LedgerObserver } from '../core/context.js';

/** Prometheus metrics for one process: HTTP requests and latencies, ledger writes and denials. */
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
  const observer: LedgerObserver = {
    ledgerWrite: (operation, outcome, seconds) => {
      ledgerWrites.inc({ operation, outcome });
      ledgerLatency.observe({ operation }, seconds);
    },
  };
  return {
    registry,
    observer,
    request: (method: string, route: string, status: number, seconds: number) => {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
