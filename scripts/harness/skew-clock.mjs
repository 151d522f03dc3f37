/**
 * `node --import scripts/harness/skew-clock.mjs ...`: runs a process (the soak's control
 * server) on a clock HARNESS_CLOCK_SKEW_MS ahead of (or, negative, behind) the machine's,
 * so a test can show token decisions do not depend on the container's clock. The product
 * has no clock switch of its own.
 */
const skew = Number(process.env.HARNESS_CLOCK_SKEW_MS ?? 0) || 0;
if (skew !== 0) {
  const RealDate = Date;
  class SkewedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + skew);
      else super(...args);
    }
    static now() {
      return RealDate.now() + skew;
    }
  }
  globalThis.Date = SkewedDate;
}
