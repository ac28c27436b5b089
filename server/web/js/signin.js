// Getting a token: pasted into the form, or exchanged for a development sign-in code that
// arrives in the URL fragment (#sign-in=CODE), which is removed from the URL at once.

import { ApiError, api } from './api.js';
import { say } from './dom.js';

/** Calls `onToken(token)` once a token is at hand. */
export function signIn(onToken) {
  const form = document.getElementById('sign-in-form');
  const input = document.getElementById('token-input');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    input.value = '';
    if (token) onToken(token);
  });

  const fromFragment = () => {
    const match = /^#sign-in=(.+)$/.exec(location.hash);
    if (!match) return;
    history.replaceState(null, '', location.pathname + location.search);
    exchange(decodeURIComponent(match[1]), onToken);
  };
  window.addEventListener('hashchange', fromFragment);
  fromFragment();
}

function exchange(code, onToken) {
  say('Signing in…', 'info');
  api('POST', '/v1/dev/sign-in', { code })
    .then(({ token }) => {
      say('');
      onToken(token);
    })
    .catch((e) => {
      if (e instanceof ApiError && e.status === 404) {
        say('This sign-in link does not work: it was used already, or is older than five minutes, or this server is not in development (sign-in links exist only there). Ask for a new link, or paste a token.');
      } else {
        say(`The sign-in link did not work (${e.message}). It may have been used or expired: ask for a new one, or paste a token.`);
      }
    });
}
