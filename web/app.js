import { retryDelayMs } from './lib/policy.js';
import { Session } from './lib/session.js';
import { h, remaining, replace } from './lib/dom.js';
import { signInView } from './views/sign-in.js';
import { townView } from './views/town.js';
import { townsView } from './views/towns.js';

/**
 * The dashboard: a hash router (`#/` towns, `#/towns/<id>` a town) over one Session.
 * The page holds no token: the browser keeps the session cookies and the Session renews
 * them before they expire.
 */
const session = new Session();
const main = document.getElementById('main');
const sessionStatus = document.getElementById('session-status');
const signOut = document.getElementById('sign-out');
const crumbs = document.getElementById('crumbs');
let current = null;
let routedState = null;

function route() {
  current?.destroy();
  current = null;
  routedState = session.state;
  const town = /^#\/towns\/([^/]+)$/.exec(location.hash);
  if (session.state !== 'signed-in') current = signInView(main, session);
  else if (town) current = townView(main, session, decodeURIComponent(town[1]));
  else current = townsView(main, session);
  replace(crumbs, session.state === 'signed-in' && town ? h('a', { href: '#/' }, '← All towns') : '');
}

function showSession() {
  signOut.hidden = session.state !== 'signed-in';
  sessionStatus.dataset.state = session.state;
  sessionStatus.dataset.renewals = String(session.renewals);
  if (session.state !== 'signed-in') {
    replace(sessionStatus, session.state === 'unknown' ? 'Checking the session…' : 'Signed out');
    return;
  }
  const left = session.timing.refreshAt - Date.now();
  const text = session.lastError ? `Session renewal failed (${session.lastError}); retrying` : left > 0 ? `Signed in · session renews in ${remaining(left)}` : 'Signed in · renewing the session…';
  replace(sessionStatus, text);
}

session.addEventListener('change', () => {
  showSession();
  if (session.state !== routedState && session.state !== 'unknown') route();
});
window.addEventListener('hashchange', () => {
  if (session.state !== 'unknown') route();
});
signOut.addEventListener('click', () => session.signOut().catch(() => {}));
// a timer may fire late (sleep, background tab): check on every wake-up too
document.addEventListener('visibilitychange', () => session.check());
window.addEventListener('online', () => session.check());
window.addEventListener('focus', () => session.check());
setInterval(() => {
  session.check();
  showSession();
}, 1000);

async function boot(attempt = 1) {
  try {
    await session.start();
  } catch (err) {
    replace(main, h('p', { class: 'error', role: 'alert' }, `Cannot reach Gastown: ${err}. Retrying…`));
    setTimeout(() => boot(attempt + 1), retryDelayMs(attempt));
  }
}
void boot();
