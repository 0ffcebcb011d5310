import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from '../api/client';
import { href } from '../router';

/** Loads data for a view; reloads when `deps` change or `reload()` is called. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): { data: T | undefined; error: string | undefined; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error: unknown) => live && setState({ data: undefined, error: messageOf(error), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

/** Calls `tick` again `ms` after each render while `active` (a state that changes in the background). */
export function usePoll(active: boolean, tick: () => void, ms = 1000): void {
  useEffect(() => {
    if (!active) return undefined;
    const timer = window.setTimeout(tick, ms);
    return () => window.clearTimeout(timer);
  });
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiFailure) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/** Runs an action with a busy flag and keeps its error message for display. */
export function useAction(): { busy: boolean; error: string | undefined; run: (action: () => Promise<void>) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      return true;
    } catch (failure) {
      setError(messageOf(failure));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(undefined) };
}

export function ErrorNote({ message }: { message: string | undefined }): JSX.Element | null {
  return message === undefined ? null : <p class="note note-error" role="alert">{message}</p>;
}

export function InfoNote({ children }: { children: ComponentChildren }): JSX.Element {
  return <p class="note note-info" role="status">{children}</p>;
}

export function Loading({ what }: { what: string }): JSX.Element {
  return <p class="muted" role="status">Loading {what}…</p>;
}

const badgeTone: Readonly<Record<string, string>> = {
  active: 'ok',
  provisioned: 'ok',
  completed: 'ok',
  imported: 'ok',
  synced: 'ok',
  bound: 'ok',
  new: 'info',
  pending_consent: 'info',
  pending: 'info',
  queued: 'info',
  running: 'info',
  binding: 'info',
  skipped: 'neutral',
  deprovisioned: 'neutral',
  deauthorized: 'neutral',
  suspended: 'neutral',
  unbinding: 'neutral',
  other_connection: 'neutral',
  sync_paused: 'warn',
  conflict: 'warn',
  reauthorization_required: 'bad',
  error: 'bad',
  failed: 'bad',
  create: 'info',
  update: 'info',
  take_over: 'warn',
  disable: 'bad',
  deactivate: 'bad',
  delete: 'bad',
  rename: 'warn',
};

/** A state as a labelled badge; the text carries the meaning, the colour only repeats it. */
export function Badge({ value }: { value: string }): JSX.Element {
  return <span class={`badge badge-${badgeTone[value] ?? 'neutral'}`}>{value.replace(/_/g, ' ')}</span>;
}

/**
 * Server-side paging over opaque cursors: the API gives the next page's cursor, the console keeps the
 * cursors it came through so it can go back. A new `resetKey` (other filters) starts at the first page
 * in the same render, so no request goes out with the old filters' cursor.
 */
export function usePager(resetKey: string): { cursor: string | undefined; page: number; next: (cursor: string) => void; previous: () => void } {
  const [state, setState] = useState<{ key: string; stack: (string | undefined)[] }>({ key: resetKey, stack: [undefined] });
  const current = (s: typeof state): (string | undefined)[] => (s.key === resetKey ? s.stack : [undefined]);
  const stack = current(state);
  return {
    cursor: stack[stack.length - 1],
    page: stack.length,
    next: (cursor) => setState((s) => ({ key: resetKey, stack: [...current(s), cursor] })),
    previous: () => setState((s) => ({ key: resetKey, stack: current(s).length > 1 ? current(s).slice(0, -1) : current(s) })),
  };
}

export function Pager({ label, page, nextCursor, onNext, onPrevious }: { label: string; page: number; nextCursor: string | undefined; onNext: (cursor: string) => void; onPrevious: () => void }): JSX.Element {
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={onPrevious} disabled={page <= 1}>
        Previous
      </button>
      <span aria-live="polite">Page {page}</span>
      <button type="button" onClick={() => nextCursor !== undefined && onNext(nextCursor)} disabled={nextCursor === undefined}>
        Next
      </button>
    </nav>
  );
}

/** A modal confirmation (the browser's own dialog element: focus stays inside, Escape cancels). */
export function Confirm({ title, children, confirmLabel, danger, wide, onConfirm, onCancel, busy, error }: {
  title: string;
  /** Room for a table (a plan). */
  wide?: boolean;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
  error?: string | undefined;
}): JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog !== null && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} class={wide === true ? 'dialog dialog-wide' : 'dialog'} aria-labelledby="confirm-title" onCancel={(event) => { event.preventDefault(); onCancel(); }}>
      <h2 id="confirm-title">{title}</h2>
      <div class="dialog-body">{children}</div>
      <ErrorNote message={error} />
      <div class="actions">
        <button type="button" class={danger === true ? 'danger' : 'primary'} onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </button>
        <button type="button" onClick={onCancel} autofocus>
          Cancel
        </button>
      </div>
    </dialog>
  );
}

export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }): JSX.Element {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint === undefined ? null : <span class="field-hint">{hint}</span>}
    </label>
  );
}

export function Table({ caption, head, children, empty }: { caption: string; head: readonly string[]; children: ComponentChildren; empty?: string | undefined }): JSX.Element {
  return (
    // Focusable so a keyboard can scroll a wide table; named apart from the section that holds it.
    <div class="table-wrap" tabIndex={0} role="region" aria-label={`${caption} (table)`}>
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {head.map((h) => (
              <th scope="col" key={h}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
      {empty === undefined ? null : <p class="muted empty">{empty}</p>}
    </div>
  );
}

/** An email may wrap after its `@` (a narrow column shows the local part over the domain), nowhere else. */
function withBreakAfterAt(text: string): ComponentChildren {
  const at = text.indexOf('@');
  return at < 0 ? text : <>{text.slice(0, at + 1)}<wbr />{text.slice(at + 1)}</>;
}

/**
 * A user or group a table row is about: linked by what an admin knows it by (a user's email, a
 * group's name) with `detail` (a display name) under it; by its id once the directory no longer has it.
 */
export function DirectoryLink({ page, id, label, detail }: { page: 'users' | 'groups'; id: string; label: string | undefined; detail?: string | undefined }): JSX.Element {
  if (label === undefined) return <a href={href(page, id)}>{id}</a>;
  return (
    <>
      <a href={href(page, id)} class="subject">{withBreakAfterAt(label)}</a>
      {detail === undefined || detail === label ? null : <span class="subject-detail">{detail}</span>}
    </>
  );
}
