/**
 * The soak's Worker: the product exactly, except that the TownDO's alarm is wrapped by a
 * harness subclass that throws before the product runs, in HARNESS_ALARM_THROW_PERCENT of
 * passes. The runtime then retries the alarm as it would after any failure. The product
 * has no fault switch of its own.
 */
import worker, { TownContainer, TownDirectory, TownDO as ProductTownDO } from '../../src/index';

interface HarnessEnv {
  HARNESS_ALARM_THROW_PERCENT?: string;
}

export class TownDO extends ProductTownDO {
  override async alarm(): Promise<void> {
    const percent = Number((this.env as unknown as HarnessEnv).HARNESS_ALARM_THROW_PERCENT ?? 0);
    if (Math.random() * 100 < percent) throw new Error('harness: injected alarm fault');
    return super.alarm();
  }
}

export { TownContainer, TownDirectory };
export default worker;
