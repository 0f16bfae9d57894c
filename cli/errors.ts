// The CLI's own errors and its exit statuses (docs/cli.md "Exit status"; `netboot --help`).

/**
 * Exit statuses, one table for every command:
 * 0 done; 1 the service refused (it answered with a problem); 2 usage: the command line or its
 * input files (missing, unreadable, not a regular file, empty, not JSON / UTF-8), no URL or token;
 * 3 could not finish: the service or Storage could not be reached, an upload session vanished,
 * or a local step failed (iPXE build tools, a file that changed while read); 130 / 143
 * interrupted by Ctrl-C / SIGTERM (128 + the signal, as shells report it): run it again to resume.
 */
export const EXIT = { ok: 0, problem: 1, usage: 2, io: 3, sigint: 130, sigterm: 143 } as const;

/** The table as `netboot --help` prints it (after the commands). */
export const EXIT_HELP = `Exit status:
  0    done
  1    the service refused: it answered with a problem (printed with what to do)
  2    usage: bad arguments or input files (missing, unreadable, not a regular file,
       empty, not JSON or UTF-8), no NETBOOT_URL / NETBOOT_TOKEN
  3    could not finish: the service or Storage unreachable (after retries), an
       upload session gone, or a local step failed (iPXE build tools, a file
       that changed while it was read)
  130  interrupted (Ctrl-C; 143 SIGTERM): run the same command again to resume

Getting a token: locally  export NETBOOT_TOKEN=$(npm run --silent admin-token)
  in production  export NETBOOT_TOKEN=$(gcloud auth print-identity-token \\
    --audiences=$(terraform -chdir=terraform output -raw admin_token_audience))
`;

/** The command line or its inputs are wrong: exit 2, the message says what to do. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
