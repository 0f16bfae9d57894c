import { defineFunction } from '../../shared/http/function';
import { noStore, sendEmpty } from '../../shared/http/respond';

// Alive means this process answers: a Firestore or Storage outage is not fixed by a restart.
export const healthLiveness = defineFunction('healthLiveness', () => async ({ res }) => {
  res.setHeader('Cache-Control', noStore);
  sendEmpty(res, 200);
});
