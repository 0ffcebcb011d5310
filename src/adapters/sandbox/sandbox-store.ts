/** What the sandbox keeps across restarts; records are plain JSON-able objects. */
export interface StoredTenant {
  readonly id: string;
  readonly json: string;
}

export interface StoredObject {
  readonly tenantId: string;
  readonly kind: 'user' | 'group';
  readonly id: string;
  readonly json: string;
}

export interface StoredMemberEvent {
  readonly tenantId: string;
  readonly groupId: string;
  readonly memberId: string;
  readonly seq: number;
  readonly removed: boolean;
}

export interface StoredSnapshot {
  readonly tenants: StoredTenant[];
  readonly objects: StoredObject[];
  readonly memberEvents: StoredMemberEvent[];
  readonly grants: { readonly id: string; readonly json: string }[];
  readonly meta: Map<string, string>;
}

/** Write-through persistence for the sandbox's state. */
export interface SandboxStore {
  /** False for the memory-only store: callers skip serializing what nobody keeps. */
  readonly persistent: boolean;
  load(): StoredSnapshot;
  saveTenant(tenant: StoredTenant): void;
  saveObject(object: StoredObject): void;
  appendMemberEvent(event: StoredMemberEvent): void;
  saveGrant(id: string, json: string): void;
  saveMeta(key: string, value: string): void;
  /** Runs `work` as one transaction (bulk seeding). */
  transaction(work: () => void): void;
  /** Drops tenants, objects and grants; keeps meta (the signing key). */
  clear(): void;
  close(): void;
}

/** The store used without a data directory: nothing survives the process. */
export const memoryOnlyStore: SandboxStore = {
  persistent: false,
  load: () => ({ tenants: [], objects: [], memberEvents: [], grants: [], meta: new Map() }),
  saveTenant: () => undefined,
  saveObject: () => undefined,
  appendMemberEvent: () => undefined,
  saveGrant: () => undefined,
  saveMeta: () => undefined,
  transaction: (work) => work(),
  clear: () => undefined,
  close: () => undefined,
};
