import { createGraphClientFactory } from '../../src/adapters/graph/graph-client-factory';
import { GraphGroupGateway } from '../../src/adapters/graph/graph-group-gateway';
import { startSandbox, type SandboxHandle } from '../../src/adapters/sandbox/sandbox-server';
import { sandboxHttpsAgent } from '../../src/adapters/sandbox/sandbox-trust';
import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import type { GroupDeltaItem, MemberChange } from '../../src/domain/group-sync/m365-group-gateway';
import type { GatewayResult } from '../../src/domain/provisioning/m365-user-gateway';
import { ok } from '../../src/domain/result';
import { manualClock } from '../sandbox/sandbox-test-client';

const contoso = sandboxTenants.contoso;

function value<T>(result: GatewayResult<T>): T {
  if (!result.ok) throw new Error(`${result.error.kind} ${result.error.code}: ${result.error.message}`);
  return result.value;
}

describe('GraphGroupGateway against the sandbox tenant', () => {
  const clock = manualClock();
  let sandbox: SandboxHandle;
  let gateway: GraphGroupGateway;
  let userIds: string[];

  beforeAll(async () => {
    sandbox = await startSandbox({ clock });
    const factory = createGraphClientFactory({
      graphBaseUrl: sandbox.url,
      // A fresh token per call: the test moves the sandbox's clock by days.
      tokens: { getAccessToken: async () => ok(sandbox.control.issueToken(contoso.id, contoso.adminUpn).access_token) },
      httpsAgent: sandboxHttpsAgent(),
      retry: { maxRetries: 0, maxRetryAfterMs: 0, defaultDelayMs: 0 },
    });
    const client = factory.forConnection('contoso');
    gateway = new GraphGroupGateway(client, sandbox.url);
    userIds = (await client.get<{ value: { id: string }[] }>('/users?$select=id&$top=5')).value.map((u) => u.id);
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it('creates a security group, finds it by name or mailNickname (quotes escaped), updates, reads and deletes it', async () => {
    const created = value(await gateway.createSecurityGroup({ displayName: "O'Neil Team", mailNickname: 'oneilteam', description: 'First' }));
    expect(created).toMatchObject({ displayName: "O'Neil Team", mailNickname: 'oneilteam', description: 'First', securityEnabled: true, mailEnabled: false, groupTypes: [] });
    expect(value(await gateway.findByNameOrNickname("O'Neil Team", 'nothing-like-it')).map((g) => g.id)).toEqual([created.id]);
    expect(value(await gateway.findByNameOrNickname('Nothing Like It', 'oneilteam')).map((g) => g.id)).toEqual([created.id]);

    expect((await gateway.update(created.id, { displayName: 'Renamed', description: null })).ok).toBe(true);
    expect(value(await gateway.get(created.id))).toMatchObject({ displayName: 'Renamed', mailNickname: 'oneilteam', description: null });

    expect((await gateway.delete(created.id)).ok).toBe(true);
    expect((await gateway.delete(created.id)).ok).toBe(true);
    expect(await gateway.get(created.id)).toEqual({ ok: false, error: expect.objectContaining({ kind: 'not_found' }) });
  });

  it('changes members in one $batch, each change answered on its own', async () => {
    const group = value(await gateway.createSecurityGroup({ displayName: 'Batch Team', mailNickname: 'batchteam' }));
    const [a, b, c] = userIds as [string, string, string];
    expect(value(await gateway.changeMembers(group.id, [{ op: 'add', memberId: a }]))).toEqual([{ change: { op: 'add', memberId: a }, status: 'applied' }]);
    const unknown = '00000000-0000-0000-0000-000000000000';
    const changes: MemberChange[] = [
      { op: 'add', memberId: a },
      { op: 'add', memberId: b },
      { op: 'remove', memberId: c },
      { op: 'add', memberId: unknown },
    ];
    const before = sandbox.control.requests().length;
    expect(value(await gateway.changeMembers(group.id, changes))).toEqual([
      { change: changes[0], status: 'unchanged' },
      { change: changes[1], status: 'applied' },
      { change: changes[2], status: 'unchanged' },
      { change: changes[3], status: 'failed', failure: expect.objectContaining({ kind: 'not_found' }) },
    ]);
    expect(sandbox.control.requests().slice(before).filter((r) => !r.batched)).toHaveLength(1);
    expect(value(await gateway.memberIds(group.id)).sort()).toEqual([a, b].sort());
  });

  it('reads groups/delta: every group with its members first, then only the changes, and an expired link', async () => {
    const group = value(await gateway.createSecurityGroup({ displayName: 'Delta Team', mailNickname: 'deltateam' }));
    const [a, b] = userIds as [string, string];
    value(await gateway.changeMembers(group.id, [{ op: 'add', memberId: a }]));
    const round = async (start: string | undefined) => {
      const items: GroupDeltaItem[] = [];
      let link = start;
      for (;;) {
        const page = value(await gateway.deltaPage(link));
        if (page.kind === 'expired') return { expired: true as const, items };
        items.push(...page.items);
        if (page.nextLink === undefined) return { items, deltaLink: page.deltaLink as string };
        link = page.nextLink;
      }
    };
    const full = await round(undefined);
    expect(full.items.find((g) => g.id === group.id)).toEqual({ id: group.id, removed: false, displayName: 'Delta Team', description: null, membersAdded: [a], membersRemoved: [] });

    value(await gateway.changeMembers(group.id, [{ op: 'add', memberId: b }, { op: 'remove', memberId: a }]));
    expect((await gateway.update(group.id, { displayName: 'Delta Crew' })).ok).toBe(true);
    const changes = await round(full.deltaLink);
    expect(changes.items).toEqual([expect.objectContaining({ id: group.id, displayName: 'Delta Crew', membersAdded: [b], membersRemoved: [a] })]);

    value(await gateway.delete(group.id));
    const deleted = await round(changes.deltaLink);
    expect(deleted.items).toEqual([{ id: group.id, removed: true, membersAdded: [], membersRemoved: [] }]);

    clock.advance(7 * 24 * 3600 * 1000 + 1000);
    expect(await gateway.deltaPage(deleted.deltaLink)).toEqual({ ok: true, value: { kind: 'expired' } });
  });

  it("classifies each throttled member change with its own Retry-After when the tenant's write budget is spent", async () => {
    const group = value(await gateway.createSecurityGroup({ displayName: 'Busy Team', mailNickname: 'busyteam' }));
    const member = userIds[0] as string;
    const again: MemberChange[] = Array.from({ length: 20 }, () => ({ op: 'add', memberId: member }));
    // The documented write budget: 3,000 per 150 s per application and tenant.
    for (let i = 0; i < 150; i += 1) value(await gateway.changeMembers(group.id, again));
    const answers = value(await gateway.changeMembers(group.id, again.slice(0, 2)));
    expect(answers).toEqual([
      { change: again[0], status: 'failed', failure: expect.objectContaining({ kind: 'transient', throttled: true, retryAfterMs: expect.any(Number) }) },
      { change: again[1], status: 'failed', failure: expect.objectContaining({ kind: 'transient', throttled: true }) },
    ]);
  });
});
