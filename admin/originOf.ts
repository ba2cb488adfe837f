import type { Request } from 'express';
import type { Origin } from '../core/input.js';

/** Where a request came from, as the audit log and the ledger record it: the API's and the admin page's alike. */
export function originOf(req: Request, transport: 'http' | 'admin-page'): Origin {
  return {
    transport,
    requestId: String(req.id),
    ...(req.ip && { ip: req.ip }),
    ...(req.headers['user-agent'] && { userAgent: req.headers['user-agent'].slice(0, 500) }),
  };
}
