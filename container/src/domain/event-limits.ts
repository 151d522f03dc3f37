/**
 * Largest single agent event the Worker stores, in bytes of its JSON (`id`, `type` and `ts`
 * included). One definition for both sides of the boundary: the Worker refuses a larger
 * event (`too_large`), and the control server keeps each output line whole up to it,
 * truncating (and counting the truncation) only past it.
 */
export const MAX_EVENT_BYTES = 64 * 1024;
