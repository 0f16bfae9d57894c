import { ApiProblem } from '../api/client';
import { signedInEmail } from '../auth';

/** An API problem where the action was taken: title, detail, the fields it names, when to retry; a 403 explained. */
export function ProblemBox({ problem, action }: { problem: ApiProblem | null; action?: string }) {
  if (!problem) return null;
  const who = signedInEmail();
  return (
    <div class="problem" role="alert">
      <p class="problem-title">
        {action ? `${action}: ` : ''}
        {problem.status ? `${problem.status} ` : ''}
        {problem.title}
      </p>
      <p>{problem.detail}</p>
      {problem.fields.length > 0 && (
        <ul>
          {problem.fields.map((f) => (
            <li key={f.field}>
              <code>{f.field}</code>: {f.reason}
            </li>
          ))}
        </ul>
      )}
      {problem.status === 429 && <p>Too many requests: try again in {problem.retryAfter ?? 'a few'} seconds.</p>}
      {problem.status === 403 && (
        <p>
          You are signed in as <strong>{who ?? 'an unknown principal'}</strong>, who is not an administrator of this service. Only the principals in its ADMIN_PRINCIPALS setting may use the admin API: ask its operator
          to add you, or sign out and sign in as an administrator.
        </p>
      )}
    </div>
  );
}
