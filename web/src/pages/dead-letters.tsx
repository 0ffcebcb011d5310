import type { JSX } from 'preact';

export function DeadLettersPage(): JSX.Element {
  return (
    <>
      <h1 tabIndex={-1}>Dead letters</h1>
      <p class="note note-info">
        The admin API does not list dead-lettered messages yet, so the console cannot show them. Until it does, a binding whose work was dead-lettered shows its last error on the user's
        page and in the connection's bindings (state error).
      </p>
    </>
  );
}
