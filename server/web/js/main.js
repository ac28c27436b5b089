// Start-up: get a token, read its role (display only; the server decides everything), and
// show that role's view. Signing out forgets the token.

import { claims, setToken } from './api.js';
import { $, say } from './dom.js';
import { signIn } from './signin.js';
import { Socket } from './socket.js';
import { memberView } from './member.js';
import { moderatorView } from './moderation.js';
import { auditorView } from './audit.js';

const LABELS = { online: 'Online', reconnecting: 'Reconnecting…', offline: 'Offline' };
let session = null;

function showState({ state, why }) {
  const el = $('[data-testid=connection-state]');
  el.dataset.state = state;
  el.textContent = why === 'connecting' ? 'Connecting…' : LABELS[state];
}

function signOut(message = '') {
  clearTimeout(session?.expiry);
  session?.socket?.stop();
  session?.view?.remove();
  session = null;
  setToken(null);
  $('#who').hidden = true;
  $('#sign-out').hidden = true;
  $('#sign-in').hidden = false;
  showState({ state: 'offline' });
  say(message);
  $('#token-input').focus();
}

function start(token) {
  let payload;
  try {
    payload = claims(token);
  } catch (e) {
    say(`That does not look like a token: ${e.message}.`);
    return;
  }
  if (session) signOut();
  setToken(token);
  const role = payload.role;
  const user = payload.sub;
  const mount = { member: memberView, moderator: moderatorView, auditor: auditorView }[role];
  if (!mount) {
    setToken(null);
    say(`This page is for members, moderators and auditors; a ${role || 'token without a'} role has nothing to show here.`);
    return;
  }
  say('');
  $('#sign-in').hidden = true;
  const who = $('#who');
  who.textContent = `${user} (${role})`;
  who.hidden = false;
  $('#sign-out').hidden = false;
  const socket = role === 'auditor' ? null : new Socket(token);
  const own = { socket };
  session = own;
  socket?.on('state', showState);
  socket?.on('ended', ({ reason }) =>
    signOut(`Your session ended (${reason}). Sign in again with a new token.`),
  );
  session.view = mount({ user, socket });
  $('#main').append(session.view);
  socket?.start();
  if (payload.exp) {
    const left = payload.exp * 1000 - Date.now();
    if (left > 0 && left < 2 ** 31) {
      // Bound to this session (an auditor's has no socket to tell sessions apart by).
      own.expiry = setTimeout(() => session === own && signOut('Your token expired. Sign in again.'), left);
    }
  }
}

$('#sign-out').addEventListener('click', () => signOut());
// Leaving with messages not yet acknowledged would lose them: ask first.
window.addEventListener('beforeunload', (e) => {
  if (session?.socket?.outbox.size) {
    e.preventDefault();
    e.returnValue = '';
  }
});
signIn(start);
