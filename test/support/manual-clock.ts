import type { Clock } from '../../src/domain/ports/clock';

/** A clock the test moves by hand, from the start it is given. */
export class ManualClock implements Clock {
  ms: number;

  constructor(start: Date | number) {
    this.ms = typeof start === 'number' ? start : start.getTime();
  }

  now(): Date {
    return new Date(this.ms);
  }

  advance(ms: number): void {
    this.ms += ms;
  }
}
