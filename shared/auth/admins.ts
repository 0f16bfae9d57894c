import type { IncomingMessage } from 'node:http';
import { authenticateAdmin, type AdminAuthConfig, type Principal } from './verify';

/** Who may administer, under one configuration: 401 without a valid identity, 403 for one that may not. */
export class AdminAuthenticator {
  constructor(private readonly config: AdminAuthConfig) {}

  authenticate(req: IncomingMessage): Promise<Principal> {
    return authenticateAdmin(req, this.config);
  }
}
