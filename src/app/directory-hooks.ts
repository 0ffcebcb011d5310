import type { DirectoryChange, DirectoryHooks } from '../domain/directory/directory-hooks';
import type { Logger } from '../domain/ports/logger';
import { ok } from '../domain/result';

/** The directory hooks of the process: every registered listener takes part, none by default. */
export interface DirectoryHookRegistry extends DirectoryHooks {
  /** Adds listeners (any subset of the hooks) at wiring time; returns a function that removes them. */
  register(hooks: Partial<DirectoryHooks>): () => void;
}

/**
 * With nothing registered, changes go unheard, every email change is allowed and passwords are
 * handed to no one. A listener that throws from `onChange` is logged and skipped, since the change
 * it hears about is already committed; the reconciler is what repairs a missed nudge.
 */
export function createDirectoryHooks(logger: Logger): DirectoryHookRegistry {
  const listeners: Partial<DirectoryHooks>[] = [];
  return {
    register(hooks) {
      listeners.push(hooks);
      return () => {
        const index = listeners.indexOf(hooks);
        if (index >= 0) listeners.splice(index, 1);
      };
    },
    async onChange(change: DirectoryChange) {
      for (const listener of [...listeners]) {
        try {
          await listener.onChange?.(change);
        } catch (error) {
          logger.error('directory change listener failed', { changeType: change.type, error });
        }
      }
    },
    async checkEmailChange(user, newEmail) {
      for (const listener of [...listeners]) {
        const verdict = await listener.checkEmailChange?.(user, newEmail);
        if (verdict !== undefined && !verdict.ok) return verdict;
      }
      return ok(undefined);
    },
    async handOffPassword(userId, password) {
      for (const listener of [...listeners]) await listener.handOffPassword?.(userId, password);
    },
  };
}
