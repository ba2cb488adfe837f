import { format } from 'node:util';
import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from '../../core/logger.js';

/** Bolt's and the Web API's log lines, into the process's pino log. */
export function boltLogger(logger: Logger): SlackLogger {
  const slack = logger.child({ transport: 'slack' });
  return {
    debug: (...message) => slack.debug(format(...message)),
    info: (...message) => slack.info(format(...message)),
    warn: (...message) => slack.warn(format(...message)),
    error: (...message) => slack.error(format(...message)),
    // pino's level rules; Bolt's own setting is ignored.
    setLevel: () => {},
    getLevel: () => LogLevel.DEBUG,
    setName: () => {},
  };
}
