import { render, type JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import './styles.css';
import { signOut, useSession, type Session } from './session';
import { href, useRoute } from './router';
import { SignIn } from './pages/sign-in';
import { ConnectionsPage } from './pages/connections';
import { ConnectionPage } from './pages/connection';
import { ImportPage } from './pages/import';
import { UsersPage } from './pages/users';
import { UserPage } from './pages/user';
import { GroupsPage } from './pages/groups';
import { GroupPage } from './pages/group';
import { ActivityPage } from './pages/activity';
import { ReconcilePage } from './pages/reconcile';
import { HeldPage } from './pages/held';
import { DeadLettersPage } from './pages/dead-letters';

const sections = [
  { path: 'connections', label: 'Connections' },
  { path: 'import', label: 'Import' },
  { path: 'users', label: 'Users' },
  { path: 'groups', label: 'Groups' },
  { path: 'activity', label: 'Activity' },
  { path: 'reconcile', label: 'Reconcile' },
  { path: 'held', label: 'Held changes' },
  { path: 'dead-letters', label: 'Dead letters' },
] as const;

function Page({ session }: { session: Session }): JSX.Element {
  const route = useRoute();
  const [section = 'connections', id] = route.segments;
  const canWrite = session.role === 'admin';
  switch (section) {
    case 'connections':
      return id === undefined ? <ConnectionsPage canWrite={canWrite} /> : <ConnectionPage id={id} canWrite={canWrite} />;
    case 'import':
      return <ImportPage canWrite={canWrite} query={route.query} />;
    case 'users':
      return id === undefined ? <UsersPage canWrite={canWrite} query={route.query} /> : <UserPage id={id} canWrite={canWrite} />;
    case 'groups':
      return id === undefined ? <GroupsPage canWrite={canWrite} query={route.query} /> : <GroupPage id={id} canWrite={canWrite} />;
    case 'activity':
      return <ActivityPage query={route.query} />;
    case 'reconcile':
      return <ReconcilePage canWrite={canWrite} query={route.query} />;
    case 'held':
      return <HeldPage canWrite={canWrite} query={route.query} />;
    case 'dead-letters':
      return <DeadLettersPage canWrite={canWrite} query={route.query} />;
    default:
      return (
        <>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            There is no page here. <a href={href('connections')}>Go to the connections</a>.
          </p>
        </>
      );
  }
}

function Shell({ session }: { session: Session }): JSX.Element {
  const route = useRoute();
  const section = route.segments[0] ?? 'connections';
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // After moving to another page (not on the first load), focus goes to the page's heading, so keyboard
  // and screen reader users start there instead of on the link they followed.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    window.setTimeout(() => main.current?.querySelector<HTMLElement>('h1')?.focus(), 0);
  }, [route.segments.join('/')]);
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); main.current?.querySelector<HTMLElement>('h1')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">m365-bridge</span>
        <span class="role">{session.role === 'admin' ? 'Admin' : 'Read-only'}</span>
        <button type="button" class="link" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <div class="layout">
        <nav class="side" aria-label="Console">
          <ul>
            {sections.map((s) => (
              <li key={s.path}>
                <a href={href(s.path)} aria-current={s.path === section ? 'page' : undefined}>
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" ref={main}>
          {session.role === 'reader' ? <p class="note note-info">Signed in with a reader key: this console is read-only.</p> : null}
          <Page session={session} />
        </main>
      </div>
    </>
  );
}

function App(): JSX.Element {
  const { session, reason } = useSession();
  return session === undefined ? <SignIn reason={reason} /> : <Shell session={session} />;
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
