/** What `ADMIN_PRINCIPALS` is matched against: claims of a verified ID token. */
export interface AdminIdentity {
  /** The token's `email`; callers pass it only when `email_verified` is true. */
  email: string;
  /** The token's `hd` (hosted domain) claim: present only for Google Workspace / Cloud Identity accounts. */
  hd?: string;
}

/**
 * `ADMIN_PRINCIPALS`: exact emails, or `@domain` for the accounts of that Google Workspace
 * (Cloud Identity) domain. A domain entry needs BOTH the token's `hd` claim equal to the
 * domain and the email's own domain equal to it: an email suffix alone proves nothing (a
 * consumer Google account may carry any verified email, `x@example.com` included, and has no
 * `hd`), and `alice@sub.example.com` or `alice@evil-example.com` are other domains.
 */
export function isAdmin(identity: AdminIdentity, spec: string): boolean {
  const address = identity.email.trim().toLowerCase();
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return false;
  const emailDomain = address.slice(at + 1);
  const hd = typeof identity.hd === 'string' ? identity.hd.trim().toLowerCase() : undefined;
  return spec
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean)
    .some((entry) => {
      if (!entry.startsWith('@')) return address === entry;
      const domain = entry.slice(1);
      return domain.length > 0 && hd === domain && emailDomain === domain;
    });
}
