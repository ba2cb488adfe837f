import type { z } from 'zod';
import type { Route } from '../../admin/route.js';

/**
 * Every reply the suite gets from /v1 is checked against what /v1/openapi.json says of it: the
 * route's response schema for its success status, the Error schema for every failure. The
 * schemas are strict, so a reply with a field the document does not describe, without one it
 * promises, or of another type throws, and the test that made the request fails.
 */
export async function checkReply(method: string, url: string, response: Pick<Response, 'status' | 'headers'>, text: string): Promise<void> {
  const path = new URL(url).pathname;
  if (!isApiPath(url) || method.toUpperCase() === 'HEAD') return;
  const { routePatterns, csvText, ErrorBody } = await describedReplies();
  const route = routePatterns.find((p) => p.route.method === method.toLowerCase() && p.pattern.test(path))?.route;
  const described = (schema: z.ZodType, what: string) => {
    const parsed = schema.safeParse(jsonOrText(text));
    if (!parsed.success) {
      throw new Error(`${method} ${path} ${response.status}: the reply is not the ${what} the document describes: ${JSON.stringify(parsed.error.issues)}\n${text.slice(0, 2000)}`);
    }
  };
  if (response.status >= 400) return described(ErrorBody, 'Error');
  if (!route) return;
  if (route.dryRun && response.status === 200) return described(route.dryRun, `${route.method} ${route.path} dryRun response`);
  const expected = route.status ?? 200;
  if (response.status !== expected) throw new Error(`${method} ${path}: ${response.status}, where the document says ${expected}`);
  if (route.response === csvText) {
    if (!response.headers.get('content-type')?.startsWith('text/csv')) throw new Error(`${method} ${path}: not text/csv`);
    return;
  }
  described(route.response, `${route.method} ${route.path} response`);
}

/** `fetch` that checks each reply from /v1 before handing it over (the setup file installs it for every test file). */
export function checkingFetch(fetch: typeof globalThis.fetch): typeof globalThis.fetch {
  const checking = async (input: string | URL | Request, init?: RequestInit) => {
    const response = await fetch(input, init);
    const url = response.url || String(input instanceof Request ? input.url : input);
    // Only the API's replies are read here: others (a webhook receiver's, which the code under test caps) are left alone.
    if (!isApiPath(url)) return response;
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    let body: ArrayBuffer;
    try {
      body = await response.arrayBuffer();
    } catch (error) {
      // A body cut off (a server killed mid-reply, a timeout) is the test's to see, as fetch would show it.
      return sameReply(response, new ReadableStream({ start: (controller) => controller.error(error) }));
    }
    await checkReply(method, url, response, new TextDecoder().decode(body));
    // The caller gets the bytes already read: an abort or a kill after this point cannot take them away.
    return sameReply(response, body);
  };
  return Object.assign(checking, { checksReplies: true });
}

function sameReply(response: Response, body: ArrayBuffer | ReadableStream): Response {
  const bodyless = [101, 204, 205, 304].includes(response.status);
  const copy = new Response(bodyless ? null : body, { status: response.status, statusText: response.statusText, headers: response.headers });
  return Object.defineProperties(copy, { url: { value: response.url }, redirected: { value: response.redirected } });
}

function isApiPath(url: string): boolean {
  return URL.canParse(url) && new URL(url).pathname.startsWith('/v1/');
}

export function checksReplies(fetch: typeof globalThis.fetch): boolean {
  return 'checksReplies' in fetch;
}

let loaded: Promise<{ routePatterns: { route: Route; pattern: RegExp }[]; csvText: z.ZodType; ErrorBody: z.ZodType }> | undefined;

/** Loaded on the first reply from /v1, so test files that never call the API do not load it. */
function describedReplies() {
  loaded ??= Promise.all([import('../../admin/app.js'), import('../../admin/responses.js')]).then(([{ apiRoutes }, { csvText, ErrorBody }]) => ({
    routePatterns: apiRoutes.map((route) => ({ route, pattern: new RegExp(`^${route.path.replace(/[.]/g, '\\.').replace(/:\w+/g, '[^/]+')}$`) })),
    csvText,
    ErrorBody,
  }));
  return loaded;
}

function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
