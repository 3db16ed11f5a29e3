import { assert } from "../raft/assert.ts";

/** One scheduled action. Ties in time run in scheduling order (`seq`), which keeps runs deterministic. */
interface Event {
  readonly time: number;
  readonly seq: number;
  readonly run: () => void;
}

/** A binary min-heap of events ordered by (time, seq): the simulator's only notion of "later". */
export class EventQueue {
  private readonly heap: Event[] = [];
  private seq = 0;
  now = 0;

  size(): number {
    return this.heap.length;
  }

  /** Schedules `run` at `now + delay` (delay >= 0, in simulated milliseconds). */
  schedule(delay: number, run: () => void): void {
    assert(delay >= 0 && Number.isInteger(delay), `bad delay ${delay}`);
    const event: Event = { time: this.now + delay, seq: this.seq++, run };
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent] as Event)) break;
      heap[i] = heap[parent] as Event;
      i = parent;
    }
    heap[i] = event;
  }

  /** Runs the earliest event, advancing `now` to its time; returns false when the queue is empty. */
  runNext(): boolean {
    const heap = this.heap;
    if (heap.length === 0) return false;
    const top = heap[0] as Event;
    const last = heap.pop() as Event;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && before(heap[right] as Event, heap[left] as Event) ? right : left;
        if (!before(heap[child] as Event, last)) break;
        heap[i] = heap[child] as Event;
        i = child;
      }
      heap[i] = last;
    }
    assert(top.time >= this.now, "time went backwards");
    this.now = top.time;
    top.run();
    return true;
  }

  /** The time of the earliest event, or Infinity. */
  peekTime(): number {
    const top = this.heap[0];
    return top === undefined ? Infinity : top.time;
  }
}

function before(a: Event, b: Event): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
