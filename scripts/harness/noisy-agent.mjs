/**
 * An agent that prints what agents no one here wrote print: among normal JSON events,
 * lines of ~15 KB, a 20 KB JSON reply, a 200 KB line, JSON that is not an object, objects
 * with a wrong `type`, broken JSON and plain text. One line every NOISY_STEP_MS (default
 * 250) until its stdin closes. Run by the soak with a `command`, so the control server and
 * the Worker must keep every line (as an event of its own, or as `output`; the 200 KB line
 * stored truncated to one event's limit, and counted `truncated`).
 */
const step = Number(process.env.NOISY_STEP_MS ?? 250);
const shapes = [
  (n) => JSON.stringify({ type: 'progress', n }),
  (n) => JSON.stringify({ type: 'log', n, text: 'x'.repeat(15_000) }),
  (n) => `[${n}, "an array is not an event object"]`,
  (n) => JSON.stringify({ type: '', n }),
  (n) => JSON.stringify({ type: 42, n }),
  (n) => `{"type": "truncated", "n": ${n}`,
  (n) => `plain text line ${n} ${'é'.repeat(2_000)}`,
  (n) => JSON.stringify({ type: 'z'.repeat(150), n }),
  (n) => JSON.stringify({ type: 'reply', n, text: 'r'.repeat(20_000) }),
  (n) => `${n} ${'w'.repeat(200_000)}`,
];
let n = 0;
const timer = setInterval(() => {
  process.stdout.write(`${shapes[n % shapes.length](n)}\n`);
  n++;
}, step);
process.stdin.resume();
process.stdin.on('end', () => {
  clearInterval(timer);
  process.exit(0);
});
