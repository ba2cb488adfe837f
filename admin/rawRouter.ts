import type { Router } from 'express';

/** An endpoint that reads its own raw body (Slack's, which checks its signature over it), mounted before the app's body parsers. */
export interface RawRouter {
  path: string;
  router: Router;
}
