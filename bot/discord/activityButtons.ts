/**
 * An /activity button's custom id carries the filter, the cursor and any other account, so paging keeps no
 * state and survives a restart.
 */
const prefix = 'activity';
const separator = '|';
/** Discord's limit for a custom id. */
const maxCustomIdLength = 100;

export interface ActivityPageRequest {
  filter: string;
  page: string;
  account?: string;
}

/** The button's custom id, or null when it cannot fit (a very long account name): then no button. */
export function activityButtonId(request: ActivityPageRequest): string | null {
  const id = [prefix, request.filter, request.page, request.account ?? ''].join(separator);
  return id.length <= maxCustomIdLength ? id : null;
}

export function parseActivityButtonId(customId: string): ActivityPageRequest | null {
  const [head, filter, page, ...account] = customId.split(separator);
  if (head !== prefix || !filter || !page) return null;
  const rest = account.join(separator);
  return { filter, page, ...(rest && { account: rest }) };
}
