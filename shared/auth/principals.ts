/** `ADMIN_PRINCIPALS`: exact emails, or `@domain` for every verified email of that domain. */
export function isAdmin(email: string, spec: string): boolean {
  const address = email.toLowerCase();
  return spec
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean)
    .some((entry) => (entry.startsWith('@') ? address.endsWith(entry) : address === entry));
}
