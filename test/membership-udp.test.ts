// Membership over real UDP sockets on 127.0.0.1 with a gossip key: five instances in this process form
// a group from one seed address and see a role change, an abruptly closed one is detected, a leave is
// seen as left, and a sender with the wrong key (or none) is dropped unread.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test, type TestContext } from "node:test";
import { ClusterUnavailableError, InvalidArgumentError } from "../src/errors.ts";
import { localGossipConfig } from "../src/membership/gossip-config.ts";
import type { MemberState, MembershipEvent } from "../src/membership/member.ts";
import { Membership } from "../src/membership/membership.ts";
import { cleanup } from "./support/cleanup.ts";
import { waitUntil } from "./support/wait-until.ts";

/** Every survivor must probe the failed member and wait out its suspicion; generous for a loaded machine. */
const DETECT_BOUND_MS = 15_000;

interface Started {
  readonly membership: Membership;
  readonly name: string;
  readonly events: MembershipEvent[];
}

async function startMember(t: TestContext, name: string, key: Buffer | undefined): Promise<Started> {
  const membership = await Membership.start({ name, address: "127.0.0.1:0", role: "voter", bindHost: "127.0.0.1", key, config: localGossipConfig });
  cleanup(t, () => membership.close());
  const events: MembershipEvent[] = [];
  membership.subscribe((event) => events.push(event));
  return { membership, name, events };
}

/** Five members, the last four joined through the first one's address (after one that is dead). */
async function startGroup(t: TestContext, key: Buffer): Promise<Started[]> {
  const group: Started[] = [];
  for (let i = 0; i < 5; i++) group.push(await startMember(t, `m${i}`, key));
  const seed = group[0]!.membership.address;
  // The first address answers nothing: join tries every address it is given, and any one suffices.
  const answered = await Promise.all(group.slice(1).map((m) => m.membership.join(["127.0.0.1:1", seed])));
  assert.deepEqual(new Set(answered), new Set([seed]));
  await waitUntil("all five see each other alive", () => everyoneSees(group, group, "alive"));
  return group;
}

function everyoneSees(observers: readonly Started[], of: readonly Started[], state: MemberState): boolean {
  return observers.every((o) => of.every((m) => o.membership.members().find((v) => v.name === m.name)?.state === state));
}

function eventTypesAbout(observer: Started, name: string): string[] {
  return observer.events.flatMap((e) => ("member" in e && e.member.name === name ? [e.type] : []));
}

describe("membership over UDP", () => {
  const key = randomBytes(32);

  test("five members form a group from one seed address", async (t) => {
    const group = await startGroup(t, key);
    for (const m of group) assert.equal(m.membership.members().length, 5);
    assert.equal(group[0]!.membership.stats().transport.droppedUnauthenticated, 0);
    group[1]!.membership.setRole("learner");
    await waitUntil("everyone sees m1 as a learner", () => group.every((m) => m.membership.members().find((v) => v.name === "m1")?.role === "learner"));
    for (const m of group.filter((m) => m.name !== "m1")) assert.ok(eventTypesAbout(m, "m1").includes("updated"));
  });

  test("an identity over its limits is refused before anything binds", async () => {
    const start = (name: string, address: string) => Membership.start({ name, address, role: "voter", bindHost: "127.0.0.1", key });
    await assert.rejects(start("x".repeat(64), "127.0.0.1:0"), InvalidArgumentError);
    await assert.rejects(start("m", "127.0.0.1"), InvalidArgumentError);
    await assert.rejects(start("m", "127.0.0.1:65536"), InvalidArgumentError);
  });

  test("a member closed abruptly goes suspect, then dead, for every survivor", async (t) => {
    const group = await startGroup(t, key);
    const victim = group[4]!;
    const survivors = group.slice(0, 4);
    const started = Date.now();
    await victim.membership.close();
    await waitUntil("every survivor sees m4 dead", () => everyoneSees(survivors, [victim], "dead"), DETECT_BOUND_MS);
    t.diagnostic(`detected by all survivors in ${Date.now() - started} ms`);
    assert.ok(survivors.some((s) => eventTypesAbout(s, "m4").includes("suspect")));
    for (const s of survivors) assert.ok(!eventTypesAbout(s, "m4").includes("left"));
  });

  test("a member that leaves is seen as left, not dead", async (t) => {
    const group = await startGroup(t, key);
    const leaver = group[2]!;
    const others = group.filter((m) => m !== leaver);
    await leaver.membership.leave();
    await waitUntil("everyone sees m2 left", () => everyoneSees(others, [leaver], "left"), DETECT_BOUND_MS);
    for (const o of others) assert.ok(!eventTypesAbout(o, "m2").includes("dead"));
  });

  test("datagrams from a sender with the wrong key, or none, are dropped", async (t) => {
    const group = await startGroup(t, key);
    const seed = group[0]!.membership.address;
    for (const [name, wrongKey] of [["intruder", randomBytes(32)], ["plain", undefined]] as const) {
      const outsider = await startMember(t, name, wrongKey);
      await assert.rejects(outsider.membership.join([seed], 1_000), ClusterUnavailableError);
      assert.equal(outsider.membership.members().length, 1);
    }
    assert.ok(group[0]!.membership.stats().transport.droppedUnauthenticated >= 2);
    for (const m of group) assert.ok(m.membership.members().every((v) => v.name.startsWith("m")));
  });
});
