import { checkingFetch } from './replyCheck.js';

// Setup file: every test file's requests to /v1 have their replies checked against the document.
globalThis.fetch = checkingFetch(globalThis.fetch);
