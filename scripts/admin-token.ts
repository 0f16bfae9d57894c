/** `npm run --silent admin-token [email]`: a bearer token the local stack accepts as that admin. */
import { localAdminEmail, mintLocalToken } from '../emulators/local-issuer';

const email = process.argv[2] ?? localAdminEmail;
process.stdout.write(`${mintLocalToken({ email })}\n`);
