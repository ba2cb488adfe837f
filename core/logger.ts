import { type DestinationStream, pino } from 'pino';

export type Logger = pino.Logger;

/** Option and config names that hold a secret, wherever an object carrying them is logged. */
const secretNames = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'secret',
  'password',
  'DISCORD_TOKEN',
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'PAYMENT_WEBHOOK_SECRET',
];

/** Where secrets travel in request logs (pino-http's req and res) and in logged objects. */
const redactedPaths = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-slack-signature"]',
  'req.headers["creditkeeper-signature"]',
  'req.headers["webhook-signature"]',
  'res.headers["set-cookie"]',
  'req.query.signature',
  'req.params.secret',
  'req.url',
  ...secretNames.flatMap((name) => [name, `*.${name}`]),
];

/**
 * A URL without its secrets: the one-time sign-in link's (`/admin/login/<secret>`, the admin
 * router's GET /login/:secret) and secret-bearing query parameters (the ad callback's signature).
 */
function withoutSecrets(url: string): string {
  return url
    .replace(/(\/admin\/login\/)(?!link(?:[/?#]|$))[^/?#]+/, '$1[Redacted]')
    .replace(/([?&](?:signature|token|secret)=)[^&#]*/gi, '$1[Redacted]');
}

/** Secrets by their shape, for when one ends up in free text (an error message, say). */
const secretShapes: [RegExp, string][] = [
  [/\bck_[A-Za-z0-9_-]{16,}/g, '[Redacted]'], // Creditkeeper API tokens
  [/\bxox[a-z]-[A-Za-z0-9-]{10,}/g, '[Redacted]'], // Slack bot and user tokens
  [/\bxapp-[A-Za-z0-9-]{10,}/g, '[Redacted]'], // Slack app-level tokens
  [/\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}/g, '[Redacted]'], // Discord bot tokens
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, '$1[Redacted]'],
];

function scrub(line: string): string {
  return secretShapes.reduce((text, [shape, replacement]) => text.replace(shape, replacement), line);
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'creditkeeper' },
    redact: {
      paths: redactedPaths,
      // A URL keeps what it says about the request; everything else is replaced whole.
      censor: (value, path) => (path.at(-1) === 'url' && typeof value === 'string' ? withoutSecrets(value) : '[Redacted]'),
    },
    hooks: { streamWrite: scrub },
  };
  return destination ? pino(options, destination) : pino(options);
}
