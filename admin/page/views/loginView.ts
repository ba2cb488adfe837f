import { html, type Html } from '../html.js';

/** The sign-in form, and how to get a one-time link instead. */
export function loginForm(): Html {
  return html`<div class="card"><h1>Sign in</h1>
  <form method="post" action="/admin/login"><label>Admin token <input name="token" type="password" size="50" autocomplete="off" required></label><button>Sign in</button></form>
  <p class="muted">Or use a one-time link: <code>npm run creditkeeper -- login-link --staff your.name</code></p></div>`;
}
